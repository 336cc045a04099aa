package bench

import (
	"bytes"
	"testing"

	"github.com/phicrypt/phicrypt/bench/internal/benchutil"
	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// BenchmarkReencrypt measures envelope.Client.Reencrypt of a 64 MiB
// 0x0478 message in 64 KiB frames, 1 worker on each side, to a new key,
// paired as BenchmarkPaired is: every iteration runs the raw GCM Seal
// baseline of the same bytes, then the re-encryption. It reports
//
//	x-raw       baseline time / re-encryption time (target ≥ 0.45; one
//	            Open and one Seal per byte make 0.5 the ideal)
//	reenc-MB/s  the re-encryption's own throughput
//
// ns/op and MB/s count both halves of an iteration.
func BenchmarkReencrypt(b *testing.B) {
	if len(benchSizes(64*MiB)) == 0 {
		b.Skip("runs with the 64MiB payloads")
	}
	const frame = 64 * KiB
	pt := payload(64 * MiB)
	b.Run("suite=0478/frame=64KiB/size=64MiB/workers=1", func(b *testing.B) {
		ctx := b.Context()
		from := newClient(b, envelope.AES256GCMHKDFSHA512Commit, frame, 1)
		kr, err := keyring.NewRawAES("bench", "key-2", benchutil.Key(b))
		if err != nil {
			b.Fatal(err)
		}
		to, err := envelope.New(kr, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit),
			envelope.WithFrameLength(frame), envelope.WithFrameWorkers(1))
		if err != nil {
			b.Fatal(err)
		}
		old, err := from.Encrypt(ctx, pt, benchContext())
		if err != nil {
			b.Fatal(err)
		}
		g := benchutil.NewGCMBaseline(b, frame)
		var sink byteSink
		reenc := func() {
			if _, err := from.Reencrypt(ctx, &sink, bytes.NewReader(old), to, nil); err != nil {
				b.Fatal(err)
			}
		}
		tReenc := pairRaw(b, len(pt), func() { g.Seal(pt) }, reenc)
		b.ReportMetric(float64(len(pt))*float64(b.N)/tReenc.Seconds()/1e6, "reenc-MB/s")
	})
}
