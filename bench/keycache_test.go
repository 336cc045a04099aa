package bench

import (
	"context"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keycache"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// BenchmarkKeycache measures a message's cost with an AWS KMS keyring
// (in-process kmslocal over HTTP through the stock SDK client) with a warm
// data key cache and with none, suite 0x0478, next to raw AES-256-GCM of
// the same bytes in the same run:
//
//	BenchmarkKeycache/size=1KiB/raw-gcm-seal
//	BenchmarkKeycache/size=1KiB/encrypt/cache=warm
//	BenchmarkKeycache/size=1KiB/encrypt/cache=none
//
// cache=warm − raw is the per-message overhead of the envelope (header, key
// derivation, commitment) once KMS is out of the path.
func BenchmarkKeycache(b *testing.B) {
	env := kmstest.Start(b, kmslocal.Options{})
	kr, err := kms.New(env.Client, env.CreateKey(b))
	if err != nil {
		b.Fatal(err)
	}
	cache, err := keycache.NewCache(16)
	if err != nil {
		b.Fatal(err)
	}
	cm, err := keycache.NewWithKeyring(kr, cache, keycache.Options{MaxAge: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	suite := envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit)
	clients := map[string]*envelope.Client{}
	if clients["warm"], err = envelope.NewWithMaterialsManager(cm, suite); err != nil {
		b.Fatal(err)
	}
	if clients["none"], err = envelope.New(kr, suite); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ec := map[string]string{"tenant": "clinic-7", "purpose": "lab-results"}
	for _, size := range []int{1 << 10, 64 << 10} {
		pt := payload(size)
		b.Run("size="+sizeName(int64(size)), func(b *testing.B) {
			b.Run("raw-gcm-seal", func(b *testing.B) {
				aead := newGCM(b)
				nonce := make([]byte, aead.NonceSize())
				dst := make([]byte, 0, size+aead.Overhead())
				setBytes(b, size)
				for b.Loop() {
					dst = aead.Seal(dst[:0], nonce, pt, nil)
				}
			})
			for _, name := range []string{"warm", "none"} {
				cl := clients[name]
				b.Run("encrypt/cache="+name, func(b *testing.B) {
					setBytes(b, size)
					for b.Loop() {
						if _, err := cl.Encrypt(ctx, pt, ec); err != nil {
							b.Fatal(err)
						}
					}
				})
				ct, err := cl.Encrypt(ctx, pt, ec)
				if err != nil {
					b.Fatal(err)
				}
				b.Run("decrypt/cache="+name, func(b *testing.B) {
					setBytes(b, size)
					for b.Loop() {
						if _, _, err := cl.Decrypt(ctx, ct); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
