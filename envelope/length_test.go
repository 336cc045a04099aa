package envelope_test

import (
	"fmt"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestMessageLength: a header tells the length of the message it begins
// from the plaintext length, and back, for every suite it writes.
func TestMessageLength(t *testing.T) {
	kr := aesKeyring(t)
	for _, id := range writableSuites() {
		for _, frame := range []int{1, 7, 4096} {
			for _, n := range []int{0, 1, frame - 1, frame, frame + 1, 3*frame + 2} {
				t.Run(fmt.Sprintf("%s/frame=%d/size=%d", id, frame, n), func(t *testing.T) {
					c := newClient(t, kr, id, envelope.WithFrameLength(frame))
					ct, err := c.Encrypt(t.Context(), testPlaintext(n), nil)
					if err != nil {
						t.Fatal(err)
					}
					_, h, err := c.Decrypt(t.Context(), ct)
					if err != nil {
						t.Fatal(err)
					}
					if got, err := h.MessageLength(int64(n)); err != nil || got != int64(len(ct)) {
						t.Errorf("MessageLength(%d) = %d, %v; want %d", n, got, err, len(ct))
					}
					if got, err := h.PlaintextLength(int64(len(ct))); err != nil || got != int64(n) {
						t.Errorf("PlaintextLength(%d) = %d, %v; want %d", len(ct), got, err, n)
					}
				})
			}
		}
	}
}
