package stream

import (
	"encoding/binary"
	"fmt"

	"github.com/phicrypt/phicrypt/internal/alias"
)

// NonFramedLength returns the length of the legacy non-framed body at the
// start of body, IV (12) | content length (8) | ciphertext | tag (16),
// from its declared content length alone: a length above max (at most
// MaxNonFramedLength) fails with ErrMalformedBody, a body shorter than it
// declares with ErrTruncated. Nothing is authenticated or allocated.
func NonFramedLength(body []byte, max int64) (int, error) {
	if len(body) < singleHdr {
		return 0, fmt.Errorf("stream: non-framed body header: %w", ErrTruncated)
	}
	n := binary.BigEndian.Uint64(body[ivLen:singleHdr])
	if limit := min(max, MaxNonFramedLength); n > uint64(limit) {
		return 0, fmt.Errorf("stream: non-framed body of %d bytes exceeds the limit of %d: %w", n, limit, ErrMalformedBody)
	}
	// n <= 2^36: no sum below overflows.
	if uint64(len(body)-singleHdr) < n+tagLen {
		return 0, fmt.Errorf("stream: non-framed body of %d bytes in %d: %w", n, len(body)-singleHdr, ErrTruncated)
	}
	return singleHdr + int(n) + tagLen, nil
}

// OpenNonFramed authenticates and decrypts the legacy non-framed body at
// the start of body (see NonFramedLength, whose checks it makes first),
// appending the plaintext to dst straight from body: memory is the
// plaintext's alone, allocated only once the body's length is known to be
// within max and within body. It returns the extended dst and the length
// of the body (body may continue with a footer); on any error it returns
// no plaintext and zeroes what it appended. Config.FrameLength and
// Config.Workers are not used; body is not modified.
func OpenNonFramed(dst, body []byte, cfg Config, max int64) ([]byte, int, error) {
	cfg.FrameLength, cfg.Workers = 1, 1 // unused; satisfy check
	if err := cfg.check(); err != nil {
		return nil, 0, err
	}
	if alias.SpareOverlaps(dst, body) {
		return nil, 0, ErrBufferOverlap
	}
	size, err := NonFramedLength(body, max)
	if err != nil {
		return nil, 0, err
	}
	f := frame{seq: 1, kind: singleBlock, n: size - singleHdr - tagLen}
	start := len(dst)
	out := grow(dst, start+f.n, start)
	aad := make([]byte, 0, aadCap)
	if _, err := cfg.keyed().open(out[start:start], body[singleHdr:size], f.iv(body), f, aad); err != nil {
		clear(out[start:])
		return nil, 0, err
	}
	return out, size, nil
}
