package bench

// Shared test helpers of package bench. Every _test.go file of the package
// may use them (keycache_test.go and s3crypt_test.go belong to other
// owners); they export nothing.
//
//	KiB, MiB, GiB          size units
//	sizeName(n)            "1KiB", "64MiB", … as used in benchmark names
//	payload(n)             n deterministic pseudo-random bytes (same per n)
//	benchKey(b)            a fresh 32-byte key (never logged)
//	rawAESKeyring(tb)      an envelope raw AES keyring under a fresh key
//	newClient(tb, …)       an envelope.Client for suite/frame/workers
//	newGCM(tb)             AES-256-GCM under a fresh key
//	gcmBaseline            the baseline: AEAD Seal/Open of the payload in
//	                       frame-sized chunks into one reused dst buffer
//	benchSizes(all...)     the payload sizes to run: all, or those named in
//	                       PHICRYPT_BENCH_SIZES (e.g. "1KiB,1MiB"), which
//	                       bench/cmd/report sets to give big payloads their
//	                       own -benchtime
//	benchFrames(tb, all…)  the frame lengths to run: all, or 64 KiB alone
//	                       under -short
//	benchWorkers()         1 and runtime.NumCPU() (once if that is 1)
//	eachShape(b, w, f)     runs f under frame=…/size=…[/workers=…]
//	copyClose(w, pt)       io.Copy from a bytes.Reader of pt into w, then Close
//	setBytes(b, n)         b.SetBytes(n) + b.ReportAllocs() + b.ResetTimer()
//	byteSink               an io.Writer that counts and drops (io.Discard
//	                       without its ReadFrom, so copies are measured)
//	genReader              a deterministic reader of n bytes that checksums
//	                       what it produced, holding only a 64 KiB pattern
//	crcSink                an io.Writer that checksums what it is given

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// sizeName formats n bytes with the largest binary unit that divides it.
func sizeName(n int64) string {
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

// payload returns n bytes of a fixed xorshift sequence: incompressible and
// identical between runs, so every benchmark encrypts the same bytes.
func payload(n int) []byte {
	p := make([]byte, n)
	fill(p, 0x9E3779B97F4A7C15)
	return p
}

// fill writes the xorshift64 sequence after state s into p.
func fill(p []byte, s uint64) {
	var w [8]byte
	for len(p) > 0 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		binary.LittleEndian.PutUint64(w[:], s)
		p = p[copy(p, w[:]):]
	}
}

func benchKey(tb testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return k
}

