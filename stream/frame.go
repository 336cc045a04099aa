package stream

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math"
)

const (
	// MaxFrameLength is the largest frame length the format allows.
	MaxFrameLength = math.MaxUint32

	// MaxFrames is the largest number of frames in one body, the final
	// frame included.
	MaxFrames = math.MaxUint32

	ivLen  = 12
	tagLen = 16

	// RegularOverhead and FinalOverhead are the bytes a frame adds to its
	// plaintext.
	RegularOverhead = 4 + ivLen + tagLen
	FinalOverhead   = 4 + 4 + ivLen + 4 + tagLen

	finalMarker = math.MaxUint32

	// finalHdr is the final frame's header: marker | seq | IV | length.
	// A regular frame's header (seq | IV) is its last 16 bytes.
	finalHdr   = 4 + 4 + ivLen + 4
	regularHdr = 4 + ivLen

	// eagerAlloc bounds what is allocated for a frame before its bytes
	// arrive: a header may declare a 4 GiB frame, but memory follows the
	// input.
	eagerAlloc = 1 << 20
)

const (
	frameString  = "AWSKMSEncryptionClient Frame"
	finalString  = "AWSKMSEncryptionClient Final Frame"
	singleString = "AWSKMSEncryptionClient Single Block"
)

// Config describes one message body.
type Config struct {
	// AEAD is AES-GCM under the message's derived data key, with a 12-byte
	// nonce and a 16-byte tag. It is used from several goroutines at once,
	// as the crypto/cipher AES-GCM allows.
	AEAD cipher.AEAD

	// MessageID is the header's message ID: 16 bytes (v1) or 32 (v2).
	MessageID []byte

	// FrameLength is the plaintext length of every regular frame,
	// 1 to MaxFrameLength.
	FrameLength int

	// Workers is the number of goroutines that seal or open frames: 0 means
	// runtime.GOMAXPROCS(0), 1 seals and opens in the calling goroutine.
	// The output is the same for any value.
	Workers int

	// Final, if not nil, is called by a Reader once the final frame has
	// authenticated and before its plaintext is released. An error from
	// Final is returned by Read and the final frame is never released.
	// envelope uses it to read and verify the footer.
	Final func() error
}

func (c *Config) check() error {
	if c.AEAD == nil || c.AEAD.NonceSize() != ivLen || c.AEAD.Overhead() != tagLen {
		return fmt.Errorf("stream: AEAD must be AES-GCM with a 12-byte nonce and a 16-byte tag: %w", ErrInvalidConfig)
	}
	if n := len(c.MessageID); n != 16 && n != 32 {
		return fmt.Errorf("stream: message ID of %d bytes, want 16 or 32: %w", n, ErrInvalidConfig)
	}
	if c.FrameLength < 1 || int64(c.FrameLength) > MaxFrameLength {
		return fmt.Errorf("stream: frame length %d outside 1..%d: %w", c.FrameLength, int64(MaxFrameLength), ErrInvalidConfig)
	}
	return nil
}

// frameIV writes the IV of frame seq into iv: 8 zero bytes and seq.
func frameIV(iv []byte, seq uint32) {
	clear(iv[:ivLen-4])
	binary.BigEndian.PutUint32(iv[ivLen-4:], seq)
}

// bodyAAD returns the additional data of one frame, built in buf.
func bodyAAD(buf, msgID []byte, content string, seq uint32, n uint64) []byte {
	buf = append(buf[:0], msgID...)
	buf = append(buf, content...)
	buf = binary.BigEndian.AppendUint32(buf, seq)
	return binary.BigEndian.AppendUint64(buf, n)
}

// aadCap is the capacity a bodyAAD buffer needs.
const aadCap = 32 + len(singleString) + 4 + 8

// keyed is what the workers need: the key and the message ID. It holds no
// reference to the Reader or Writer that owns the workers.
type keyed struct {
	aead  cipher.AEAD
	msgID []byte
}

// grow returns b with length n and its first keep bytes intact.
func grow(b []byte, n, keep int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	g := make([]byte, n)
	copy(g, b[:min(keep, cap(b))])
	return g
}
