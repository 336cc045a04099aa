package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// turnsBody returns a body of n bytes of plaintext in frames of F and a
// chunked Reader config with workers, the trailer after the body included
// in what the source holds.
func turnsBody(t *testing.T, F, workers, n int) (pt, body []byte, cfg Config) {
	pt = streamPlaintext(n)
	body = sealed(t, testConfig(t, F, 1), pt)
	cfg = testConfig(t, F, workers)
	cfg.ReadPast = true
	return pt, body, cfg
}

// turnSizes are plaintext lengths that fill a Reader's ring (2W jobs of
// about 256 KiB: 1.5 MiB at 3 workers) and go on in turns for a few
// chunks, ending on and about frame boundaries; under the race detector
// two of them.
func turnSizes(F int) []int {
	base := 2<<20/F*F + 3*F
	if raceEnabled {
		return []int{base, base + 1}
	}
	return []int{base - 1, base, base + 1, base + F - 1}
}

// TestOpenTurnsMatch: WriteTo of a chunked Reader with several workers,
// which opens the rest of a long body in turns, returns the plaintext for
// whole, ragged and EOF-carrying Reads, leaves what follows the body to
// Rest and the source, and gives Tee the body alone.
func TestOpenTurnsMatch(t *testing.T) {
	trailer := []byte("footer bytes that follow the body")
	for _, F := range []int{100, 4096, 64 << 10} {
		for _, workers := range []int{2, 3} {
			for _, n := range turnSizes(F) {
				for _, feed := range []string{"whole", "ragged", "eof"} {
					name := fmt.Sprintf("F %d, %d workers, %d bytes, %s", F, workers, n, feed)
					pt, body, cfg := turnsBody(t, F, workers, n)
					var tee bytes.Buffer
					cfg.Tee = &tee
					src := append(append([]byte(nil), body...), trailer...)
					var in io.Reader = struct{ io.Reader }{bytes.NewReader(src)}
					if feed != "whole" {
						in = &ragged{b: src, rng: rand.New(rand.NewPCG(uint64(n), 2)), max: 5 * F / 2, withEOF: feed == "eof"}
					}
					r, _ := NewReader(in, cfg)
					var out bytes.Buffer
					m, err := r.WriteTo(&out)
					if err != nil || m != int64(n) || !bytes.Equal(out.Bytes(), pt) {
						t.Fatalf("%s: WriteTo = %d, %v; plaintext equal: %v", name, m, err, bytes.Equal(out.Bytes(), pt))
					}
					if r.turned == 0 {
						t.Fatalf("%s: not opened in turns", name)
					}
					rest, _ := io.ReadAll(io.MultiReader(bytes.NewReader(r.Rest()), in))
					if !bytes.Equal(rest, trailer) || !bytes.Equal(tee.Bytes(), body) {
						t.Fatalf("%s: Rest and source hold %q; Tee saw the body: %v", name, rest, bytes.Equal(tee.Bytes(), body))
					}
				}
			}
		}
	}
}

// TestOpenTurnsHostile: a body changed or cut anywhere fails with a typed
// error, and what was written before is a prefix of the plaintext that
// ends before the frame the change is in.
func TestOpenTurnsHostile(t *testing.T) {
	const F = 100
	R := F + RegularOverhead
	n := turnSizes(F)[1] + 1 // a final frame of one byte
	pt, body, cfg := turnsBody(t, F, 2, n)
	rng := rand.New(rand.NewPCG(7, 7))
	flips, cuts, last := 100, 60, 2*R
	if raceEnabled {
		flips, cuts, last = 20, 10, R/4
	}
	var at []int
	for range flips {
		at = append(at, rng.IntN(len(body)))
	}
	for i := len(body) - last; i < len(body); i++ {
		at = append(at, i) // the final frame and the one before
	}
	check := func(name string, src []byte, frame int) {
		r, _ := NewReader(bytes.NewReader(src), cfg)
		var out bytes.Buffer
		_, err := r.WriteTo(&out)
		if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrMalformedBody) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("%s: %v, want a typed error", name, err)
		}
		if got := out.Bytes(); !bytes.Equal(got, pt[:len(got)]) || len(got) > frame*F {
			t.Fatalf("%s: released %d bytes (a prefix: %v), want at most %d", name, len(got), bytes.Equal(got, pt[:len(got)]), frame*F)
		}
		if r.turned == 0 && frame*F > 3<<19 {
			t.Fatalf("%s: not opened in turns", name)
		}
	}
	for _, i := range at {
		bad := bytes.Clone(body)
		bad[i] ^= 0x20
		check(fmt.Sprintf("byte %d flipped", i), bad, i/R)
	}
	for range cuts {
		cut := rng.IntN(len(body))
		check(fmt.Sprintf("cut at %d", cut), body[:cut], cut/R)
	}
	check("final frame missing", body[:len(body)/R*R-R], len(body)/R-1)
}

