package bench

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/bench/internal/benchutil"
	"github.com/phicrypt/phicrypt/envelope"
)

// BenchmarkPaired measures the DESIGN streaming ratios in pairs: every
// iteration runs the raw GCM baseline, then streaming with 1 worker, then
// with N = runtime.NumCPU() workers, on the same 64 MiB payload with
// 64 KiB frames and suite 0x0478. The load of a shared machine drifts over
// seconds, so separate benchmarks minutes apart can see different
// machines; interleaved, all three see the same one. It reports
//
//	x-raw-1w   baseline time / 1-worker time (target: bench/doc.go)
//	x-raw-Nw   baseline time / N-worker time
//	scaling    1-worker time / (N × N-worker time)
func BenchmarkPaired(b *testing.B) {
	if len(benchSizes(64*MiB)) == 0 {
		b.Skip("runs with the 64MiB payloads")
	}
	const frame = 64 * KiB
	pt := payload(64 * MiB)
	n := runtime.NumCPU()
	for _, dir := range []string{"encrypt", "decrypt"} {
		b.Run(dir+"/stream/suite=0478/frame=64KiB/size=64MiB", func(b *testing.B) {
			g := benchutil.NewGCMBaseline(b, frame)
			raw := func() { g.Seal(pt) }
			if dir == "decrypt" {
				chunks := g.Chunks(pt)
				raw = func() {
					if err := g.Open(chunks); err != nil {
						b.Fatal(err)
					}
				}
			}
			one, many := pairedOp(b, dir, pt, 1), pairedOp(b, dir, pt, n)
			var tRaw, tOne, tMany time.Duration
			b.ReportAllocs()
			for b.Loop() {
				tRaw += timed(raw)
				tOne += timed(one)
				tMany += timed(many)
			}
			b.ReportMetric(tRaw.Seconds()/tOne.Seconds(), "x-raw-1w")
			b.ReportMetric(tRaw.Seconds()/tMany.Seconds(), "x-raw-Nw")
			b.ReportMetric(tOne.Seconds()/(float64(n)*tMany.Seconds()), "scaling")
			b.ReportMetric(float64(n), "workers") // the N of x-raw-Nw, for the report
		})
	}
}

func timed(f func()) time.Duration {
	t := time.Now()
	f()
	return time.Since(t)
}

// pairRaw times raw, then op, in every iteration, so that a shared
// machine's drifting load weighs on both alike; it reports raw time ÷ op
// time as "x-raw", with n bytes per op, and returns op's total time.
func pairRaw(b *testing.B, n int, raw, op func()) time.Duration {
	var tRaw, tOp time.Duration
	setBytes(b, n)
	for b.Loop() {
		tRaw += timed(raw)
		tOp += timed(op)
	}
	b.ReportMetric(tRaw.Seconds()/tOp.Seconds(), "x-raw")
	return tOp
}

// pairedOp returns one streaming encryption of pt, or decryption of its
// message, with the given workers.
func pairedOp(b *testing.B, dir string, pt []byte, workers int) func() {
	c := newClient(b, envelope.AES256GCMHKDFSHA512Commit, 64*KiB, workers)
	ctx := b.Context()
	var sink byteSink
	if dir == "encrypt" {
		return func() {
			w, err := c.NewEncryptWriter(ctx, &sink, benchContext())
			if err == nil {
				err = copyClose(w, pt)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	ct, err := c.Encrypt(ctx, pt, benchContext())
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		r, err := c.NewDecryptReader(ctx, bytes.NewReader(ct))
		if err == nil {
			_, err = io.Copy(&sink, r)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
