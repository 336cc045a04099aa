package stream

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHandOffsPerGroup: with several workers, frames reach the workers in
// groups of about Writer.group / Reader.group frames, in the steady state
// as at the start: a full ring is refilled a group at a time, never topped
// up one frame (one hand-off) at a time.
func TestHandOffsPerGroup(t *testing.T) {
	for _, frame := range []int{4 << 10, 64 << 10} {
		t.Run(fmt.Sprintf("frame=%d", frame), func(t *testing.T) {
			cfg := testConfig(t, frame, 2)
			pt := make([]byte, 200*frame+5)
			for _, feed := range []string{"write", "readfrom"} {
				var body bytes.Buffer
				w, _ := NewWriter(&body, cfg)
				var err error
				if feed == "write" {
					err = chunky(w, pt, 1) // small Writes: no writeBatch
				} else {
					_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(len(pt))))
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				frames := 201
				if feed == "readfrom" {
					// ReadFrom reads in turns from its first full frame on:
					// no frame is handed to another goroutine.
					if w.turned != 1 || w.pool != nil {
						t.Errorf("writer readfrom: read in turns %d times, pool %v; want once, none", w.turned, w.pool != nil)
					}
				} else if max := frames/w.group + 2; w.pool.sent > max {
					t.Errorf("writer %s: %d hand-offs for %d frames in groups of %d, want at most %d", feed, w.pool.sent, frames, w.group, max)
				}
				r, _ := NewReader(bytes.NewReader(body.Bytes()), cfg)
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("read back: %v", err)
				}
				if max := frames/r.group + 2; r.pool.sent > max {
					t.Errorf("reader: %d hand-offs for %d frames in groups of %d, want at most %d", r.pool.sent, frames, r.group, max)
				}
			}
		})
	}
}

// BenchmarkPipeline measures the Writer's ReadFrom and the Reader's
// WriteTo (io.Copy from a plain reader, to a plain writer) of 16 MiB,
// paired in every iteration with raw AES-GCM of the same frames split over
// as many goroutines as workers, and reports
//
//	x-raw  raw time / pipeline time (1.0: the pipeline costs what the
//	       machine's own W-goroutine GCM does)
//	x-cpu  raw CPU time / pipeline CPU time, all goroutines (the work
//	       the pipeline adds, whatever the load of a shared machine)
//	csw/op voluntary context switches of the process per pipeline op
//	       (threads parking and waking: hand-offs that found no one
//	       running)
func BenchmarkPipeline(b *testing.B) {
	pt := make([]byte, 16<<20)
	for _, workers := range []int{1, runtime.NumCPU()} {
		for _, frame := range []int{4 << 10, 64 << 10} {
			for _, dir := range []string{"encrypt", "decrypt"} {
				b.Run(fmt.Sprintf("%s/frame=%dKiB/workers=%d", dir, frame>>10, workers), func(b *testing.B) {
					cfg := testConfig(b, frame, workers)
					body, err := Seal(nil, pt, cfg)
					if err != nil {
						b.Fatal(err)
					}
					raw := rawFrames(cfg, dir, pt, workers)
					op := func() {
						if dir == "encrypt" {
							w, _ := NewWriter(io.Discard, cfg)
							if _, err := io.Copy(w, struct{ io.Reader }{bytes.NewReader(pt)}); err != nil {
								b.Fatal(err)
							}
							if err := w.Close(); err != nil {
								b.Fatal(err)
							}
							return
						}
						r, _ := NewReader(bytes.NewReader(body), cfg)
						if _, err := io.Copy(struct{ io.Writer }{io.Discard}, r); err != nil {
							b.Fatal(err)
						}
					}
					var tRaw, tOp, cRaw, cOp time.Duration
					var csw int64
					b.SetBytes(int64(len(pt)))
					b.ReportAllocs()
					for b.Loop() {
						t, c := time.Now(), cpuTime()
						raw()
						tRaw += time.Since(t)
						cRaw += cpuTime() - c
						t, c, v := time.Now(), cpuTime(), switches()
						op()
						tOp += time.Since(t)
						cOp += cpuTime() - c
						csw += switches() - v
					}
					b.ReportMetric(tRaw.Seconds()/tOp.Seconds(), "x-raw")
					b.ReportMetric(cRaw.Seconds()/cOp.Seconds(), "x-cpu")
					b.ReportMetric(float64(csw)/float64(b.N), "csw/op")
				})
			}
		}
	}
}

