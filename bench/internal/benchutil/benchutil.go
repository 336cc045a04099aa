// Package benchutil is what the benchmarks of package bench and of the
// bench/peers module share, so that both measure the same payloads against
// the same baseline: crypto/cipher AES-256-GCM Seal and Open of the payload
// in frame-sized chunks on one core, into one reused buffer.
//
// Benchmark names carry their parameters as key=value elements
// (frame=64KiB, size=64MiB) formatted by SizeName; bench/cmd/report finds
// a row's baseline by them.
package benchutil

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// SizeName formats n bytes with the largest binary unit that divides it:
// "1KiB", "64MiB", "1GiB", "100B".
func SizeName(n int64) string {
	switch {
	case n >= GiB && n%GiB == 0:
		return fmt.Sprintf("%dGiB", n/GiB)
	case n >= MiB && n%MiB == 0:
		return fmt.Sprintf("%dMiB", n/MiB)
	case n >= KiB && n%KiB == 0:
		return fmt.Sprintf("%dKiB", n/KiB)
	}
	return fmt.Sprintf("%dB", n)
}

// Payload returns n bytes of a fixed xorshift64 sequence: incompressible
// and identical between runs, so every benchmark encrypts the same bytes.
func Payload(n int) []byte {
	p := make([]byte, n)
	s := uint64(0x9E3779B97F4A7C15)
	var w [8]byte
	for q := p; len(q) > 0; {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		binary.LittleEndian.PutUint64(w[:], s)
		q = q[copy(q, w[:]):]
	}
	return p
}

// SizesEnv names the environment variable that restricts the payload sizes
// benchmarks run, as a comma-separated list of SizeName values.
const SizesEnv = "PHICRYPT_BENCH_SIZES"

// Sizes returns the sizes of all that SizesEnv names, or all if it is unset.
func Sizes(all ...int64) []int64 {
	env := os.Getenv(SizesEnv)
	if env == "" {
		return all
	}
	var out []int64
	for _, n := range all {
		if slices.Contains(strings.Split(env, ","), SizeName(n)) {
			out = append(out, n)
		}
	}
	return out
}

// SmallSizes reports whether SizesEnv selects small payloads (1KiB), the
// class that benchmarks without a payload size belong to.
func SmallSizes() bool { return len(Sizes(KiB)) == 1 }

// Key returns a fresh random 32-byte key.
func Key(tb testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return k
}

// NewGCM returns AES-256-GCM under a fresh random key.
func NewGCM(tb testing.TB) cipher.AEAD { return GCMOf(tb, Key(tb)) }

// GCMOf returns AES-GCM under key, built as a message's key is: an AES
// key schedule, then its GCM.
func GCMOf(tb testing.TB, key []byte) cipher.AEAD {
	blk, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		tb.Fatal(err)
	}
	return aead
}

// GCMBaseline seals and opens a payload in frame-sized chunks, each with
// its own nonce (the sequence number, as the message body's IV) and no
// additional data, into one reused buffer: the single-core upper bound of
// framed sealing and opening.
type GCMBaseline struct {
	aead  cipher.AEAD
	frame int
	dst   []byte // after Seal or Open: the last chunk's output
	nonce []byte
}

func NewGCMBaseline(tb testing.TB, frame int) *GCMBaseline {
	aead := NewGCM(tb)
	return &GCMBaseline{aead: aead, frame: frame, dst: make([]byte, frame+aead.Overhead()), nonce: make([]byte, aead.NonceSize())}
}

// Overhead is the bytes a chunk gains when sealed (the tag).
func (g *GCMBaseline) Overhead() int { return g.aead.Overhead() }

func (g *GCMBaseline) setNonce(seq uint32) {
	clear(g.nonce[:len(g.nonce)-4])
	binary.BigEndian.PutUint32(g.nonce[len(g.nonce)-4:], seq)
}

// Seal seals pt chunk by chunk and returns the last chunk's output, which
// is valid until the next call.
func (g *GCMBaseline) Seal(pt []byte) []byte {
	var out []byte
	for seq := uint32(1); len(pt) > 0; seq++ {
		n := min(g.frame, len(pt))
		g.setNonce(seq)
		out = g.aead.Seal(g.dst[:0], g.nonce, pt[:n], nil)
		pt = pt[n:]
	}
	return out
}

// Chunks returns what Seal produces, one slice a chunk, for Open.
func (g *GCMBaseline) Chunks(pt []byte) [][]byte {
	var out [][]byte
	for seq := uint32(1); len(pt) > 0; seq++ {
		n := min(g.frame, len(pt))
		g.setNonce(seq)
		out = append(out, g.aead.Seal(nil, g.nonce, pt[:n], nil))
		pt = pt[n:]
	}
	return out
}

// Open opens the chunks of Chunks in order.
func (g *GCMBaseline) Open(chunks [][]byte) error { return g.OpenFrom(1, chunks) }

// OpenFrom opens chunks in order, the first with sequence number first:
// chunks[i] is chunk first+i of Chunks.
func (g *GCMBaseline) OpenFrom(first uint32, chunks [][]byte) error {
	for i, c := range chunks {
		g.setNonce(first + uint32(i))
		if _, err := g.aead.Open(g.dst[:0], g.nonce, c, nil); err != nil {
			return err
		}
	}
	return nil
}

// RawGCM is the body of BenchmarkRawGCM in both modules: sub-benchmarks
// {seal,open}/frame=F/size=S over the given frames and Sizes(sizes...).
func RawGCM(b *testing.B, frames []int, sizes ...int64) {
	for _, op := range []string{"seal", "open"} {
		b.Run(op, func(b *testing.B) {
			for _, frame := range frames {
				b.Run("frame="+SizeName(int64(frame)), func(b *testing.B) {
					EachSize(b, sizes, func(b *testing.B, pt []byte) {
						g := NewGCMBaseline(b, frame)
						if op == "seal" {
							SetBytes(b, len(pt))
							for b.Loop() {
								g.Seal(pt)
							}
							return
						}
						chunks := g.Chunks(pt)
						SetBytes(b, len(pt))
						for b.Loop() {
							if err := g.Open(chunks); err != nil {
								b.Fatal(err)
							}
						}
					})
				})
			}
		})
	}
}

// EachSize runs f in sub-benchmarks size=S over Sizes(sizes...), with pt
// the payload of size S. It skips b when SizesEnv selects none of them, so
// that no parent is reported as a result.
func EachSize(b *testing.B, sizes []int64, f func(b *testing.B, pt []byte)) {
	sel := Sizes(sizes...)
	if len(sel) == 0 {
		b.Skip("no payload size selected by " + SizesEnv)
	}
	for _, n := range sel {
		b.Run("size="+SizeName(n), func(b *testing.B) { f(b, Payload(int(n))) })
	}
}

// SetBytes starts the measured part of a benchmark of n bytes an op.
func SetBytes(b *testing.B, n int) {
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
}

// Sink counts and drops what is written to it: io.Discard without its
// ReadFrom, so that copies into it are measured as a real writer's.
type Sink struct{ N int64 }

func (s *Sink) Write(p []byte) (int, error) {
	s.N += int64(len(p))
	return len(p), nil
}

// CopyClose writes pt to w through io.Copy from a bytes.Reader (which
// hands w all of pt in one Write) and closes w.
func CopyClose(w io.WriteCloser, pt []byte) error {
	if _, err := io.Copy(w, bytes.NewReader(pt)); err != nil {
		return err
	}
	return w.Close()
}
