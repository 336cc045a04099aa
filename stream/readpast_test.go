package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// readPast reads b through a Reader with Config.ReadPast (or without) and
// returns the plaintext, what is left after the body (Rest followed by
// what the Reader did not read of src) and the error.
func readPast(t *testing.T, src io.Reader, cfg Config, on bool) (got, left []byte, err error) {
	t.Helper()
	cfg.ReadPast = on
	r, nerr := NewReader(src, cfg)
	if nerr != nil {
		t.Fatal(nerr)
	}
	got, err = io.ReadAll(r)
	left, _ = io.ReadAll(src)
	return got, append(bytes.Clone(r.Rest()), left...), err
}

// TestReadPastRoundTrip: with ReadPast, every frame length (chunked or
// not), worker count and source read size gives the plaintext, and Rest
// followed by the unread source is exactly what followed the body.
func TestReadPastRoundTrip(t *testing.T) {
	sources := map[string]func([]byte) io.Reader{
		"whole":   func(b []byte) io.Reader { return bytes.NewReader(b) },
		"onebyte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":    func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"dataeof": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
	}
	for _, frame := range []int{1, 16, 4 << 10, 64 << 10, groupBytes - RegularOverhead, groupBytes} {
		for _, n := range []int{0, 1, frame, 3*frame + 5, 300 << 10} {
			if n > 64*frame {
				continue // one-byte frames: keep the test short
			}
			pt := streamPlaintext(n)
			body := sealed(t, testConfig(t, frame, 1), pt)
			for _, workers := range []int{1, 2, 3} {
				for name, src := range sources {
					if name == "onebyte" && len(body) > 1<<20 {
						continue
					}
					cfg := testConfig(t, frame, workers)
					got, left, err := readPast(t, src(append(bytes.Clone(body), "footer"...)), cfg, true)
					if err != nil || !bytes.Equal(got, pt) || string(left) != "footer" {
						t.Fatalf("frame %d, %d bytes, %d workers, %s source: %d bytes, %v, left %q", frame, n, workers, name, len(got), err, left)
					}
				}
			}
		}
	}
}

// TestReadPastCutMatchesSerial: a body cut anywhere, or with any byte
// flipped, gives with ReadPast (1 and 2 workers, one-byte and whole
// reads) the error and plaintext of the serial Reader without it.
func TestReadPastCutMatchesSerial(t *testing.T) {
	const frame = 64
	pt := streamPlaintext(6*frame + 9)
	cfg1 := testConfig(t, frame, 1)
	body := sealed(t, cfg1, pt)
	check := func(what string, b []byte) {
		want, _, wantErr := readPast(t, bytes.NewReader(b), cfg1, false)
		for _, workers := range []int{1, 2} {
			for _, one := range []bool{false, true} {
				var src io.Reader = bytes.NewReader(b)
				if one {
					src = iotest.OneByteReader(src)
				}
				got, _, err := readPast(t, src, testConfig(t, frame, workers), true)
				if !bytes.Equal(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("%s, %d workers: %d bytes, %v; serial: %d bytes, %v", what, workers, len(got), err, len(want), wantErr)
				}
			}
		}
	}
	for n := range len(body) {
		check(fmt.Sprintf("cut at %d", n), body[:n])
	}
	for i := range body {
		bad := bytes.Clone(body)
		bad[i] ^= 0x40
		check(fmt.Sprintf("byte %d flipped", i), bad)
	}
}

// TestReadPastFewReads: with ReadPast, the Reader reads its source in
// chunks of about groupBytes (serialChunk with one worker), not a Read per
// frame; 64 KiB frames come at least two to a Read (a Read
// per 64 KiB frame from a file cost a 1-worker Reader 15 % of its speed).
func TestReadPastFewReads(t *testing.T) {
	for _, frame := range []int{4 << 10, 64 << 10} {
		for _, workers := range []int{1, 2} {
			cfg := testConfig(t, frame, workers)
			cfg.ReadPast = true
			pt := streamPlaintext(4 << 20)
			src := &countReads{r: bytes.NewReader(sealed(t, cfg, pt))}
			r, _ := NewReader(src, cfg)
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("read: %v", err)
			}
			chunk := groupBytes
			if workers == 1 {
				chunk = max(serialChunk, 2*frame)
			}
			if want := len(pt)/chunk + 14; src.n > want { // and the ramp of the first Reads
				t.Errorf("frame %d, %d workers: %d Reads for 4 MiB, want at most %d", frame, workers, src.n, want)
			}
		}
	}
}

