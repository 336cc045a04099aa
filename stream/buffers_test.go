package stream

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/phicrypt/phicrypt/internal/alias"
)

// TestBuffersShared: Writers that share one Buffers, one after another and
// on many goroutines at once, every feed and worker count, each write the
// specification's bytes for their own plaintext. A buffer lent to two
// streams at once, or kept before its last frame went out, corrupts one
// (and -race reports it).
func TestBuffersShared(t *testing.T) {
	type job struct {
		frame, size, workers int
		feed                 string
	}
	var jobs []job
	for _, frame := range []int{100, 4096, 64 << 10} {
		for _, size := range []int{0, frame, 9*frame + 3, bigBody(frame)} {
			for _, workers := range []int{1, 2, 3} {
				for _, feed := range []string{"write", "chunky", "readfrom", "frames+readfrom"} {
					if feed == "chunky" && size > 1<<20 {
						continue // too slow: writes of up to 300 bytes
					}
					jobs = append(jobs, job{frame, size, workers, feed})
				}
			}
		}
	}
	bufs, bodies := new(Buffers), specBodies(t)
	run := func(j job) error {
		cfg := testConfig(t, j.frame, j.workers)
		cfg.Buffers = bufs
		pt := bodies.pt[:j.size]
		var out bytes.Buffer
		w, err := NewWriter(&out, cfg)
		if err != nil {
			return err
		}
		switch j.feed {
		case "write":
			_, err = w.Write(pt)
		case "chunky":
			err = chunky(w, pt, uint64(j.size))
		case "readfrom":
			_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(j.size)))
		case "frames+readfrom":
			p := pt
			for ; len(p) >= j.frame && len(p) > len(pt)/2 && err == nil; p = p[j.frame:] {
				_, err = w.Write(p[:j.frame])
			}
			if err == nil {
				_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(p), int64(len(p))))
			}
		}
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(out.Bytes(), bodies.body(j.frame, j.size)) {
			return fmt.Errorf("%+v: body differs from the specification's", j)
		}
		return nil
	}
	serialThenConcurrent(t, len(jobs), func(i int) error { return run(jobs[i]) })
}

// bigBody is a plaintext length that fills a packed Writer's ring, or a
// 3-worker Reader's, with frames of the given length at least once over.
func bigBody(frame int) int { return min(3<<20, 4096*frame) }

// bodies holds the specification's body of each plaintext length and
// frame length of the shared-Buffers tests, made once: under -race making
// them per stream took most of the tests' time.
type bodies struct {
	pt []byte
	mu sync.Mutex
	m  map[[2]int][]byte
	t  *testing.T
}

func specBodies(t *testing.T) *bodies {
	return &bodies{pt: streamPlaintext(3 << 20), m: make(map[[2]int][]byte), t: t}
}

// body returns the body of the first size bytes of b.pt in frames of
// frame bytes; the caller must not change it.
func (b *bodies) body(frame, size int) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]int{frame, size}
	if b.m[k] == nil {
		cfg := testConfig(b.t, frame, 1)
		b.m[k] = specSeal(cfg.AEAD, cfg.MessageID, frame, b.pt[:size], false)
	}
	return b.m[k]
}

