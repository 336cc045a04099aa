package bench

import (
	"bytes"
	"crypto/cipher"
	"crypto/sha512"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/bench/internal/benchutil"
	"github.com/phicrypt/phicrypt/envelope"
)

// BenchmarkFeeds measures streaming as users feed it, each feed paired in
// one run with its raw reference: every iteration times the reference,
// then the feed, on the same payload, and reports
//
//	x-raw  reference time / feed time (1.0: the feed costs what the
//	       reference does)
//
// The reference of a 1-worker feed is crypto/cipher AES-256-GCM Seal or
// Open of the payload in frame-sized chunks on one goroutine; of an
// N-worker feed, the same split over N goroutines (the machine's own
// scaling), and of a signed 0x0578 stream, SHA-384 of the payload (the
// serial ceiling), with workers=0 the default; ceiling/sha384+gcm is
// SHA-384 alone ÷ SHA-384 while raw GCM seals the payload on another
// goroutine: what two cores sharing a machine allow a signed stream.
// Feeds:
//
//	copy    io.Copy from a reader without WriterTo (a file, a socket), or
//	        to a writer without ReaderFrom
//	read32k io.Copy with neither side's fast path: 32 KiB Reads
//	w32k    caller Writes of 32 KiB
//	w64k    caller Writes of 64 KiB
//	one     one Write of the whole payload
//	file    io.Copy from an *os.File (encrypt: the payload; decrypt: its
//	        message) in the page cache, as a user's io.Copy from a file
func BenchmarkFeeds(b *testing.B) {
	sizes := benchSizes(64 * MiB)
	if len(sizes) == 0 {
		b.Skip("runs with the 64MiB payloads")
	}
	pt := payload(int(sizes[0]))
	n := runtime.NumCPU()
	type feedCase struct {
		dir, feed string
		suite     envelope.SuiteID
		frame     int
		workers   int
	}
	var cases []feedCase
	for _, w := range benchWorkers() {
		for _, f := range []string{"copy", "w32k", "w64k", "one"} {
			cases = append(cases, feedCase{"encrypt", f, envelope.AES256GCMHKDFSHA512Commit, 64 * KiB, w})
		}
		for _, f := range []string{"copy", "read32k"} {
			cases = append(cases, feedCase{"decrypt", f, envelope.AES256GCMHKDFSHA512Commit, 64 * KiB, w})
		}
		cases = append(cases,
			feedCase{"encrypt", "copy", envelope.AES256GCMHKDFSHA512Commit, 4 * KiB, w},
			feedCase{"encrypt", "one", envelope.AES256GCMHKDFSHA512Commit, 4 * KiB, w},
			feedCase{"decrypt", "copy", envelope.AES256GCMHKDFSHA512Commit, 4 * KiB, w})
		for _, f := range []int{64 * KiB, 4 * KiB} {
			cases = append(cases,
				feedCase{"encrypt", "file", envelope.AES256GCMHKDFSHA512Commit, f, w},
				feedCase{"decrypt", "file", envelope.AES256GCMHKDFSHA512Commit, f, w})
		}
	}
	// Signed: with every core as workers, and with the default (0), which
	// leaves the hash a core; 4 KiB frames are what the official SDKs write.
	for _, w := range []int{n, 0} {
		cases = append(cases,
			feedCase{"encrypt", "copy", envelope.AES256GCMHKDFSHA512CommitP384, 64 * KiB, w},
			feedCase{"decrypt", "copy", envelope.AES256GCMHKDFSHA512CommitP384, 64 * KiB, w},
			feedCase{"decrypt", "copy", envelope.AES256GCMHKDFSHA512CommitP384, 4 * KiB, w})
	}
	// The machine's ceiling for a signed stream: SHA-384 of the payload
	// alone ÷ SHA-384 while the other core does a stream's share beside
	// it — raw GCM of the same bytes, or a copy of each 256 KiB (the read)
	// then GCM of it — on another goroutine (1.0 if the two cores do not
	// slow each other).
	for _, other := range []string{"gcm", "read+gcm"} {
		b.Run("ceiling/sha384+"+other+"/frame=64KiB", func(b *testing.B) {
			sha := func() { h := sha512.New384(); h.Write(pt); h.Sum(nil) }
			work := rawGCMOn(b, "encrypt", pt, 64*KiB, 1)
			if other == "read+gcm" {
				_, work = readCeiling(b, "encrypt", pt, 64*KiB)
			}
			pairRaw(b, len(pt), sha, func() {
				var wg sync.WaitGroup
				wg.Go(work)
				sha()
				wg.Wait()
			})
		})
	}
	// The machine's ceiling for a stream fed through io.Reader: raw GCM ÷
	// the same GCM after copying each 256 KiB of its input into a reused
	// buffer, as a read does (1/(1+c) for a copy costing c of GCM; the
	// copy of the next chunk can overlap GCM on other cores, not shrink).
	for _, cc := range []struct {
		dir   string
		frame int
	}{{"encrypt", 64 * KiB}, {"decrypt", 64 * KiB}, {"decrypt", 4 * KiB}} {
		b.Run(fmt.Sprintf("ceiling/read+%s/frame=%s", cc.dir, sizeName(int64(cc.frame))), func(b *testing.B) {
			raw, op := readCeiling(b, cc.dir, pt, cc.frame)
			pairRaw(b, len(pt), raw, op)
		})
	}
	// The same ceiling on every core: each goroutine copies and seals (or
	// opens) its own share of pt, as if N readers fed N workers (no
	// hand-off, each chunk sealed by the core that copied it) ÷ raw GCM on
	// N goroutines.
	for _, cc := range []struct {
		dir   string
		frame int
	}{{"encrypt", 64 * KiB}, {"decrypt", 64 * KiB}, {"decrypt", 4 * KiB}} {
		if n == 1 {
			break
		}
		b.Run(fmt.Sprintf("ceiling/read+%s/frame=%s/workers=%d", cc.dir, sizeName(int64(cc.frame)), n), func(b *testing.B) {
			per := (len(pt)/n + cc.frame - 1) / cc.frame * cc.frame
			parts := make([]func(), n)
			for i := range parts {
				_, parts[i] = readCeiling(b, cc.dir, pt[min(len(pt), i*per):min(len(pt), (i+1)*per)], cc.frame)
			}
			pairRaw(b, len(pt), rawGCMOn(b, cc.dir, pt, cc.frame, n), func() {
				var wg sync.WaitGroup
				for _, p := range parts {
					wg.Go(p)
				}
				wg.Wait()
			})
		})
	}
	// The ceiling of the file feed: raw GCM ÷ the same GCM of each 256 KiB
	// read from the payload's file into a reused buffer.
	b.Run("ceiling/file+encrypt/frame=64KiB", func(b *testing.B) {
		g := benchutil.NewGCMBaseline(b, 64*KiB)
		name := tempFile(b, pt)
		buf := make([]byte, 256*KiB)
		pairRaw(b, len(pt), func() { g.Seal(pt) }, func() {
			f := openFile(b, name)
			defer f.Close()
			for {
				n, err := io.ReadFull(f, buf)
				g.Seal(buf[:n])
				if err != nil {
					return
				}
			}
		})
	})
	for _, fc := range cases {
		name := fmt.Sprintf("%s/%s/suite=%04x/frame=%s/workers=%d", fc.dir, fc.feed, uint16(fc.suite), sizeName(int64(fc.frame)), fc.workers)
		b.Run(name, func(b *testing.B) {
			var raw func()
			if fc.suite == envelope.AES256GCMHKDFSHA512CommitP384 {
				raw = func() { h := sha512.New384(); h.Write(pt); h.Sum(nil) }
			} else {
				raw = rawGCMOn(b, fc.dir, pt, fc.frame, fc.workers)
			}
			pairRaw(b, len(pt), raw, feedOp(b, fc.dir, fc.feed, pt, newClient(b, fc.suite, fc.frame, fc.workers)))
		})
	}
}

