package bench

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"
)

// BenchmarkRawGCM is the baseline every ratio is taken against:
// crypto/cipher AES-256-GCM Seal and Open of the payload in frame-sized
// chunks on one core, into one reused buffer, with no framing at all.
func BenchmarkRawGCM(b *testing.B) {
	b.Run("seal", func(b *testing.B) {
		eachShape(b, false, func(b *testing.B, frame int, pt []byte, _ int) {
			g := newGCMBaseline(b, frame)
			setBytes(b, len(pt))
			for b.Loop() {
				g.seal(pt)
			}
		})
	})
	b.Run("open", func(b *testing.B) {
		eachShape(b, false, func(b *testing.B, frame int, pt []byte, _ int) {
			g := newGCMBaseline(b, frame)
			chunks := g.chunks(pt)
			setBytes(b, len(pt))
			for b.Loop() {
				if err := g.open(chunks); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkECDSA is the baseline of the signing suite 0x0578: P-384 key
// generation (one per message), SHA-384 digest signing and verification.
func BenchmarkECDSA(b *testing.B) {
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

// TestBaselineRoundTrip checks that the baseline opens what it seals and
// rejects a flipped bit, so it measures real work.
func TestBaselineRoundTrip(t *testing.T) {
	g := newGCMBaseline(t, 4*KiB)
	for _, n := range []int{1, 4 * KiB, 100 * KiB} {
		pt := payload(n)
		chunks := g.chunks(pt)
		if want := (n + 4*KiB - 1) / (4 * KiB); len(chunks) != want {
			t.Fatalf("%d bytes: %d chunks, want %d", n, len(chunks), want)
		}
		if err := g.open(chunks); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		last := chunks[len(chunks)-1]
		g.seal(pt) // leaves the last chunk in g.dst
		if !bytes.Equal(g.dst[:len(last)], last) {
			t.Fatalf("%d bytes: seal and chunks differ", n)
		}
		last[0] ^= 1
		if err := g.open(chunks); err == nil {
			t.Fatalf("%d bytes: tampered chunk opened", n)
		}
	}
}
