package stream

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// ragged returns Reads of 1 to max bytes, and its last data with io.EOF
// if withEOF.
type ragged struct {
	b       []byte
	rng     *rand.Rand
	max     int
	withEOF bool
}

func (r *ragged) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1+r.rng.IntN(r.max))], r.b)
	r.b = r.b[n:]
	if r.withEOF && len(r.b) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// turnLengths are message lengths around the group boundaries of frame
// length F for readTurns, which starts once more than g+1 frames came.
func turnLengths(F int) []int {
	G := groupFrames(F) * F
	var ls []int
	for _, k := range []int{2, 5} {
		for _, d := range []int{-F - 1, -F, -1, 0, 1, F + 1} {
			if raceEnabled && d != 0 && d != 1 {
				continue // the race detector: a whole last group, and one byte more
			}
			ls = append(ls, k*G+d)
		}
	}
	return ls
}

// TestTurnsMatchSerial: a Writer with several workers fed by ReadFrom,
// which reads in turns, writes the bytes of a serial Writer given one
// Write: for lengths on and about group and frame boundaries, Reads whole,
// ragged or ending with io.EOF, and plaintext written before and after.
func TestTurnsMatchSerial(t *testing.T) {
	for _, F := range []int{100, 4096, 64 << 10} {
		for _, workers := range []int{2, 3} {
			for _, n := range turnLengths(F) {
				for _, feed := range []string{"whole", "ragged", "eof", "prefix"} {
					pt := streamPlaintext(n)
					var dst bytes.Buffer
					w, _ := NewWriter(&dst, testConfig(t, F, workers))
					body, after := pt, []byte(nil)
					var src io.Reader = struct{ io.Reader }{bytes.NewReader(body)}
					switch feed {
					case "ragged", "eof":
						src = &ragged{b: body, rng: rand.New(rand.NewPCG(uint64(n), 1)), max: 3 * F, withEOF: feed == "eof"}
					case "prefix":
						w.Write(pt[:F/2+1])
						body, after = pt[F/2+1:n-7], pt[n-7:]
						src = struct{ io.Reader }{bytes.NewReader(body)}
					}
					m, err := w.ReadFrom(src)
					if err != nil || m != int64(len(body)) {
						t.Fatalf("F %d, %d workers, %d bytes, %s: ReadFrom = %d, %v", F, workers, n, feed, m, err)
					}
					w.Write(after)
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
					if w.turned == 0 {
						t.Fatalf("F %d, %d workers, %d bytes, %s: not read in turns", F, workers, n, feed)
					}
					if !bytes.Equal(dst.Bytes(), sealed(t, testConfig(t, F, 1), pt)) {
						t.Fatalf("F %d, %d workers, %d bytes, %s: output differs from a serial Writer's", F, workers, n, feed)
					}
				}
			}
		}
	}
}

// failingSource returns its bytes, then err.
type failingSource struct {
	b   []byte
	err error
}