// rawGCMOn returns raw AES-256-GCM sealing (or opening) of pt in chunks of
// frame bytes, split evenly over workers goroutines.
func rawGCMOn(b *testing.B, dir string, pt []byte, frame, workers int) func() {
	parts := make([]func(), workers)
	per := (len(pt)/workers + frame - 1) / frame * frame
	for i := range parts {
		part := pt[min(len(pt), i*per):min(len(pt), (i+1)*per)]
		g := benchutil.NewGCMBaseline(b, frame)
		parts[i] = func() { g.Seal(part) }
		if dir == "decrypt" {
			chunks := g.Chunks(part)
			parts[i] = func() {
				if err := g.Open(chunks); err != nil {
					panic(err)
				}
			}
		}
	}
	if workers == 1 {
		return parts[0]
	}
	return func() {
		var wg sync.WaitGroup
		for _, p := range parts {
			wg.Go(p)
		}
		wg.Wait()
	}
}

// readCeiling returns raw AES-256-GCM of pt in chunks of frame bytes on
// one goroutine, and the same after a copy of each 256 KiB of its input
// (plaintext, or the sealed chunks laid end to end) into a reused buffer.
func readCeiling(b *testing.B, dir string, pt []byte, frame int) (raw, op func()) {
	const chunk = 256 * KiB
	g := benchutil.NewGCMBaseline(b, frame)
	buf := make([]byte, chunk+chunk/frame*g.Overhead())
	if dir == "encrypt" {
		raw = func() { g.Seal(pt) }
		op = func() {
			for p := pt; len(p) > 0; {
				n := copy(buf[:chunk], p)
				g.Seal(buf[:n])
				p = p[n:]
			}
		}
		return raw, op
	}
	chunks := g.Chunks(pt)
	in := bytes.Join(chunks, nil) // a message body is one run of bytes
	per := chunk / frame
	views := make([][]byte, 0, per)
	raw = func() {
		if err := g.Open(chunks); err != nil {
			panic(err)
		}
	}
	op = func() {
		for i := 0; i < len(chunks); i += per {
			n := min(per, len(chunks)-i)
			off := i * len(chunks[0])
			end := min(len(in), off+n*len(chunks[0]))
			copy(buf, in[off:end])
			views = views[:0]
			for o := 0; o < end-off; o += len(chunks[0]) {
				views = append(views, buf[o:min(end-off, o+len(chunks[0]))])
			}
			if err := g.OpenFrom(uint32(i+1), views); err != nil {
				panic(err)
			}
		}
	}
	return raw, op
}

