package stream

import "errors"

var (
	// ErrAuthentication reports a frame whose GCM tag did not verify: the
	// wrong key, or a changed, reordered or substituted frame.
	ErrAuthentication = errors.New("authentication failed")

	// ErrTruncated reports a body that ended before its final frame.
	ErrTruncated = errors.New("message truncated")

	// ErrMalformedBody reports a frame that cannot be parsed: an
	// out-of-order sequence number or a final-frame length greater than
	// the frame length.
	ErrMalformedBody = errors.New("malformed message body")

	// ErrTooManyFrames reports a body that would need more than 2^32-1 frames.
	ErrTooManyFrames = errors.New("too many frames")

	// ErrInvalidConfig reports a Config that cannot be used: no AES-GCM
	// AEAD, a message ID of the wrong length, a frame length out of range.
	ErrInvalidConfig = errors.New("invalid stream configuration")

	// ErrBufferOverlap reports a one-shot call whose dst has spare
	// capacity (dst[len(dst):cap(dst)]) overlapping its input: the output
	// would overwrite input not yet read. Nothing is written.
	ErrBufferOverlap = errors.New("output buffer overlaps the input")
)
