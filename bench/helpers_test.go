package bench

// Shared test helpers of package bench. Every _test.go file of the package
// may use them (keycache_test.go and s3crypt_test.go belong to other
// owners); they export nothing. Most wrap bench/internal/benchutil, which
// the bench/peers module shares, so both measure the same payloads against
// the same baseline.
//
//	KiB, MiB, GiB          size units
//	sizeName(n)            "1KiB", "64MiB", … as used in benchmark names
//	payload(n)             n deterministic pseudo-random bytes (same per n)
//	newGCM(tb)             AES-256-GCM under a fresh key
//	setBytes(b, n)         b.SetBytes(n) + b.ReportAllocs() + b.ResetTimer()
//	rawAESKeyring(tb)      an envelope raw AES keyring under a fresh key
//	newClient(tb, …)       an envelope.Client for suite/frame/workers
//	benchFrames(all…)      the frame lengths to run: all, or 64 KiB alone
//	                       under -short
//	benchWorkers()         1 and runtime.NumCPU() (once if that is 1)
//	eachShape(b, w, f)     runs f under frame=…/size=…[/workers=…]
//	genReader, crcSink     a deterministic reader of n bytes holding only a
//	                       64 KiB pattern, and a writer, that both checksum
//
// Payload sizes are 1KiB, 1MiB and 64MiB unless PHICRYPT_BENCH_SIZES names
// some (bench/cmd/report sets it to give large payloads their own
// -benchtime); see benchutil.Sizes.

import (
	"crypto/cipher"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"testing"

	"github.com/phicrypt/phicrypt/bench/internal/benchutil"
	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

const (
	KiB = benchutil.KiB
	MiB = benchutil.MiB
	GiB = benchutil.GiB
)

func sizeName(n int64) string                     { return benchutil.SizeName(n) }
func payload(n int) []byte                        { return benchutil.Payload(n) }
func newGCM(tb testing.TB) cipher.AEAD            { return benchutil.NewGCM(tb) }
func setBytes(b *testing.B, n int)                { benchutil.SetBytes(b, n) }
func benchSizes(all ...int64) []int64             { return benchutil.Sizes(all...) }
func copyClose(w io.WriteCloser, pt []byte) error { return benchutil.CopyClose(w, pt) }

// byteSink counts and drops what is written to it.
type byteSink = benchutil.Sink

func rawAESKeyring(tb testing.TB) *keyring.RawAES {
	kr, err := keyring.NewRawAES("bench", "key-1", benchutil.Key(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

func newClient(tb testing.TB, suite envelope.SuiteID, frame, workers int) *envelope.Client {
	c, err := envelope.New(rawAESKeyring(tb),
		envelope.WithSuite(suite),
		envelope.WithFrameLength(frame),
		envelope.WithFrameWorkers(workers))
	if err != nil {
		tb.Fatal(err)
	}
	return c
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
// benchFrames × payload sizes × benchWorkers (no workers level unless
// withWorkers), with pt the payload of size S.
func eachShape(b *testing.B, withWorkers bool, f func(b *testing.B, frame int, pt []byte, workers int)) {
	for _, frame := range benchFrames(4*KiB, 64*KiB, MiB) {
		b.Run("frame="+sizeName(int64(frame)), func(b *testing.B) {
			benchutil.EachSize(b, []int64{KiB, MiB, 64 * MiB}, func(b *testing.B, pt []byte) {
				if !withWorkers {
					f(b, frame, pt, 1)
					return
				}
				for _, w := range benchWorkers() {
					b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { f(b, frame, pt, w) })
				}
			})
		})
	}
}

// genReader produces n bytes of a fixed pattern without holding them, and
// the CRC-32C of what it produced. The pattern's period (a prime near
// 64 KiB) makes no two frames of a power-of-two length alike.
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