// onlyReader hides a reader's WriterTo; onlyWriter hides a writer's
// ReaderFrom.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

// feedOp returns one streaming encryption of pt through the given feed,
// or decryption of its message.
func feedOp(b *testing.B, dir, feed string, pt []byte, c *envelope.Client) func() {
	ctx := b.Context()
	var sink byteSink
	check := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	if dir == "encrypt" {
		var name string
		if feed == "file" {
			name = tempFile(b, pt)
		}
		return func() {
			w, err := c.NewEncryptWriter(ctx, &sink, benchContext())
			check(err)
			switch feed {
			case "file":
				f := openFile(b, name)
				_, err = io.Copy(w, f)
				f.Close()
			case "copy":
				_, err = io.Copy(w, onlyReader{bytes.NewReader(pt)})
			case "w32k", "w64k":
				step := 32 * KiB
				if feed == "w64k" {
					step = 64 * KiB
				}
				for p := pt; len(p) > 0 && err == nil; p = p[min(step, len(p)):] {
					_, err = w.Write(p[:min(step, len(p))])
				}
			case "one":
				_, err = w.Write(pt)
			}
			check(err)
			check(w.Close())
		}
	}
	ct, err := c.Encrypt(ctx, pt, benchContext())
	check(err)
	var name string
	if feed == "file" {
		name = tempFile(b, ct)
	}
	return func() {
		var src io.Reader = bytes.NewReader(ct)
		if feed == "file" {
			f := openFile(b, name)
			defer f.Close()
			src = f
		}
		r, err := c.NewDecryptReader(ctx, src)
		check(err)
		switch feed {
		case "file":
			_, err = io.Copy(onlyWriter{&sink}, r)
		case "copy":
			_, err = io.Copy(onlyWriter{&sink}, r)
		case "read32k":
			_, err = io.Copy(onlyWriter{&sink}, onlyReader{r})
		}
		check(err)
	}
}

