package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"

	"github.com/phicrypt/phicrypt/bench/internal/benchutil"
)

// BenchmarkRawGCM is the baseline every ratio is taken against:
// crypto/cipher AES-256-GCM Seal and Open of the payload in frame-sized
// chunks on one core, into one reused buffer, with no framing at all.
func BenchmarkRawGCM(b *testing.B) {
	benchutil.RawGCM(b, benchFrames(4*KiB, 64*KiB, MiB), KiB, MiB, 64*MiB)
}

// BenchmarkECDSA is the baseline of the signing suite 0x0578: P-384 key
// generation (one per message), SHA-384 digest signing and verification.
func BenchmarkECDSA(b *testing.B) {
	if !benchutil.SmallSizes() {
		b.Skip("no payload size: runs with the small sizes")
	}
	digest := sha512.Sum384([]byte("header and body"))
	b.Run("keygen/P384", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
	})
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sign/P384", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, priv, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("verify/P384", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], sig) {
				b.Fatal("signature did not verify")
			}
		}
	})
}