func (f *failingSource) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, f.err
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// TestTurnsReadError: a Read that fails ends ReadFrom with its error and
// the count of what came before, all of which the Writer keeps: Close then
// writes the message of exactly those bytes.
func TestTurnsReadError(t *testing.T) {
	boom := errors.New("connection reset")
	for _, F := range []int{4096, 64 << 10} {
		for _, n := range turnLengths(F) {
			pt := streamPlaintext(n)
			var dst bytes.Buffer
			w, _ := NewWriter(&dst, testConfig(t, F, 2))
			m, err := w.ReadFrom(&failingSource{b: pt, err: boom})
			if !errors.Is(err, boom) || m != int64(n) {
				t.Fatalf("F %d, %d bytes: ReadFrom = %d, %v; want %d, %v", F, n, m, err, n, boom)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w.turned == 0 || !bytes.Equal(dst.Bytes(), sealed(t, testConfig(t, F, 1), pt)) {
				t.Fatalf("F %d, %d bytes: turned %d; output differs from a serial Writer's", F, n, w.turned)
			}
		}
	}
}

// TestTurnsNoProgress: a source that returns nothing and no error, again
// and again, ends ReadFrom with io.ErrNoProgress rather than spinning.
func TestTurnsNoProgress(t *testing.T) {
	const F = 4096
	pt := streamPlaintext(3 * groupFrames(F) * F)
	w, _ := NewWriter(io.Discard, testConfig(t, F, 2))
	_, err := w.ReadFrom(io.MultiReader(bytes.NewReader(pt), &failingSource{}))
	if !errors.Is(err, io.ErrNoProgress) || w.turned == 0 {
		t.Fatalf("ReadFrom: %v (turned %d), want io.ErrNoProgress", err, w.turned)
	}
}

// panicky panics once its bytes are read.
type panicky struct{ b []byte }

func (p *panicky) Read(b []byte) (int, error) {
	if len(p.b) == 0 {
		panic("source exploded")
	}
	n := copy(b, p.b)
	p.b = p.b[n:]
	return n, nil
}

// TestTurnsPanic: a source's panic, on whichever worker read, reaches the
// caller of ReadFrom, and no worker is left running.
func TestTurnsPanic(t *testing.T) {
	const F = 4096
	for _, groups := range []int{2, 3, 7} {
		w, _ := NewWriter(io.Discard, testConfig(t, F, 3))
		got := func() (p any) {
			defer func() { p = recover() }()
			w.ReadFrom(&panicky{b: streamPlaintext(groups*groupFrames(F)*F + 5)})
			return nil
		}()
		if got != "source exploded" || w.turned == 0 {
			t.Fatalf("%d groups: recovered %v (turned %d), want the source's panic", groups, got, w.turned)
		}
		if n := goroutinesLeft("stream.(*Writer).readTurns.func"); n > 0 {
			t.Fatalf("%d groups: %d workers still run", groups, n)
		}
	}
}

// TestTurnsBuffersZeroed: the slots readTurns takes from Buffers go back
// zeroed, and the next stream takes them.
func TestTurnsBuffersZeroed(t *testing.T) {
	for _, F := range []int{4096, 64 << 10} {
		cfg := testConfig(t, F, 2)
		cfg.Buffers = new(Buffers)
		pt := streamPlaintext(5*groupFrames(F)*F + 3)
		for i := range 2 {
			w, _ := NewWriter(io.Discard, cfg)
			if _, err := w.ReadFrom(struct{ io.Reader }{bytes.NewReader(pt)}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w.turned == 0 {
				t.Fatal("not read in turns")
			}
			if i == 0 {
				continue
			}
			// Slots get buffers on first use: at least one per worker
			// that joined, at most 2 × 2.
			if w.slotted < 1 || w.slotted > 2*2 {
				t.Fatalf("F %d: %d slots given buffers", F, w.slotted)
			}
			if kept := drainKept(t, cfg.Buffers, fmt.Sprintf("F %d", F)); kept < 2*w.slotted && !raceEnabled {
				t.Fatalf("F %d: %d buffers kept, want the %d used slots' in and out", F, kept, w.slotted)
			}
		}
	}
}

// liar claims one byte more than it was given once its bytes are read.

// TestTurnstileLateHelper: a helper that starts only after the caller's
// work returned runs no work and is not waited for (a short stream does
// not pay a core's wake-up); one that joined is waited for. Before, run
// waited for every helper, which then ran its work after the caller's.
func TestTurnstileLateHelper(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // the helper starts only once the caller yields
	var ts turnstile
	ts.init()
	var ran atomic.Bool
	ts.run(2, func(i int) {
		if i == 0 {
			ts.spawn()
		} else {
			ran.Store(true)
		}
	})
	for range 100 {
		runtime.Gosched() // the late helper starts and leaves
	}
	if ran.Load() {
		t.Fatal("a helper that started after the caller's work ran its own")
	}

	runtime.GOMAXPROCS(2)
	var ts2 turnstile
	ts2.init()
	joined := make(chan struct{})
	var finished atomic.Bool
	ts2.run(2, func(i int) {
		if i == 0 {
			ts2.spawn()
			<-joined
			return
		}
		close(joined)
		time.Sleep(20 * time.Millisecond)
		finished.Store(true)
	})
	if !finished.Load() {
		t.Fatal("run returned before a helper that joined finished")
	}
}

// TestTurnsMaxFrames: near the last sequence number, a Writer reading in
// turns fails with ErrTooManyFrames exactly when a serial one does, and
// writes the same frames when it does not. Before, a full group whose
// frames stopped at MaxFrames made its writer slice from -F and panic.
func TestTurnsMaxFrames(t *testing.T) {
	const F = 4096
	g := uint32(groupFrames(F))
	for _, left := range []uint32{1, 2, g - 1, g, g + 1, 2 * g, 2*g + 1} {
		for _, size := range []int{F, F + 5, int(g) * F, int(g)*F + 5, 200 * F, 200*F + 1} {
			var outs [2][]byte
			var errs [2]error
			for i, workers := range []int{1, 2} {
				var out bytes.Buffer
				w, _ := NewWriter(&out, testConfig(t, F, workers))
				w.seq = MaxFrames - left // as if that many frames were written
				_, err := w.ReadFrom(struct{ io.Reader }{bytes.NewReader(streamPlaintext(size))})
				if cerr := w.Close(); err == nil {
					err = cerr
				}
				if workers == 2 && size > F && w.turned == 0 {
					t.Fatalf("left %d, size %d: not read in turns", left, size)
				}
				outs[i], errs[i] = out.Bytes(), err
			}
			if errs[0] != nil && !errors.Is(errs[0], ErrTooManyFrames) {
				t.Fatalf("left %d, size %d: serial: %v", left, size, errs[0])
			}
			if !errors.Is(errs[1], ErrTooManyFrames) != (errs[0] == nil) {
				t.Fatalf("left %d, size %d: in turns %v, serially %v", left, size, errs[1], errs[0])
			}
			if errs[0] == nil && !bytes.Equal(outs[0], outs[1]) {
				t.Fatalf("left %d, size %d: the frames written differ", left, size)
			}
		}
	}
}

// countingAEAD counts Seal calls.
type countingAEAD struct {
	cipher.AEAD
	seals atomic.Int64
}

func (c *countingAEAD) Seal(dst, nonce, pt, ad []byte) []byte {
	c.seals.Add(1)
	return c.AEAD.Seal(dst, nonce, pt, ad)
}

// TestTurnsSealEachFrameOnce: a worker whose full group's verdict is
// unknown reads the next group (the turn being free) instead of sealing
// the group's last frame ahead as regular, which a stream ending there
// sealed twice (once more as final). With one core the helper never runs
// before the caller is done, so every group is the caller's.
func TestTurnsSealEachFrameOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, F := range []int{4096, 64 << 10} {
		G := groupFrames(F) * F
		// Turns start after a group and a frame (their first group
		// holds that frame): G, 2G and 3G end them on a full group, or
		// without them; 2G + F/2 on a short one.
		for _, size := range []int{G, 2 * G, 3 * G, 2*G + F/2} {
			cfg := testConfig(t, F, 2)
			ca := &countingAEAD{AEAD: cfg.AEAD}
			cfg.AEAD = ca
			var out bytes.Buffer
			w, _ := NewWriter(&out, cfg)
			pt := streamPlaintext(size)
			if _, err := w.ReadFrom(struct{ io.Reader }{bytes.NewReader(pt)}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if want := size > G; (w.turned == 1) != want || w.pool != nil {
				t.Fatalf("F %d, size %d: read in turns %d times (want %v), pipeline %v", F, size, w.turned, want, w.pool != nil)
			}
			if frames := int64((size + F - 1) / F); ca.seals.Load() != frames {
				t.Errorf("F %d, size %d: %d seals for %d frames", F, size, ca.seals.Load(), frames)
			}
			r, _ := NewReader(&out, testConfig(t, F, 1))
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("F %d, size %d: read back: %v", F, size, err)
			}
		}
	}
}