// BenchmarkOneShotPaired measures 1 MiB one-shot Encrypt and Decrypt (a
// service's records), suite 0x0478, 64 KiB frames, paired in one run with
// raw AES-256-GCM of the same bytes on as many goroutines as workers; it
// reports x-raw as BenchmarkFeeds does. ceiling/alloc is the machine's
// bound on mode alloc: raw GCM into a fresh output per call, paired with
// the same into a reused chunk.
func BenchmarkOneShotPaired(b *testing.B) {
	if len(benchSizes(MiB)) == 0 {
		b.Skip("runs with the 1MiB payloads")
	}
	pt := payload(MiB)
	for _, dir := range []string{"encrypt", "decrypt"} {
		for _, mode := range []string{"alloc", "append"} {
			for _, w := range benchWorkers() {
				oneShotPaired(b, dir, mode, pt, w)
			}
		}
	}
	// The machine's ceiling for mode alloc: raw GCM of the same chunks
	// into a reused chunk ÷ the least a call that returns a new message
	// does (freshSeal).
	b.Run("ceiling/alloc/size=1MiB", func(b *testing.B) {
		g := benchutil.NewGCMBaseline(b, 64*KiB)
		pairRaw(b, len(pt), func() { g.Seal(pt) }, freshSeal(b, pt, 1))
	})
	// The same on W goroutines, the reference of mode alloc with W
	// workers: the new output is one allocation, its pages touched by the
	// goroutine sealing each share.
	for _, w := range benchWorkers()[1:] {
		b.Run(fmt.Sprintf("ceiling/alloc/size=1MiB/workers=%d", w), func(b *testing.B) {
			pairRaw(b, len(pt), rawGCMOn(b, "encrypt", pt, 64*KiB, w), freshSeal(b, pt, w))
		})
	}
}

// freshSeal returns the least a one-shot call that returns a new message
// of pt does, in 64 KiB chunks: build the AES-GCM of a new key (each
// message has its own) and seal into a fresh output, laid end to end, the
// chunks shared out among w goroutines as rawGCMOn shares them.
// Without the key schedule's allocations, a loop that allocates nothing
// but its outputs gets their pages back untouched; with them, or with any
// other allocation between calls as in a program, Go's page allocator
// hands out pages its scavenger has released (BenchmarkOneShotBetween).
func freshSeal(b *testing.B, pt []byte, w int) func() {
	key := benchutil.Key(b)
	nonce := make([]byte, 12)
	const F = 64 * KiB
	chunks := (len(pt) + F - 1) / F
	per := (chunks + w - 1) / w // chunks per goroutine
	seal := func(aead cipher.AEAD, out []byte, i int) []byte {
		p := pt[min(len(pt), i*per*F):min(len(pt), (i+1)*per*F)]
		for ; len(p) > 0; p = p[min(len(p), F):] {
			out = aead.Seal(out, nonce, p[:min(len(p), F)], nil)
		}
		return out
	}
	return func() {
		aead := benchutil.GCMOf(b, key)
		out := make([]byte, len(pt)+chunks*aead.Overhead())
		if w == 1 {
			out = out[:0:len(out)]
			if out = seal(aead, out, 0); len(out) != cap(out) {
				b.Fatalf("sealed %d bytes into %d", len(out), cap(out))
			}
			return
		}
		var wg sync.WaitGroup
		for i := range w {
			at := min(len(out), i*per*(F+aead.Overhead()))
			wg.Go(func() { seal(aead, out[at:at], i) })
		}
		wg.Wait()
	}
}