// rawFrames returns raw AES-GCM sealing (or opening) of pt in frames of
// cfg.FrameLength, split evenly over workers goroutines.
func rawFrames(cfg Config, dir string, pt []byte, workers int) func() {
	F := cfg.FrameLength
	frames := len(pt) / F
	per := (frames + workers - 1) / workers
	var iv [ivLen]byte
	sealed := make([][]byte, frames)
	if dir == "decrypt" {
		for i := range sealed {
			sealed[i] = cfg.AEAD.Seal(nil, iv[:], pt[i*F:(i+1)*F], nil)
		}
	}
	part := func(lo, hi int) {
		out := make([]byte, 0, F+tagLen)
		for i := lo; i < hi; i++ {
			if dir == "encrypt" {
				out = cfg.AEAD.Seal(out[:0], iv[:], pt[i*F:(i+1)*F], nil)
			} else if _, err := cfg.AEAD.Open(out[:0], iv[:], sealed[i], nil); err != nil {
				panic(err)
			}
		}
	}
	return func() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() { part(w*per, min(frames, (w+1)*per)) })
		}
		wg.Wait()
	}
}

// switches is the process's voluntary context switches so far.
func switches() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Nvcsw
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestOwnerRunsGroups: the owner's goroutine is one of the workers. With
// a pool of no goroutines of its own, a Writer and a Reader of several
// workers still seal and open every frame, on the caller's goroutine, when
// they would wait for them.
func TestOwnerRunsGroups(t *testing.T) {
	for _, frame := range []int{100, 4 << 10} {
		cfg := testConfig(t, frame, 3)
		pt := make([]byte, 300*frame+1)
		for i := range pt {
			pt[i] = byte(i)
		}
		want, err := Seal(nil, pt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			var body bytes.Buffer
			w, _ := NewWriter(&body, cfg)
			w.pool = w.newPool(1) // the caller alone
			if err := chunky(w, pt, 3); err != nil {
				done <- err
				return
			}
			if err := w.Close(); err != nil {
				done <- err
				return
			}
			if !bytes.Equal(body.Bytes(), want) {
				done <- fmt.Errorf("frame %d: writer output differs from Seal's", frame)
				return
			}
			r, _ := NewReader(bytes.NewReader(want), cfg)
			r.pool = r.newPool(1)
			got, err := io.ReadAll(r)
			if err == nil && !bytes.Equal(got, pt) {
				err = fmt.Errorf("frame %d: reader output differs", frame)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("frame %d: stuck waiting for a frame no goroutine runs", frame)
		}
	}
}

// TestSmallMessageNoGoroutine: a message of less than one group is sealed
// and opened on the caller's goroutine alone, whatever the workers.
func TestSmallMessageNoGoroutine(t *testing.T) {
	cfg := testConfig(t, 4<<10, 2)
	w0, _ := NewWriter(io.Discard, cfg)
	r0, _ := NewReader(bytes.NewReader(nil), cfg)
	for _, frames := range []int{1, 2, min(w0.group, r0.group) - 1} {
		pt := make([]byte, (frames-1)*cfg.FrameLength+1)
		var body bytes.Buffer
		w, _ := NewWriter(&body, cfg)
		if err := chunky(w, pt, 5); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, _ := NewReader(bytes.NewReader(body.Bytes()), cfg)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%d frames: read back: %v", frames, err)
		}
		if w.pool != nil || r.pool != nil {
			t.Errorf("%d frames: writer pool %v, reader pool %v: want none", frames, w.pool != nil, r.pool != nil)
		}
	}
}

// TestGroupInBytes: a job is about groupBytes of plaintext whatever the
// frame length (one frame if frames are larger, at most maxGroup frames),
// and the ring holds two jobs per worker.
func TestGroupInBytes(t *testing.T) {
	for _, c := range []struct{ frame, group int }{
		{1, maxGroup}, {512, maxGroup}, {1 << 10, 256}, {4 << 10, 64}, {64 << 10, 4}, {200 << 10, 1}, {1 << 20, 1},
	} {
		cfg := testConfig(t, c.frame, 3)
		w, _ := NewWriter(io.Discard, cfg)
		r, _ := NewReader(bytes.NewReader(nil), cfg)
		if w.group != c.group || r.group != c.group {
			t.Errorf("frame %d: groups of %d (writer), %d (reader), want %d", c.frame, w.group, r.group, c.group)
		}
		if want := 3 * 2 * c.group; len(w.ring) != want || len(r.ring) != want {
			t.Errorf("frame %d: rings of %d (writer), %d (reader), want %d", c.frame, len(w.ring), len(r.ring), want)
		}
	}
}

// TestSlotAllocs: a ring slot costs its struct and its frame buffer, no
// channel: a full ring of a Writer and of a Reader allocates at most two
// objects per slot, plus a few for the Writer, Reader and pool.
func TestSlotAllocs(t *testing.T) {
	cfg := testConfig(t, 4<<10, 2)
	w0, _ := NewWriter(io.Discard, cfg)
	slots := len(w0.ring)
	pt := make([]byte, 3*slots*cfg.FrameLength)
	body, _ := Seal(nil, pt, cfg)
	src := bytes.NewReader(body)
	writes := testing.AllocsPerRun(3, func() {
		w, _ := NewWriter(io.Discard, cfg)
		w.ReadFrom(bytes.NewReader(pt))
		w.Close()
	})
	reads := testing.AllocsPerRun(3, func() {
		src.Reset(body)
		r, _ := NewReader(src, cfg)
		io.Copy(io.Discard, r)
	})
	if max := float64(2*slots + 20); writes > max || reads > max {
		t.Errorf("%d slots: %.0f allocations writing, %.0f reading, want at most %.0f", slots, writes, reads, max)
	}
}