// TestOpenTurnsFinal: the final frame is released only after Final
// accepted it, Final runs once, and its error is WriteTo's.
func TestOpenTurnsFinal(t *testing.T) {
	const F = 4096
	veto := errors.New("footer signature invalid")
	for _, fail := range []bool{false, true} {
		n := turnSizes(F)[1]
		pt, body, cfg := turnsBody(t, F, 2, n)
		calls := 0
		cfg.Final = func() error {
			calls++
			if fail {
				return veto
			}
			return nil
		}
		r, _ := NewReader(bytes.NewReader(body), cfg)
		var out bytes.Buffer
		_, err := r.WriteTo(&out)
		want, wantErr := pt, error(nil)
		if fail {
			fin := (n-1)%F + 1 // the final frame's plaintext
			want, wantErr = pt[:n-fin], veto
		}
		if calls != 1 || !errors.Is(err, wantErr) && err != wantErr || !bytes.Equal(out.Bytes(), want) || r.turned == 0 {
			t.Fatalf("fail %v: Final called %d times, WriteTo %v, %d of %d bytes released", fail, calls, err, out.Len(), len(want))
		}
	}
}

// TestOpenTurnsWriteError: a destination that fails while the body is
// opened in turns ends WriteTo with its error, and no worker is left
// running.
func TestOpenTurnsWriteError(t *testing.T) {
	boom := errors.New("disk full")
	for _, after := range []int{0, 3, 12} { // Writes in turns before the failure
		_, body, cfg := turnsBody(t, 4096, 2, 8<<20)
		r, _ := NewReader(bytes.NewReader(body), cfg)
		_, err := r.WriteTo(&failInTurns{r: r, n: after, err: boom})
		if !errors.Is(err, boom) || r.turned == 0 {
			t.Fatalf("fail after %d: %v (turned %d), want %v", after, err, r.turned, boom)
		}
		if n := goroutinesLeft("stream.(*Reader).writeTurns.func"); n > 0 {
			t.Fatalf("%d workers still run", n)
		}
	}
}

// failInTurns fails every Write after its first n once r opens in turns
// (how many Writes come before depends on how frames were joined).
type failInTurns struct {
	r   *Reader
	n   int
	err error
}

func (f *failInTurns) Write(p []byte) (int, error) {
	if f.r.turned == 0 { // set before the workers start
		return len(p), nil
	}
	if f.n == 0 {
		return 0, f.err
	}
	f.n--
	return len(p), nil
}

// TestOpenTurnsPanic: a source's or a destination's panic reaches the
// caller of WriteTo, and no worker is left running.
func TestOpenTurnsPanic(t *testing.T) {
	_, body, cfg := turnsBody(t, 4096, 3, 8<<20)
	for _, who := range []string{"source", "destination"} {
		var src io.Reader = bytes.NewReader(body)
		if who == "source" {
			src = &panicky{b: body[:len(body)/2]}
		}
		r, _ := NewReader(src, cfg)
		var dst io.Writer = io.Discard
		if who == "destination" {
			dst = &panicAfter{r: r, n: 3}
		}
		got := func() (p any) {
			defer func() { p = recover() }()
			r.WriteTo(dst)
			return nil
		}()
		if got == nil || r.turned == 0 {
			t.Fatalf("%s: recovered %v (turned %d), want its panic", who, got, r.turned)
		}
		if n := goroutinesLeft("stream.(*Reader).writeTurns.func"); n > 0 {
			t.Fatalf("%s: %d workers still run", who, n)
		}
	}
}

// panicAfter panics on its Write after n once r opens in turns.
type panicAfter struct {
	r *Reader
	n int
}

func (p *panicAfter) Write(b []byte) (int, error) {
	if p.r.turned == 0 {
		return len(b), nil
	}
	if p.n == 0 {
		panic("destination exploded")
	}
	p.n--
	return len(b), nil
}

// TestOpenTurnsBuffersZeroed: the chunks writeTurns takes from Buffers go
// back zeroed, plaintext and ciphertext, and the next stream takes them.
func TestOpenTurnsBuffersZeroed(t *testing.T) {
	for _, F := range []int{4096, 64 << 10} {
		_, body, cfg := turnsBody(t, F, 2, 6<<20)
		cfg.Buffers = new(Buffers)
		for i := range 2 {
			r, _ := NewReader(&scribbler{r: bytes.NewReader(body), max: 1 << 30}, cfg)
			if _, err := r.WriteTo(io.Discard); err != nil || r.turned == 0 {
				t.Fatalf("F %d: %v (turned %d)", F, err, r.turned)
			}
			if i == 1 {
				if kept := drainKept(t, cfg.Buffers, fmt.Sprintf("F %d", F)); kept == 0 && !raceEnabled {
					t.Fatalf("F %d: nothing kept", F)
				}
			}
		}
	}
}

// TestOpenTurnsAfterAGroup: WriteTo with workers opens a body's first
// group in the caller's goroutine and the rest in turns, with no pipeline
// goroutine ever started; a body of at most a group is opened serially.
// Before, turns waited for a pipeline that had filled the ring (four
// groups), and a body of one to four groups never turned.
func TestOpenTurnsAfterAGroup(t *testing.T) {
	for _, F := range []int{4096, 64 << 10} {
		G := groupFrames(F) * F
		for _, n := range []int{G / 2, G, G + G/2, 10 * G} {
			pt, body, cfg := turnsBody(t, F, 2, n)
			r, _ := NewReader(bytes.NewReader(body), cfg)
			var out bytes.Buffer
			if _, err := r.WriteTo(struct{ io.Writer }{&out}); err != nil || !bytes.Equal(out.Bytes(), pt) {
				t.Fatalf("F %d, %d bytes: %v", F, n, err)
			}
			if want := n > G; (r.turned == 1) != want || r.pool != nil {
				t.Errorf("F %d, %d bytes: turned %d times, pipeline %v; want turns %v, no pipeline", F, n, r.turned, r.pool != nil, want)
			}
		}
	}
}