// serialThenConcurrent runs run(0) .. run(n-1) one after another, then
// again, last first, on 8 goroutines at once, and fails t on the
// first error.
func serialThenConcurrent(t *testing.T, n int, run func(i int) error) {
	for i := range n {
		if err := run(i); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := run(n - 1 - i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestBuffersZeroed: what a Writer gives back to its Buffers is all zero,
// the packed arrays of io.Copy and the frame buffers of Write alike.
func TestBuffersZeroed(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one P: a Put is seen by the next Get
	const frame = 4096
	for _, workers := range []int{1, 2} {
		for _, feed := range []string{"write", "readfrom"} {
			bufs := new(Buffers)
			cfg := testConfig(t, frame, workers)
			cfg.Buffers = bufs
			pt := bytes.Repeat([]byte{0xA5}, 1<<20+17)
			w, err := NewWriter(io.Discard, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if feed == "write" {
				_, err = w.Write(pt)
			} else {
				_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(len(pt))))
			}
			if err == nil {
				err = w.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			kept := drainKept(t, bufs, fmt.Sprintf("workers %d %s", workers, feed))
			if kept == 0 && !raceEnabled { // -race makes sync.Pool drop some of what is put
				t.Fatalf("workers %d %s: no buffer kept", workers, feed)
			}
		}
	}
}

// TestBuffersReused: streams that share a Buffers reuse each other's
// memory rather than allocate their own: the arrays of io.Copy into a
// Writer (1 MiB a worker that joined the turns), the frame buffers small writes fill
// (grown by doubling from 4 KiB without Buffers), a Reader's chunks
// (likewise) and the frame buffer of one that reads frame by frame, for
// long messages and short.
func TestBuffersReused(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop what is put in it")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	pt := streamPlaintext(8 << 20)
	for _, c := range []struct {
		name           string
		frame, workers int
		size           int
		least          uint64 // allocated per stream without Buffers, at least
	}{
		{"copy", 64 << 10, 2, 8 << 20, 1 << 20},
		{"chunky", 64 << 10, 1, 64 << 10, 120 << 10},
		{"read", 64 << 10, 2, 1 << 20, 200 << 10},
		{"read", 4 << 10, 1, 1 << 20, 100 << 10},
		{"read", 64 << 10, 1, 1 << 20, 64 << 10},
		// A short message: a whole frame's buffer or chunk from the
		// first, of which only what was used is zeroed.
		{"chunky", 64 << 10, 1, 1 << 10, 4 << 10},
		{"read", 4 << 10, 1, 1 << 10, 4 << 10},
		{"read", 64 << 10, 2, 1 << 10, 4 << 10},
	} {
		cfg := testConfig(t, c.frame, c.workers)
		cfg.ReadPast = true
		body, err := Seal(nil, pt[:c.size], cfg)
		if err != nil {
			t.Fatal(err)
		}
		stream := func() error {
			if c.name == "read" {
				r, _ := NewReader(bytes.NewReader(body), cfg)
				_, err := io.Copy(struct{ io.Writer }{io.Discard}, r)
				return err
			}
			w, err := NewWriter(io.Discard, cfg)
			if err != nil {
				return err
			}
			if c.name == "copy" {
				_, err = w.ReadFrom(struct{ io.Reader }{bytes.NewReader(pt[:c.size])})
			} else {
				err = chunky(w, pt[:c.size], 1)
			}
			if err == nil {
				err = w.Close()
			}
			return err
		}
		perStream := func(bufs *Buffers) uint64 {
			cfg.Buffers = bufs
			if err := stream(); err != nil { // the first stream of bufs fills it
				t.Fatal(err)
			}
			// The least of a few rounds: sync.Pool keeps what a
			// goroutine puts last in its P's private slot, which a Get
			// on another P cannot take, so a stream whose goroutine moved
			// may miss one buffer now and then (seen under qemu with 2
			// workers). A Buffers that keeps nothing misses every round.
			best := ^uint64(0)
			for range 3 {
				var before, after runtime.MemStats
				const n = 8
				runtime.ReadMemStats(&before)
				for range n {
					if err := stream(); err != nil {
						t.Fatal(err)
					}
				}
				runtime.ReadMemStats(&after)
				best = min(best, (after.TotalAlloc-before.TotalAlloc)/n)
			}
			return best
		}
		without, with := perStream(nil), perStream(new(Buffers))
		if without < c.least || with > without/4 {
			t.Errorf("%s, frame %d, %d workers, %d bytes: allocated per stream %d without Buffers, %d with (want at least %d and under a quarter)", c.name, c.frame, c.workers, c.size, without, with, c.least)
		}
		t.Logf("%s, frame %d, %d workers, %d bytes: allocated per stream %d without Buffers, %d with", c.name, c.frame, c.workers, c.size, without, with)
	}
}

// TestBuffersSharedReaders: Readers that share one Buffers, one after
// another and on many goroutines at once, every worker count and read
// size, each return their own plaintext, or fail on a tampered body with
// nothing of it released after the bad frame. A chunk lent to two Readers
// at once, or kept while a frame in it is still released, corrupts one.
func TestBuffersSharedReaders(t *testing.T) {
	type job struct {
		frame, size, workers, read int
		tamper                     bool
	}
	var jobs []job
	for _, frame := range []int{100, 4096, 64 << 10} {
		for _, size := range []int{0, frame, 9*frame + 3, bigBody(frame)} {
			for _, workers := range []int{1, 2, 3} {
				for _, read := range []int{0, 1000, 32 << 10} {
					if read == 1000 && size > 1<<20 {
						continue // too slow under -race
					}
					jobs = append(jobs, job{frame, size, workers, read, false})
					if size > 2*frame && (read == 0 || size < 1<<20) {
						jobs = append(jobs, job{frame, size, workers, read, true})
					}
				}
			}
		}
	}
	bufs, bodies := new(Buffers), specBodies(t)
	run := func(j job) error {
		cfg := testConfig(t, j.frame, j.workers)
		pt := bodies.pt[:j.size]
		body := bytes.Clone(bodies.body(j.frame, j.size))
		good := len(pt)
		if j.tamper {
			at := len(body) / 2
			body[at] ^= 1
			good = at / (j.frame + RegularOverhead) * j.frame // frames before the bad one
		}
		cfg.Buffers, cfg.ReadPast = bufs, true
		got, err := readBody(body, cfg, j.read)
		switch {
		case !j.tamper && err != io.EOF:
			return fmt.Errorf("%+v: %v", j, err)
		case j.tamper && (err == io.EOF || len(got) > good):
			return fmt.Errorf("%+v: tampered body: %d bytes released, %v", j, len(got), err)
		case !bytes.Equal(got, pt[:len(got)]) || !j.tamper && len(got) != len(pt):
			return fmt.Errorf("%+v: plaintext differs", j)
		}
		return nil
	}
	serialThenConcurrent(t, len(jobs), func(i int) error { return run(jobs[i]) })
}

// TestBuffersZeroedReaders: what a Reader gives back to its Buffers, once
// it returned all its plaintext or failed, is all zero: whole chunks, and
// frame buffers where frames are read one by one (1 worker, 64 KiB).
func TestBuffersZeroedReaders(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, frame := range []int{4096, 64 << 10} {
		for _, workers := range []int{1, 2} {
			for _, tamper := range []bool{false, true} {
				bufs := new(Buffers)
				cfg := testConfig(t, frame, workers)
				pt := bytes.Repeat([]byte{0xA5}, 1<<20+17)
				body := specSeal(cfg.AEAD, cfg.MessageID, frame, pt, false)
				if tamper {
					body[len(body)*3/4] ^= 1
				}
				cfg.Buffers, cfg.ReadPast = bufs, true
				if _, err := readBody(body, cfg, 0); (err == io.EOF) == tamper {
					t.Fatalf("frame %d workers %d tamper %v: %v", frame, workers, tamper, err)
				}
				kept := drainKept(t, bufs, fmt.Sprintf("frame %d workers %d tamper %v", frame, workers, tamper))
				if kept == 0 && !raceEnabled { // -race makes sync.Pool drop some of what is put
					t.Fatalf("frame %d workers %d tamper %v: no buffer kept", frame, workers, tamper)
				}
			}
		}
	}
}

// TestBuffersShapes: a Buffers keeps buffers of maxBufferShapes lengths;
// asked for one more, it drops those of the length least recently asked
// for, and hands out every length at its shape.
func TestBuffersShapes(t *testing.T) {
	var b Buffers
	for i := range maxBufferShapes {
		b.put(b.get(1000+i, 0), 0, 0)
	}
	b.get(1000, 0) // 1000 is now the most recently used; 1001 the least
	b.put(b.get(5000, 24), 0, 24)
	if len(b.pools) != maxBufferShapes {
		t.Fatalf("%d shapes kept, want %d", len(b.pools), maxBufferShapes)
	}
	if b.pools[bufShape{1001, 0}] != nil || b.pools[bufShape{1000, 0}] == nil || b.pools[bufShape{5000, 24}] == nil {
		t.Fatalf("shapes kept: %v; want 1001 dropped, 1000 and 5000 kept", slices.Collect(maps.Keys(b.pools)))
	}
	for _, sh := range []bufShape{{1001, 0}, {5000, 24}, {64, 7}} {
		g := b.get(sh.c, sh.off)
		if len(g) != sh.c || cap(g) != sh.c || alias.Addr(g[sh.off:])%readAlign != 0 {
			t.Fatalf("get(%d, %d): len %d cap %d, byte %d at %d past a %d-byte boundary", sh.c, sh.off, len(g), cap(g), sh.off, alias.Addr(g[sh.off:])%readAlign, readAlign)
		}
	}
	var nilb *Buffers // no Buffers: buffers are made and zeroed, never kept
	g := nilb.get(100, 0)
	g[0] = 1
	nilb.put(g, 1, 0)
	if g[0] != 0 {
		t.Fatal("put on a nil Buffers left its buffer unzeroed")
	}
}

// scribbler is a source that, as io.Reader allows, uses all of p as
// scratch: it fills p with 0xEE, then returns at most max bytes of r.
type scribbler struct {
	r   io.Reader
	max int
	big int // the largest p it was given
}

func (s *scribbler) Read(p []byte) (int, error) {
	s.big = max(s.big, len(p))
	for i := range p {
		p[i] = 0xEE
	}
	return s.r.Read(p[:min(len(p), s.max)])
}

// TestBuffersZeroedScribblingSource: a Reader zeroes of a kept chunk
// only what it gave its source's Reads (and what it opened into), so a
// source that scribbles on all it is given, short messages and long, with
// short and whole Reads, still leaves every kept buffer zero.
func TestBuffersZeroedScribblingSource(t *testing.T) {
	scribbleCases(func(frame, workers, size, most int) {
		bufs := new(Buffers)
		cfg := testConfig(t, frame, workers)
		pt := bytes.Repeat([]byte{0xA5}, size)
		body := specSeal(cfg.AEAD, cfg.MessageID, frame, pt, false)
		cfg.Buffers, cfg.ReadPast = bufs, true
		r, _ := NewReader(&scribbler{r: bytes.NewReader(body), max: most}, cfg)
		var out bytes.Buffer
		if _, err := r.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), pt) {
			t.Fatalf("frame %d workers %d size %d: %v", frame, workers, size, err)
		}
		drainKept(t, bufs, fmt.Sprintf("frame %d workers %d size %d most %d", frame, workers, size, most))
	})
}

// scribbleCases calls f with every frame length, worker count, message
// size and most bytes a Read returns that the scribbling-source tests try.
func scribbleCases(f func(frame, workers, size, most int)) {
	for _, frame := range []int{4096, 64 << 10} {
		for _, workers := range []int{1, 2} {
			for _, size := range []int{1 << 10, 1<<20 + 17} {
				for _, most := range []int{1000, 1 << 30} {
					f(frame, workers, size, most)
				}
			}
		}
	}
}

// TestBuffersZeroedScribblingWriterSource: the same for a Writer fed by
// ReadFrom (io.Copy): its first Reads get a window that doubles from 4 KiB,
// and of a kept frame buffer it zeroes only what it gave them, which still
// leaves every kept buffer zero.
func TestBuffersZeroedScribblingWriterSource(t *testing.T) {
	scribbleCases(func(frame, workers, size, most int) {
		bufs := new(Buffers)
		cfg := testConfig(t, frame, workers)
		cfg.Buffers = bufs
		pt := bytes.Repeat([]byte{0xA5}, size)
		for range 2 { // the second takes the first's buffers
			src := &scribbler{r: bytes.NewReader(pt), max: most}
			var out bytes.Buffer
			w, _ := NewWriter(&out, cfg)
			if _, err := w.ReadFrom(src); err != nil || w.Close() != nil {
				t.Fatalf("frame %d workers %d size %d: %v", frame, workers, size, err)
			}
			if want := specSeal(cfg.AEAD, cfg.MessageID, frame, pt, false); !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("frame %d workers %d size %d: not the specification's bytes", frame, workers, size)
			}
			if size < 4<<10 && src.big > 4<<10 {
				t.Errorf("frame %d workers %d: a Read of a %d-byte message was given %d bytes, want at most 4 KiB", frame, workers, size, src.big)
			}
		}
		drainKept(t, bufs, fmt.Sprintf("frame %d workers %d size %d most %d", frame, workers, size, most))
	})
}

