package envelope

import (
	"errors"
	"fmt"

	"github.com/phicrypt/phicrypt/stream"
)

// DefaultMaxFrameLength is the largest frame length DecryptReader and
// DecryptReaderAt accept unless WithMaxFrameLength says otherwise. A frame
// is authenticated whole, so a reader buffers it whole: up to two frames
// per worker, 32 MiB × workers at this limit. 16 MiB is 256 times the
// default frame length and 4096 times the official SDKs'; longer frames
// save nothing measurable (32 bytes of 16 MiB).
const DefaultMaxFrameLength = 16 << 20

// ErrFrameTooLong reports a message whose frame length exceeds the limit
// of a streaming reader (WithMaxFrameLength).
var ErrFrameTooLong = errors.New("frame length exceeds the limit")

// WithMaxFrameLength sets the largest frame length, 1 to 2^32-1, that
// DecryptReader and DecryptReaderAt accept (default
// DefaultMaxFrameLength); a longer one fails with ErrFrameTooLong once the
// header authenticated, before any frame is read. Decrypt, whose message
// is already in memory, needs no limit: given to it, the option fails the
// call with ErrInvalidOption. Raising it lets whoever writes a
// message make a reader hold up to two frames of this length per worker
// (their memory still grows only with the bytes received).
func WithMaxFrameLength(n int) DecryptOption {
	return decryptOption(func(c *config) {
		c.use("WithMaxFrameLength", callDecryptReader|callDecryptReaderAt)
		c.maxFrameLength = int64(n)
	})
}

func (c *config) checkMaxFrameLength() error {
	if c.maxFrameLength < 1 || c.maxFrameLength > stream.MaxFrameLength {
		return fmt.Errorf("envelope: maximum frame length %d outside 1..%d: %w", c.maxFrameLength, int64(stream.MaxFrameLength), ErrInvalidOption)
	}
	return nil
}

// checkFrameLength refuses, for a streaming reader, an authenticated
// header whose frame length exceeds the maximum.
func checkFrameLength(h *Header, max int64) error {
	if int64(h.FrameLength) > max {
		return fmt.Errorf("envelope: frame length %d exceeds the limit of %d for streaming decryption (WithMaxFrameLength): %w", h.FrameLength, max, ErrFrameTooLong)
	}
	return nil
}
