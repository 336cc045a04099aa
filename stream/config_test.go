package stream

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"testing"
)

func TestInvalidConfig(t *testing.T) {
	block, _ := aes.NewCipher(make([]byte, 32))
	gcm, _ := cipher.NewGCM(block)
	short, _ := cipher.NewGCMWithNonceSize(block, 16)
	id := make([]byte, 32)
	for name, cfg := range map[string]Config{
		"nil AEAD":          {MessageID: id, FrameLength: 16},
		"16-byte nonce":     {AEAD: short, MessageID: id, FrameLength: 16},
		"20-byte ID":        {AEAD: gcm, MessageID: make([]byte, 20), FrameLength: 16},
		"frame length 0":    {AEAD: gcm, MessageID: id},
		"frame length 2^32": {AEAD: gcm, MessageID: id, FrameLength: MaxFrameLength + 1},
	} {
		_, err1 := NewWriter(new(bytes.Buffer), cfg)
		_, err2 := NewReader(new(bytes.Buffer), cfg)
		_, err3 := Seal(nil, []byte("x"), cfg)
		for _, err := range []error{err1, err2, err3} {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
			}
		}
	}
}
