package envelope_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestKeyringsRoundTrip: raw AES, raw RSA (OAEP-SHA256) and a multi-keyring
// (AES generator, RSA child) under every writable suite; each keyring that
// holds one of the message's keys decrypts it alone, one-shot and streaming.
func TestKeyringsRoundTrip(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"purpose": "keyring test"}
	for _, kc := range keyringCases(t) {
		for _, id := range testSuites() {
			for _, size := range []int{0, 3*16 + 7} {
				t.Run(fmt.Sprintf("%s/%s/size=%d", kc.name, id, size), func(t *testing.T) {
					pt := testPlaintext(size)
					enc := newClient(t, kc.enc, id, envelope.WithFrameLength(16))
					var ct []byte
					var err error
					if size == 0 {
						ct, err = enc.Encrypt(ctx, pt, ec)
					} else {
						ct, _ = encryptStream(t, enc, pt, ec, func() int { return 9 })
					}
					if err != nil {
						t.Fatal(err)
					}
					for name, kr := range kc.dec {
						dec := newClient(t, kr, id)
						got, h, err := dec.Decrypt(ctx, ct)
						if err != nil || !bytes.Equal(got, pt) {
							t.Fatalf("Decrypt by %s: %v", name, err)
						}
						checkHeader(t, h, id, 16, ec, kc.edks)
						if got, _, err = decryptStream(dec, ct, 5); err != nil || !bytes.Equal(got, pt) {
							t.Fatalf("DecryptReader by %s: %v", name, err)
						}
					}
				})
			}
		}
	}
}