// gated returns the bytes before gate, then fails the test's flag if it
// is read again before open is set.
type gated struct {
	b          []byte
	gate       int
	open, late bool
}

func (g *gated) Read(p []byte) (int, error) {
	end := len(g.b)
	if !g.open {
		if len(g.b) == 0 || g.gate == 0 {
			g.late = true
			return 0, io.EOF
		}
		end = g.gate
	}
	n := copy(p, g.b[:end])
	g.b, g.gate = g.b[n:], g.gate-n
	if len(g.b) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// TestReadPastReleasesEarly: a 1-worker Reader with ReadPast still
// releases a frame once it arrived and verified, without a Read for bytes
// the source has not sent, and with one worker and 4 KiB frames reads no
// chunk's worth before releasing the first frame.
func TestReadPastReleasesEarly(t *testing.T) {
	cfg := testConfig(t, 4<<10, 1)
	cfg.ReadPast = true
	pt := streamPlaintext(10 * cfg.FrameLength)
	body := sealed(t, cfg, pt)
	src := &gated{b: body, gate: cfg.FrameLength + RegularOverhead}
	r, _ := NewReader(src, cfg)
	first := make([]byte, cfg.FrameLength)
	if _, err := io.ReadFull(r, first); err != nil || !bytes.Equal(first, pt[:cfg.FrameLength]) {
		t.Fatalf("frame 1: %v", err)
	}
	if src.late {
		t.Fatal("the Reader read past frame 1 before releasing it")
	}
	src.open = true
	if rest, err := io.ReadAll(r); err != nil || !bytes.Equal(rest, pt[cfg.FrameLength:]) {
		t.Fatalf("rest: %v", err)
	}
}

// TestReadPastReadError: a source's error cuts the body where it happened
// and is returned as it was, after the frames before it.
func TestReadPastReadError(t *testing.T) {
	boom := errors.New("boom")
	cfg := testConfig(t, 4<<10, 2)
	pt := streamPlaintext(20 * cfg.FrameLength)
	body := sealed(t, cfg, pt)
	cut := 5*(cfg.FrameLength+RegularOverhead) + 100
	got, _, err := readPast(t, io.MultiReader(bytes.NewReader(body[:cut]), iotest.ErrReader(boom)), cfg, true)
	if !errors.Is(err, boom) || !bytes.Equal(got, pt[:5*cfg.FrameLength]) {
		t.Fatalf("%d bytes, %v; want the 5 frames before the error and it", len(got), err)
	}
}

// TestReadPastChunksReused: a long body read with ReadPast allocates about
// the ring's chunks once, not a buffer per frame or per chunk read.
func TestReadPastChunksReused(t *testing.T) {
	for _, workers := range []int{1, 2} {
		cfg := testConfig(t, 4<<10, workers)
		cfg.ReadPast = true
		pt := streamPlaintext(32 << 20)
		body := sealed(t, cfg, pt)
		var r *Reader
		n := allocated(func() {
			r, _ = NewReader(bytes.NewReader(body), cfg)
			if _, err := io.Copy(io.Discard, r); err != nil {
				t.Fatal(err)
			}
		})
		if limit := uint64(workers*4*groupBytes + 4<<20); n > limit {
			t.Errorf("%d workers: %d bytes allocated to read 32 MiB, want at most %d", workers, n, limit)
		}
	}
}

// TestTeeSeesTheBody: Config.Tee receives exactly the body's bytes, in
// order, whether the Reader reads chunks past the body or not, and its
// error fails the Reader.
func TestTeeSeesTheBody(t *testing.T) {
	for _, frame := range []int{16, 4 << 10, groupBytes} {
		pt := streamPlaintext(5*frame + 3)
		body := sealed(t, testConfig(t, frame, 1), pt)
		for _, workers := range []int{1, 2} {
			for _, on := range []bool{false, true} {
				var tee bytes.Buffer
				cfg := testConfig(t, frame, workers)
				cfg.Tee = &tee
				got, left, err := readPast(t, bytes.NewReader(append(bytes.Clone(body), "footer"...)), cfg, on)
				if err != nil || !bytes.Equal(got, pt) || string(left) != "footer" || !bytes.Equal(tee.Bytes(), body) {
					t.Fatalf("frame %d, %d workers, ReadPast %v: %v; Tee got %d of %d bytes", frame, workers, on, err, tee.Len(), len(body))
				}
				boom := errors.New("boom")
				cfg.Tee = errWriter{boom}
				if _, _, err := readPast(t, bytes.NewReader(body), cfg, on); !errors.Is(err, boom) {
					t.Fatalf("frame %d, %d workers, ReadPast %v: Tee error: %v", frame, workers, on, err)
				}
			}
		}
	}
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

// countWrites counts the Write calls on its writer.
type countWrites struct {
	bytes.Buffer
	n int
}

func (c *countWrites) Write(p []byte) (int, error) { c.n++; return c.Buffer.Write(p) }

// TestReadPastJoinsWrites: with ReadPast, WriteTo writes the plaintext of
// small frames opened back to back in one Write per chunk or so, not one
// per frame; large frames, one per frame.
func TestReadPastJoinsWrites(t *testing.T) {
	for _, frame := range []int{4 << 10, 64 << 10} {
		for _, workers := range []int{1, 2} {
			cfg := testConfig(t, frame, workers)
			cfg.ReadPast = true
			pt := streamPlaintext(4 << 20)
			r, _ := NewReader(bytes.NewReader(sealed(t, cfg, pt)), cfg)
			var dst countWrites
			if _, err := r.WriteTo(&dst); err != nil || !bytes.Equal(dst.Bytes(), pt) {
				t.Fatalf("frame %d, %d workers: %v", frame, workers, err)
			}
			want := len(pt)/frame + 1
			if frame < splitFrame {
				want = 4 * len(pt) / serialChunk
			}
			if dst.n > want {
				t.Errorf("frame %d, %d workers: %d Writes for %d frames, want at most %d", frame, workers, dst.n, len(pt)/frame+1, want)
			}
		}
	}
}

// TestReaderWipesPlaintext: once a Reader returned its last plaintext and
// io.EOF (through Read or WriteTo), none of the buffers it holds keeps
// plaintext, whatever the frame length, workers and ReadPast.
func TestReaderWipesPlaintext(t *testing.T) {
	left := bytes.Repeat([]byte{0xa5}, 8) // in ciphertext by chance: 2^-64
	for _, frame := range []int{16, 4 << 10, 64 << 10} {
		pt := bytes.Repeat([]byte{0xa5}, 5*frame+3)
		body := sealed(t, testConfig(t, frame, 1), pt)
		for _, workers := range []int{1, 2} {
			for _, on := range []bool{false, true} {
				for _, writeTo := range []bool{false, true} {
					cfg := testConfig(t, frame, workers)
					cfg.ReadPast = on
					r, _ := NewReader(bytes.NewReader(body), cfg)
					var got []byte
					var err error
					if writeTo {
						var buf bytes.Buffer
						_, err = r.WriteTo(&buf)
						got = buf.Bytes()
					} else {
						got, err = io.ReadAll(r)
					}
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("frame %d, %d workers: %v", frame, workers, err)
					}
					var bufs [][]byte
					for _, s := range r.ring {
						if s != nil {
							bufs = append(bufs, s.buf, s.pt)
							if s.c != nil {
								bufs = append(bufs, s.c.buf, s.c.pt)
							}
						}
					}
					if r.cur != nil {
						bufs = append(bufs, r.cur.buf, r.cur.pt)
					}
					for _, c := range r.free {
						bufs = append(bufs, c.buf, c.pt)
					}
					for _, b := range bufs {
						if bytes.Contains(b, left) {
							t.Errorf("frame %d, %d workers, ReadPast %v, WriteTo %v: plaintext left in the Reader's buffers", frame, workers, on, writeTo)
							break
						}
					}
				}
			}
		}
	}
}