// countReads counts the Read calls on its reader.
type countReads struct {
	r io.Reader
	n int
}

func (c *countReads) Read(p []byte) (int, error) { c.n++; return c.r.Read(p) }

// TestReaderOneReadPerFrame: with several workers, a Reader reads each
// regular frame together with the start of the next frame's header, one
// Read per frame, and still stops at the end of the body.
func TestReaderOneReadPerFrame(t *testing.T) {
	cfg := testConfig(t, 4<<10, 2)
	pt := make([]byte, 100*cfg.FrameLength+1)
	body, _ := Seal(nil, pt, cfg)
	src := &countReads{r: bytes.NewReader(append(bytes.Clone(body), "footer"...))}
	r, _ := NewReader(src, cfg)
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("read: %v", err)
	}
	if src.n > 100+4 {
		t.Errorf("%d Reads for 101 frames, want about one per frame", src.n)
	}
	if rest, _ := io.ReadAll(src.r); string(rest) != "footer" {
		t.Errorf("the Reader read past the body: %q left", rest)
	}
}

// TestParallelTruncationMatchesSerial: a body cut anywhere gives, with
// several workers, the serial Reader's error and plaintext.
func TestParallelTruncationMatchesSerial(t *testing.T) {
	const frame = 64
	pt := make([]byte, 6*frame+9)
	for i := range pt {
		pt[i] = byte(i)
	}
	body, _ := Seal(nil, pt, testConfig(t, frame, 1))
	read := func(b []byte, workers int) ([]byte, error) {
		r, _ := NewReader(bytes.NewReader(b), testConfig(t, frame, workers))
		return io.ReadAll(r)
	}
	for n := range len(body) {
		want, wantErr := read(body[:n], 1)
		got, err := read(body[:n], 2)
		if !bytes.Equal(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("cut at %d: %d bytes, %v; serial: %d bytes, %v", n, len(got), err, len(want), wantErr)
		}
	}
}

// BenchmarkStreamWorkers streams bodies of 256 KiB to 4 MiB (64 KiB
// frames) through a Writer (one Write, or io.Copy from a reader) and back
// through a Reader (io.Copy to a writer), with 1 and 2 workers and one
// Buffers for all, as a Client's streams share one: 2 workers should never
// be slower than 1. They were, while a goroutine the pipeline started or
// woke waited ~50 µs in its waker's next-to-run slot (see pool.submit).
func BenchmarkStreamWorkers(b *testing.B) {
	for _, n := range []int{256 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20} {
		pt := make([]byte, n)
		for _, op := range []string{"write", "copy", "read"} {
			for _, w := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/size=%dKiB/workers=%d", op, n>>10, w), func(b *testing.B) {
					cfg := testConfig(b, 64<<10, w)
					cfg.Buffers, cfg.ReadPast = new(Buffers), true
					body, err := Seal(nil, pt, cfg)
					if err != nil {
						b.Fatal(err)
					}
					src := bytes.NewReader(nil)
					b.SetBytes(int64(n))
					b.ReportAllocs()
					for b.Loop() {
						if op == "read" {
							src.Reset(body)
							r, _ := NewReader(src, cfg)
							_, err = io.Copy(struct{ io.Writer }{io.Discard}, r)
						} else {
							w, _ := NewWriter(io.Discard, cfg)
							src.Reset(pt)
							if op == "write" {
								_, err = w.Write(pt)
							} else {
								_, err = io.Copy(w, struct{ io.Reader }{src})
							}
							if err == nil {
								err = w.Close()
							}
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// TestReadFromLargeFramesEachAJob: with frames of a group each (256 KiB
// and more), ReadFrom with workers hands every frame to the pool as it is
// read, the next one read meanwhile; it never holds frames back for turns,
// which such frames do not take. (Holding ReadFrom's first group back for
// turns once held every 1 MiB frame until the ring was full.)
func TestReadFromLargeFramesEachAJob(t *testing.T) {
	for _, F := range []int{256 << 10, 1 << 20} {
		cfg := testConfig(t, F, 2)
		pt := make([]byte, 8*F+5)
		w, _ := NewWriter(io.Discard, cfg)
		if _, err := w.ReadFrom(struct{ io.Reader }{bytes.NewReader(pt)}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if w.turned != 0 || w.pool == nil || w.pool.sent < 8 {
			t.Errorf("F %d: %d jobs for 9 frames (turned %d), want one a frame", F, w.pool.sent, w.turned)
		}
	}
}