// BenchmarkOneShotBetween measures 1 MiB one-shot Encrypt without a
// buffer (0x0478, 64 KiB frames, 1 worker) as a program calls it: with
// small allocations of its own before each call (five buffers of 24 B to
// 5 KB and a map), paired in every iteration with freshSeal after the
// same allocations. It reports x-ceil (freshSeal's time ÷ the message's)
// and the minor page faults of each call, msg-faults and ceil-faults: in
// a small heap either call is handed pages the runtime's scavenger had
// returned to the kernel, whatever it seals with.
func BenchmarkOneShotBetween(b *testing.B) {
	if len(benchSizes(MiB)) == 0 {
		b.Skip("runs with the 1MiB payloads")
	}
	pt := payload(MiB)
	c := newClient(b, envelope.AES256GCMHKDFSHA512Commit, 64*KiB, 1)
	op, _ := oneShotOp(b, c, "encrypt", "alloc", pt)
	ceil := freshSeal(b, pt, 1)
	var keep []any
	between := func() {
		keep = keep[:0]
		for _, n := range []int{24, 100, 300, 2000, 5000} {
			keep = append(keep, make([]byte, n))
		}
		keep = append(keep, map[string]int{"calls": len(keep)})
	}
	var tCeil, tOp time.Duration
	var fCeil, fOp int64
	faulted := func(f func()) (time.Duration, int64) {
		f0 := minorFaults(b)
		t := timed(f)
		return t, minorFaults(b) - f0
	}
	setBytes(b, len(pt))
	for b.Loop() {
		between()
		t, f := faulted(ceil)
		tCeil, fCeil = tCeil+t, fCeil+f
		between()
		t, f = faulted(op)
		tOp, fOp = tOp+t, fOp+f
	}
	runtime.KeepAlive(keep)
	n := float64(b.N)
	b.ReportMetric(tCeil.Seconds()/tOp.Seconds(), "x-ceil")
	b.ReportMetric(float64(fOp)/n, "msg-faults")
	b.ReportMetric(float64(fCeil)/n, "ceil-faults")
}

// minorFaults returns the minor page faults of the process so far.
func minorFaults(tb testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Minflt
}

// oneShotPaired is one sub-benchmark of BenchmarkOneShotPaired.
func oneShotPaired(b *testing.B, dir, mode string, pt []byte, w int) {
	b.Run(fmt.Sprintf("%s/%s/size=1MiB/workers=%d", dir, mode, w), func(b *testing.B) {
		c := newClient(b, envelope.AES256GCMHKDFSHA512Commit, 64*KiB, w)
		raw := rawGCMOn(b, dir, pt, 64*KiB, w)
		op, _ := oneShotOp(b, c, dir, mode, pt)
		pairRaw(b, len(pt), raw, op)
	})
}

// oneShotOp returns one one-shot call of c on pt (encrypt) or on its
// message, which it also returns (decrypt): mode alloc calls Encrypt or
// Decrypt, append EncryptAppend or DecryptAppend into a reused buffer.
func oneShotOp(b *testing.B, c *envelope.Client, dir, mode string, pt []byte) (op func(), msg []byte) {
	ctx, ec := b.Context(), benchContext()
	ct, err := c.Encrypt(ctx, pt, ec)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	return func() {
		var err error
		switch {
		case dir == "encrypt" && mode == "alloc":
			_, err = c.Encrypt(ctx, pt, ec)
		case dir == "encrypt":
			buf, err = c.EncryptAppend(ctx, buf[:0], pt, ec)
		case mode == "alloc":
			_, _, err = c.Decrypt(ctx, ct)
		default:
			buf, _, err = c.DecryptAppend(ctx, buf[:0], ct)
		}
		if err != nil {
			b.Fatal(err)
		}
	}, ct
}

// BenchmarkSignedOneShot measures one-shot 0x0578 EncryptAppend and
// DecryptAppend into a reused buffer, 64 KiB frames, default workers,
// paired in one run with SHA-384 of the payload (the serial ceiling) and
// reporting x-raw as BenchmarkFeeds does.
func BenchmarkSignedOneShot(b *testing.B) {
	for _, size := range benchSizes(MiB, 64*MiB) {
		pt := payload(int(size))
		for _, dir := range []string{"encrypt", "decrypt"} {
			b.Run(fmt.Sprintf("%s/size=%s", dir, sizeName(size)), func(b *testing.B) {
				c := newClient(b, envelope.AES256GCMHKDFSHA512CommitP384, 64*KiB, 0)
				ctx, ec := b.Context(), benchContext()
				ct, err := c.Encrypt(ctx, pt, ec)
				if err != nil {
					b.Fatal(err)
				}
				raw := func() { h := sha512.New384(); h.Write(pt); h.Sum(nil) }
				var buf []byte
				op := func() {
					var err error
					if dir == "encrypt" {
						buf, err = c.EncryptAppend(ctx, buf[:0], pt, ec)
					} else {
						buf, _, err = c.DecryptAppend(ctx, buf[:0], ct)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				pairRaw(b, len(pt), raw, op)
			})
		}
	}
}