func rawAESKeyring(tb testing.TB) *envelope.RawAESKeyring {
	kr, err := envelope.NewRawAESKeyring("bench", "key-1", benchKey(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

func newClient(tb testing.TB, suite envelope.SuiteID, frame, workers int) *envelope.Client {
	c, err := envelope.New(rawAESKeyring(tb),
		envelope.WithSuite(suite),
		envelope.WithFrameLength(frame),
		envelope.WithConcurrency(workers))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func newGCM(tb testing.TB) cipher.AEAD {
	blk, err := aes.NewCipher(benchKey(tb))
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		tb.Fatal(err)
	}
	return aead
}

// frameNonce sets the 12-byte nonce to seq, big-endian, right-aligned, as
// the message body does.
func frameNonce(nonce []byte, seq uint32) {
	clear(nonce[:8])
	binary.BigEndian.PutUint32(nonce[8:], seq)
}

// gcmBaseline is the baseline: one AES-256-GCM, one reused dst buffer and
// nonce. seal and open process a payload in frame-sized chunks with a
// per-chunk nonce and no additional data: the single-core upper bound of
// framed sealing and opening.
type gcmBaseline struct {
	aead  cipher.AEAD
	frame int
	dst   []byte
	nonce []byte
}

func newGCMBaseline(tb testing.TB, frame int) *gcmBaseline {
	aead := newGCM(tb)
	return &gcmBaseline{aead: aead, frame: frame, dst: make([]byte, frame+aead.Overhead()), nonce: make([]byte, aead.NonceSize())}
}

func (g *gcmBaseline) seal(pt []byte) {
	for seq := uint32(1); len(pt) > 0; seq++ {
		n := min(g.frame, len(pt))
		frameNonce(g.nonce, seq)
		g.aead.Seal(g.dst[:0], g.nonce, pt[:n], nil)
		pt = pt[n:]
	}
}

// chunks returns what seal produces, one slice a chunk, for open.
func (g *gcmBaseline) chunks(pt []byte) [][]byte {
	var out [][]byte
	for seq := uint32(1); len(pt) > 0; seq++ {
		n := min(g.frame, len(pt))
		frameNonce(g.nonce, seq)
		out = append(out, g.aead.Seal(nil, g.nonce, pt[:n], nil))
		pt = pt[n:]
	}
	return out
}

func (g *gcmBaseline) open(chunks [][]byte) error {
	for i, c := range chunks {
		frameNonce(g.nonce, uint32(i+1))
		if _, err := g.aead.Open(g.dst[:0], g.nonce, c, nil); err != nil {
			return err
		}
	}
	return nil
}

func benchSizes(all ...int64) []int64 {
	env := os.Getenv("PHICRYPT_BENCH_SIZES")
	if env == "" {
		return all
	}
	var out []int64
	for _, n := range all {
		if slices.Contains(strings.Split(env, ","), sizeName(n)) {
			out = append(out, n)
		}
	}
	return out
}

func benchFrames(all ...int) []int {
	if testing.Short() {
		return []int{64 * KiB}
	}
	return all
}

func benchWorkers() []int {
	if n := runtime.NumCPU(); n > 1 {
		return []int{1, n}
	}
	return []int{1}
}

// eachShape runs f in sub-benchmarks frame=F/size=S/workers=W over
// benchFrames × benchSizes × benchWorkers (no workers level unless
// withWorkers), with pt the payload of size S.
func eachShape(b *testing.B, withWorkers bool, f func(b *testing.B, frame int, pt []byte, workers int)) {
	for _, frame := range benchFrames(4*KiB, 64*KiB, MiB) {
		b.Run("frame="+sizeName(int64(frame)), func(b *testing.B) {
			for _, n := range benchSizes(KiB, MiB, 64*MiB) {
				b.Run("size="+sizeName(n), func(b *testing.B) {
					pt := payload(int(n))
					if !withWorkers {
						f(b, frame, pt, 1)
						return
					}
					for _, w := range benchWorkers() {
						b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { f(b, frame, pt, w) })
					}
				})
			}
		})
	}
}

// copyClose writes pt to w through io.Copy from a bytes.Reader (which
// hands w all of pt in one Write) and closes w.
func copyClose(w io.WriteCloser, pt []byte) error {
	if _, err := io.Copy(w, bytes.NewReader(pt)); err != nil {
		return err
	}
	return w.Close()
}

// setBytes starts the measured part of a benchmark of n bytes per op.
func setBytes(b *testing.B, n int) {
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
}

// byteSink counts and drops what is written to it.
type byteSink struct{ n int64 }

func (s *byteSink) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	return len(p), nil
}

// genReader produces n bytes of a fixed pattern without holding them, and
// the CRC-32C of what it produced. The pattern's period (a prime near 64 KiB)
// makes no two frames of a power-of-two length alike.
type genReader struct {
	pattern []byte
	off     int
	left    int64
	crc     uint32
}

func newGenReader(n int64) *genReader {
	return &genReader{pattern: payload(65521), left: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	for i := 0; i < len(p); {
		c := copy(p[i:], g.pattern[g.off:])
		g.off = (g.off + c) % len(g.pattern)
		i += c
	}
	g.crc = crc32.Update(g.crc, castagnoli, p)
	g.left -= int64(len(p))
	return len(p), nil
}

// crcSink checksums and counts what is written to it.
type crcSink struct {
	n   int64
	crc uint32
}

func (s *crcSink) Write(p []byte) (int, error) {
	s.crc = crc32.Update(s.crc, castagnoli, p)
	s.n += int64(len(p))
	return len(p), nil
}

// castagnoli is read-only: crc32 caches the table it returns.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)