// drainKept empties bufs and returns how many buffers it kept, failing
// the test (what names the case) if one is not all zero or not of the
// shape it is kept under.
func drainKept(t *testing.T, bufs *Buffers, what string) int {
	t.Helper()
	kept := 0
	for sh, p := range bufs.pools {
		for v := p.Get(); v != nil; v = p.Get() {
			b := *v.(*[]byte)
			if len(b) != sh.c || alias.Addr(b[sh.off:])%readAlign != 0 {
				t.Fatalf("%s: a kept buffer of %d bytes, aligned at %d, under shape %+v", what, len(b), alias.Addr(b[sh.off:])%readAlign, sh)
			}
			if i := bytes.IndexFunc(b, func(r rune) bool { return r != 0 }); i >= 0 {
				t.Fatalf("%s: a kept buffer of %d bytes holds %#x at %d", what, len(b), b[i], i)
			}
			kept++
		}
	}
	return kept
}

// TestNoBuffersSmallMessage: without Buffers, memory follows the input: a
// 1 KiB message at 64 KiB frames costs a Reader (either way of reading)
// and a Writer a few KiB, not a whole frame's buffer (a Reader that read
// frame by frame took 72 KiB: 3 → 27 µs a message).
func TestNoBuffersSmallMessage(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what is allocated")
	}
	cfg := testConfig(t, 64<<10, 1)
	pt := streamPlaintext(1 << 10)
	body := sealed(t, cfg, pt)
	for _, c := range []struct {
		name     string
		readPast bool
		stream   func(Config) error
	}{
		{"reader", false, func(cfg Config) error { _, err := readBody(body, cfg, 0); return ignoreEOF(err) }},
		{"reader, ReadPast", true, func(cfg Config) error { _, err := readBody(body, cfg, 0); return ignoreEOF(err) }},
		{"writer", false, func(cfg Config) error {
			w, _ := NewWriter(io.Discard, cfg)
			if _, err := w.Write(pt); err != nil {
				return err
			}
			return w.Close()
		}},
	} {
		cfg.ReadPast = c.readPast
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const n = 16
		for range n {
			if err := c.stream(cfg); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 16<<10 {
			t.Errorf("%s: %d bytes allocated per 1 KiB message, want at most 16 KiB", c.name, per)
		}
	}
}

func ignoreEOF(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// TestReaderSlotAllocs: a Reader makes its ring's slots in a few
// allocations, not one per slot (a 1-worker Reader of 4 KiB frames has 31
// slots: reading 1 MiB took 50 allocations here, now 24).
func TestReaderSlotAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what is allocated")
	}
	cfg := testConfig(t, 4<<10, 1)
	cfg.ReadPast, cfg.Buffers = true, new(Buffers)
	body := sealed(t, cfg, streamPlaintext(1<<20))
	read := func() {
		if _, err := readBody(body, cfg, 0); err != io.EOF {
			t.Fatal(err)
		}
	}
	read()
	if a := testing.AllocsPerRun(10, read); a > 30 {
		t.Errorf("%v allocations to read 1 MiB in 4 KiB frames, want at most 30", a)
	}
}
