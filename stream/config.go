package stream

import (
	"crypto/cipher"
	"fmt"
	"io"
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
	// With W > 1 a Reader or Writer starts W-1 goroutines and the calling
	// goroutine is the W-th: whenever it would wait for a frame it seals or
	// opens the oldest frames no goroutine has started. The output is the
	// same for any value.
	Workers int

	// Final, if not nil, is called by a Reader once the final frame has
	// authenticated and before its plaintext is released. An error from
	// Final is returned by Read and the final frame is never released.
	// envelope uses it to read and verify the footer.
	Final func() error

	// ReadPast lets a framed Reader read its source in chunks of up to
	// 256 KiB and open frames where they landed, rather than reading each
	// frame into a buffer of its own and never past the body: the bytes it
	// read past the final frame are then returned by Reader.Rest. It still
	// calls Read only for bytes the body is known to hold, so a 1-worker
	// Reader releases each frame before it waits for the next.
	ReadPast bool

	// Tee, if not nil, is given every byte of the body a Reader parses, in
	// order, before the frame they belong to is opened, and nothing past
	// the body, whatever ReadPast. envelope hashes a signed body with it.
	Tee io.Writer

	// Buffers, if not nil, lends the Reader or Writer its large buffers and
	// takes them back, zeroed, once it is done with them (see Buffers).
	// Streams that share one reuse each other's memory.
	Buffers *Buffers
}

func (c *Config) check() error {
	if c.AEAD == nil || c.AEAD.NonceSize() != ivLen || c.AEAD.Overhead() != tagLen {
		return fmt.Errorf("stream: AEAD must be AES-GCM with a 12-byte nonce and a 16-byte tag: %w", ErrInvalidConfig)
	}
	if n := len(c.MessageID); n != 16 && n != 32 {
		return fmt.Errorf("stream: message ID of %d bytes, want 16 or 32: %w", n, ErrInvalidConfig)
	}
	if c.Workers < 0 || c.Workers > MaxWorkers {
		return fmt.Errorf("stream: %d workers, want 0..%d: %w", c.Workers, MaxWorkers, ErrInvalidConfig)
	}
	return checkFrameLength(c.FrameLength)
}

func checkFrameLength(F int) error {
	if F < 1 || int64(F) > MaxFrameLength {
		return fmt.Errorf("stream: frame length %d outside 1..%d: %w", F, int64(MaxFrameLength), ErrInvalidConfig)
	}
	return nil
}

// keyed is what the workers need: the key and the message ID. It holds no
// reference to the Reader or Writer that owns the workers.
type keyed struct {
	aead  cipher.AEAD
	msgID []byte
}

func (c *Config) keyed() keyed { return keyed{c.AEAD, c.MessageID} }
