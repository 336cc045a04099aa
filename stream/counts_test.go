package stream

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// miscount is a source that, once it has given at bytes, answers one Read
// with count instead of what it read (-1: nothing, but a negative count;
// len(p)+1: more than it was given; 0 with no error, forever: no progress).
type miscount struct {
	b     []byte
	at    int
	count int // -1 or +1 (past p); 0: empty Reads forever
	given int
	done  bool
}

func (m *miscount) Read(p []byte) (int, error) {
	if !m.done && m.given >= m.at {
		switch m.count {
		case 0:
			return 0, nil
		case -1:
			m.done = true
			return -1, nil
		default:
			m.done = true
			n := copy(p, m.b)
			m.b = m.b[n:]
			return len(p) + 1, nil
		}
	}
	if len(m.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.b[:min(len(m.b), 1000)])
	m.b, m.given = m.b[n:], m.given+n
	return n, nil
}

// within fails t if f does not return within 10 s: a source that never
// makes progress must end the stream, not spin.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still reading after 10 s", what)
	}
}

// TestSourceCounts: a source's Read count is never taken at its word. A
// count past p, or negative, fails a Writer's ReadFrom and a Reader (each
// path: frame by frame, chunked, in turns) with io.ErrShortBuffer, and
// Reads that return nothing forever fail them with io.ErrNoProgress.
// Before, a serial Writer took a negative count as plaintext dropped (the
// message was short, with no error), a count past p panicked, and empty
// Reads spun forever. What a Writer read before the failure is what its
// message holds; what a Reader released is a prefix of the plaintext.
func TestSourceCounts(t *testing.T) {
	const F = 4096
	pt := streamPlaintext(1 << 20)
	body := sealed(t, testConfig(t, F, 1), pt)
	for _, c := range []struct {
		count int
		want  error
	}{{-1, io.ErrShortBuffer}, {1, io.ErrShortBuffer}, {0, io.ErrNoProgress}} {
		// 50,000 bytes in: before a 2-worker Writer reads in turns;
		// 900,000: in turns.
		for _, at := range []int{50_000, 900_000} {
			for _, workers := range []int{1, 2} {
				var out bytes.Buffer
				w, _ := NewWriter(&out, testConfig(t, F, workers))
				var n int64
				var err error
				within(t, "Writer", func() { n, err = w.ReadFrom(&miscount{b: pt, at: at, count: c.count}) })
				if !errors.Is(err, c.want) || (workers == 2 && at > 300_000) != (w.turned > 0) {
					t.Fatalf("Writer, %d workers, count %d at %d: %v (turned %d), want %v", workers, c.count, at, err, w.turned, c.want)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				r, _ := NewReader(&out, testConfig(t, F, 1))
				got, err := io.ReadAll(r)
				if err != nil || int64(len(got)) != n || !bytes.Equal(got, pt[:n]) {
					t.Fatalf("Writer, %d workers, count %d at %d: message holds %d bytes (%v), ReadFrom read %d", workers, c.count, at, len(got), err, n)
				}
			}
		}
		for _, readPast := range []bool{false, true} {
			for _, workers := range []int{1, 2} {
				cfg := testConfig(t, F, workers)
				cfg.ReadPast = readPast
				for _, read := range []string{"Read", "WriteTo"} {
					r, _ := NewReader(&miscount{b: body, at: len(body) / 2, count: c.count}, cfg)
					var got bytes.Buffer
					var err error
					within(t, "Reader", func() {
						if read == "Read" {
							_, err = io.Copy(&got, struct{ io.Reader }{r})
						} else {
							_, err = r.WriteTo(&got)
						}
					})
					if !errors.Is(err, c.want) || !bytes.HasPrefix(pt, got.Bytes()) {
						t.Fatalf("Reader, ReadPast %v, %d workers, %s, count %d: %v after %d bytes, want %v and a prefix", readPast, workers, read, c.count, err, got.Len(), c.want)
					}
				}
			}
		}
	}
	// A Reader opening in turns: the count comes once it turned.
	cfg := testConfig(t, F, 2)
	cfg.ReadPast = true
	long := streamPlaintext(3 << 20)
	r, _ := NewReader(&miscount{b: sealed(t, testConfig(t, F, 1), long), at: 2 << 20, count: 1}, cfg)
	if _, err := r.WriteTo(io.Discard); !errors.Is(err, io.ErrShortBuffer) || r.turned == 0 {
		t.Fatalf("Reader in turns: %v (turned %d), want io.ErrShortBuffer", err, r.turned)
	}
}

// miswrite is a destination that, once it holds at bytes, answers one
// Write with count: -1, past p (having taken p), or half of p taken and
// no error.
type miswrite struct {
	bytes.Buffer
	at, count int
	done      bool
}

func (m *miswrite) Write(p []byte) (int, error) {
	if m.done || m.Len() < m.at {
		return m.Buffer.Write(p)
	}
	m.done = true
	switch m.count {
	case -1:
		return -1, nil
	case 0:
		m.Buffer.Write(p[:len(p)/2])
		return len(p) / 2, nil
	default:
		m.Buffer.Write(p)
		return len(p) + 1, nil
	}
}

// TestDestinationCounts: a destination's Write count is never taken at
// its word either. A short count with no error, a negative one or one
// past p fails a Writer (Write, ReadFrom, in turns) and a Reader's WriteTo
// (frame by frame, chunked, in turns) with io.ErrShortWrite. Before, a
// Writer ignored the count (a message with a hole, Close nil), and a
// Reader skipped plaintext on a short count (WriteTo nil, a hole in the
// output) and panicked on the others.
func TestDestinationCounts(t *testing.T) {
	const F = 4096
	pt := streamPlaintext(1 << 20)
	for _, count := range []int{0, -1, 1} {
		for _, workers := range []int{1, 2} {
			for _, feed := range []string{"Write", "ReadFrom"} {
				d := &miswrite{at: 600_000, count: count}
				w, _ := NewWriter(d, testConfig(t, F, workers))
				var err error
				if feed == "Write" {
					_, err = w.Write(pt)
				} else {
					_, err = w.ReadFrom(struct{ io.Reader }{bytes.NewReader(pt)})
				}
				err = errors.Join(err, w.Close())
				if !errors.Is(err, io.ErrShortWrite) || (workers == 2 && feed == "ReadFrom") != (w.turned > 0) {
					t.Fatalf("Writer, %d workers, %s, count %d: %v (turned %d), want io.ErrShortWrite", workers, feed, count, err, w.turned)
				}
			}
		}
		body := sealed(t, testConfig(t, F, 1), pt)
		for _, readPast := range []bool{false, true} {
			for _, workers := range []int{1, 2} {
				cfg := testConfig(t, F, workers)
				cfg.ReadPast = readPast
				r, _ := NewReader(bytes.NewReader(body), cfg)
				d := &miswrite{at: 600_000, count: count}
				n, err := r.WriteTo(d)
				if !errors.Is(err, io.ErrShortWrite) || !bytes.HasPrefix(pt, d.Bytes()) || n > int64(d.Len()) {
					t.Fatalf("Reader, ReadPast %v, %d workers, count %d: %v, wrote %d, destination holds %d (a prefix: %v)", readPast, workers, count, err, n, d.Len(), bytes.HasPrefix(pt, d.Bytes()))
				}
			}
		}
	}
	// A Reader opening in turns.
	cfg := testConfig(t, F, 2)
	cfg.ReadPast = true
	long := streamPlaintext(3 << 20)
	r, _ := NewReader(bytes.NewReader(sealed(t, testConfig(t, F, 1), long)), cfg)
	d := &miswrite{at: 2 << 20}
	if _, err := r.WriteTo(d); !errors.Is(err, io.ErrShortWrite) || r.turned == 0 || !bytes.HasPrefix(long, d.Bytes()) {
		t.Fatalf("Reader in turns: %v (turned %d), want io.ErrShortWrite and a prefix", err, r.turned)
	}
}
