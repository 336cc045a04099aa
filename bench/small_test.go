package bench

import (
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"hash"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/bench/internal/benchutil"
	"github.com/phicrypt/phicrypt/envelope"
)

// BenchmarkSmallPaired measures one-shot 1 KiB messages (suite 0x0478,
// raw AES keyring, 64 KiB frames, 1 worker) paired in every iteration
// with smallCrypto: the least cryptography such a message needs, called on
// crypto/* directly. It reports x-raw as BenchmarkFeeds does (crypto time
// ÷ message time): the share of a small message's time its cryptography
// takes on this machine, the rest being the format's parsing,
// serialization and bookkeeping; and the time of each, msg-ns and
// crypto-ns (ns/op and B/op count both), which tell whether bench/doc.go's
// "≤ 5 µs" can be met here at all.
func BenchmarkSmallPaired(b *testing.B) {
	if len(benchSizes(KiB)) == 0 {
		b.Skip("runs with the 1KiB payloads")
	}
	pt := payload(KiB)
	for _, dir := range []string{"encrypt", "decrypt"} {
		for _, mode := range []string{"alloc", "append"} {
			b.Run(dir+"/"+mode+"/size=1KiB", func(b *testing.B) {
				c := newClient(b, envelope.AES256GCMHKDFSHA512Commit, 64*KiB, 1)
				op, ct := oneShotOp(b, c, dir, mode, pt)
				s := newSmallCrypto(b, ct, len(pt))
				raw := s.encrypt
				if dir == "decrypt" {
					raw = s.decrypt
				}
				pairSmall(b, len(pt), raw, op, "crypto-ns")
			})
		}
	}
}

// smallCrypto is the least cryptography one 0x0478 message of one frame
// with a raw AES keyring needs, on crypto/* directly: random data key,
// message ID and wrapping IV; the data key wrapped with AES-256-GCM under
// the keyring's key (its AEAD built once, as the keyring does); the
// committing key derivation's 10 SHA-512 compressions (HKDF extract: 4;
// expand: the key's two pad blocks once, then 2 for each of the message
// key and its commitment), as one hash of 9 blocks and its padding block;
// the message key's AES-GCM built; the header's tag; the frame sealed.
// Decrypt: the same without the random bytes, unwrapping and opening. The
// header and frame AADs are the real message's sizes.
type smallCrypto struct {
	b            *testing.B
	wrap         cipher.AEAD
	h            hash.Hash
	kdf          []byte // what the 10 compressions hash
	ec, hdr, aad []byte
	pt, edk, ct  []byte // the message's plaintext, wrapped data key, frame
	id, tag      []byte // message ID and header tag, for decrypt
	key, out     []byte
}

func newSmallCrypto(b *testing.B, msg []byte, n int) *smallCrypto {
	const frame = 4 + 4 + 12 + 4 + 16 // final frame's fields around its bytes
	s := &smallCrypto{
		b:    b,
		wrap: newGCM(b),
		h:    sha512.New(),
		kdf:  make([]byte, 9*sha512.BlockSize),
		ec:   make([]byte, 40), // the context the keyring authenticates
		hdr:  msg[:len(msg)-n-frame-16],
		aad:  make([]byte, 32+len("AWSKMSEncryptionClient Final Frame")+4+8),
		pt:   payload(n),
	}
	// Fixed keys for decrypt's inputs.
	dk, id, iv := make([]byte, 32), make([]byte, 32), make([]byte, 12)
	s.edk = s.wrap.Seal(nil, iv, dk, s.ec)
	g := s.derive(dk, id)
	s.id = id
	s.tag = g.Seal(nil, iv, nil, s.hdr)
	s.ct = g.Seal(nil, iv, s.pt, s.aad)
	return s
}

// derive returns the message key's AEAD.
func (s *smallCrypto) derive(dk, id []byte) cipher.AEAD {
	copy(s.kdf, dk)
	copy(s.kdf[32:], id)
	s.h.Reset()
	s.h.Write(s.kdf)
	s.key = s.h.Sum(s.key[:0])
	return benchutil.GCMOf(s.b, s.key[:32])
}

func (s *smallCrypto) encrypt() {
	var dk, id [32]byte
	var iv [12]byte
	rand.Read(dk[:])
	rand.Read(id[:])
	rand.Read(iv[:])
	s.edk = s.wrap.Seal(s.edk[:0], iv[:], dk[:], s.ec)
	g := s.derive(dk[:], id[:])
	var zero [12]byte
	s.tag = g.Seal(s.tag[:0], zero[:], nil, s.hdr)
	s.out = g.Seal(s.out[:0], zero[:], s.pt, s.aad)
}

func (s *smallCrypto) decrypt() {
	var zero [12]byte
	dk, err := s.wrap.Open(s.out[:0], zero[:], s.edk, s.ec)
	if err != nil {
		s.b.Fatal(err)
	}
	g := s.derive(dk, s.id)
	if _, err := g.Open(nil, zero[:], s.tag, s.hdr); err != nil {
		s.b.Fatal(err)
	}
	if s.out, err = g.Open(s.out[:0], zero[:], s.ct, s.aad); err != nil {
		s.b.Fatal(err)
	}
}

// BenchmarkSignedSmallPaired measures one-shot 1 KiB 0x0578 messages
// (raw AES keyring, 64 KiB frames, 1 worker, a new output per call)
// paired in every iteration with the elliptic-curve work such a message
// cannot skip, on crypto/ecdsa directly: to encrypt, a P-384 key
// generated and a SHA-384 digest signed; to decrypt, a signature
// verified. It reports x-raw (that work's time ÷ the message's), msg-ns
// and ecdsa-ns: bench/doc.go's "≤ 1.05 ×" is 1/x-raw. Decrypting also
// decompresses the message's public key (elliptic.UnmarshalCompressed),
// which the reference does not.
func BenchmarkSignedSmallPaired(b *testing.B) {
	if len(benchSizes(KiB)) == 0 {
		b.Skip("runs with the 1KiB payloads")
	}
	pt := payload(KiB)
	digest := sha512.Sum384(pt)
	for _, dir := range []string{"encrypt", "decrypt"} {
		b.Run(dir+"/size=1KiB", func(b *testing.B) {
			c := newClient(b, envelope.AES256GCMHKDFSHA512CommitP384, 64*KiB, 1)
			op, _ := oneShotOp(b, c, dir, "alloc", pt)
			priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
			if err != nil {
				b.Fatal(err)
			}
			raw := func() {
				if !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], sig) {
					b.Fatal("signature does not verify")
				}
			}
			if dir == "encrypt" {
				raw = func() {
					k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
					if err == nil {
						_, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			pairSmall(b, len(pt), raw, op, "ecdsa-ns")
		})
	}
}

// pairSmall times raw, then op, in every iteration, with n bytes per op,
// and reports x-raw (raw time ÷ op time), op's time per call as msg-ns
// and raw's as rawUnit.
func pairSmall(b *testing.B, n int, raw, op func(), rawUnit string) {
	b.ReportAllocs()
	var tRaw, tOp time.Duration
	setBytes(b, n)
	for b.Loop() {
		tRaw += timed(raw)
		tOp += timed(op)
	}
	calls := float64(b.N)
	b.ReportMetric(tRaw.Seconds()/tOp.Seconds(), "x-raw")
	b.ReportMetric(float64(tOp.Nanoseconds())/calls, "msg-ns")
	b.ReportMetric(float64(tRaw.Nanoseconds())/calls, rawUnit)
}
