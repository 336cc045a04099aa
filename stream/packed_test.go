package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/phicrypt/phicrypt/internal/alias"
)

// oddReader returns reads of pseudo-random sizes, 1 to 3 frames.
type oddReader struct {
	r     io.Reader
	rng   *rand.Rand
	frame int
}

func (o *oddReader) Read(p []byte) (int, error) {
	return o.r.Read(p[:min(len(p), 1+o.rng.IntN(3*o.frame))])
}

// packedSizes are message lengths around where a Writer with frames of
// length frame packs (after a group) and where its ring wraps.
func packedSizes(frame int) []int {
	g := groupFrames(frame) * frame
	return []int{g, g + frame, g + frame + 1, 3*g + 7, 5 * g, 9*g + frame/2 + 1}
}

// TestPackedMatchesSerial: a Writer fed through ReadFrom with frames
// shorter than splitFrame, however the reads fall and mixed with Writes
// before, between and after, writes the bytes a serial Writer writes from
// one Write.
func TestPackedMatchesSerial(t *testing.T) {
	for _, frame := range []int{1, 5, 100, 4096, splitFrame - 1} {
		for _, size := range packedSizes(frame) {
			pt := streamPlaintext(size)
			want := sealed(t, testConfig(t, frame, 1), pt)
			for _, workers := range []int{1, 2, 3} {
				for _, feed := range []string{"whole", "onebyte", "odd", "dataEOF", "mixed", "frames"} {
					if feed == "onebyte" && size > 1<<20 {
						continue
					}
					name := fmt.Sprintf("frame=%d/size=%d/workers=%d/%s", frame, size, workers, feed)
					var dst bytes.Buffer
					w, err := NewWriter(&dst, testConfig(t, frame, workers))
					if err != nil {
						t.Fatal(err)
					}
					src := io.LimitReader(bytes.NewReader(pt), int64(size)) // no WriterTo
					switch feed {
					case "onebyte":
						src = iotest.OneByteReader(src)
					case "odd":
						src = &oddReader{src, rand.New(rand.NewPCG(uint64(size), 1)), frame}
					case "dataEOF":
						src = iotest.DataErrReader(src)
					}
					switch feed {
					case "frames":
						// Writes of one frame (presealed serially) and
						// ReadFrom in turns, a group and a half each.
						g, p := 3*groupFrames(frame)/2, pt
						for turn := 0; len(p) > 0 && err == nil; turn++ {
							k := min(len(p), g*frame)
							if turn%2 == 1 {
								_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(p[:k]), int64(k)))
							}
							for q := p[:k]; turn%2 == 0 && len(q) > 0 && err == nil; q = q[min(frame, len(q)):] {
								_, err = w.Write(q[:min(frame, len(q))])
							}
							p = p[k:]
						}
					case "mixed":
						// Writes of 1.5 groups, ReadFrom of the next
						// third, Writes of 7 bytes, ReadFrom of the rest.
						a, b := min(size, 3*groupFrames(frame)*frame/2), size/3*2
						b = max(a, b)
						c := min(size, b+7)
						_, err = w.Write(pt[:a])
						if err == nil {
							_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(pt[a:b]), int64(b-a)))
						}
						if err == nil {
							_, err = w.Write(pt[b:c])
						}
						if err == nil {
							_, err = w.ReadFrom(&oddReader{io.LimitReader(bytes.NewReader(pt[c:]), int64(size-c)), rand.New(rand.NewPCG(2, 2)), frame})
						}
					default:
						var n int64
						n, err = w.ReadFrom(src)
						if err == nil && n != int64(size) {
							t.Fatalf("%s: ReadFrom returned %d, want %d", name, n, size)
						}
					}
					if err == nil {
						err = w.Close()
					}
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !bytes.Equal(dst.Bytes(), want) {
						t.Fatalf("%s: output differs from a serial Writer's", name)
					}
				}
			}
		}
	}
}

// TestPackedFewCalls: with 4 KiB frames, ReadFrom reads and writes a group
// of frames per call or so, not a frame, once it packed.
func TestPackedFewCalls(t *testing.T) {
	const frame = 4 << 10
	g := groupFrames(frame)
	pt := streamPlaintext(16 * g * frame)
	for _, workers := range []int{1, 2} {
		var dst countWrites
		w, _ := NewWriter(&dst, testConfig(t, frame, workers))
		src := &countReads{r: io.LimitReader(bytes.NewReader(pt), int64(len(pt)))}
		if _, err := w.ReadFrom(src); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dst.Bytes(), sealed(t, testConfig(t, frame, 1), pt)) {
			t.Fatalf("%d workers: output differs from a serial Writer's", workers)
		}
		// A group a frame at a time, then about two calls a group.
		limit := g + 3*16 + 4
		if src.n > limit || dst.n > limit {
			t.Errorf("%d workers: %d Reads and %d Writes for %d frames, want at most %d each", workers, src.n, dst.n, len(pt)/frame, limit)
		}
	}
}

// TestPackedRing: once packed, a serial Writer's ring holds two groups,
// its in and out arrays a frame (and its sealed frame) per slot; a Writer
// with W workers reads in turns instead and packs nothing. The output is
// a serial Writer's either way, and no pool goroutine outlives Close.
func TestPackedRing(t *testing.T) {
	for _, frame := range []int{4 << 10, 64 << 10} {
		g := groupFrames(frame)
		pt := streamPlaintext(24*g*frame + 77)
		for _, workers := range []int{1, 2, 3} {
			var dst bytes.Buffer
			w, _ := NewWriter(&dst, testConfig(t, frame, workers))
			if _, err := w.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(len(pt)))); err != nil {
				t.Fatal(err)
			}
			want := 2 * g
			switch {
			case workers > 1 && (w.in != nil || w.turned == 0):
				t.Errorf("frame %d, %d workers: packed (in %d bytes), read in turns %d times", frame, workers, len(w.in), w.turned)
			case workers == 1 && (len(w.ring) != want || len(w.in) != want*frame || len(w.out) != packPad+want*(frame+RegularOverhead)):
				t.Errorf("frame %d, %d workers: ring of %d slots, in %d, out %d bytes; want %d slots", frame, workers, len(w.ring), len(w.in), len(w.out), want)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dst.Bytes(), sealed(t, testConfig(t, frame, 1), pt)) {
				t.Fatalf("frame %d, %d workers: output differs from a serial Writer's", frame, workers)
			}
			if n := poolGoroutines(); n > 0 { // the old pool's among them
				t.Errorf("frame %d, %d workers: %d pool goroutines still run after Close", frame, workers, n)
			}
			runtime.KeepAlive(w) // else its cleanup would stop any pool
		}
	}
}

// poolGoroutines returns the pool goroutines running a second after the
// call or once none does, whichever comes first: stopped, they end soon.
func poolGoroutines() int {
	return goroutinesLeft("created by github.com/phicrypt/phicrypt/stream.(*pool).submit")
}

// goroutinesLeft returns how many goroutine stacks hold frag a second
// after the call, or once none does.
func goroutinesLeft(frag string) int {
	deadline := time.Now().Add(time.Second)
	for {
		b := make([]byte, 1<<20)
		b = b[:runtime.Stack(b, true)]
		n := strings.Count(string(b), frag)
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}

// failAfter fails every Write after its first n.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	f.n--
	return len(p), nil
}

// TestPackedWriteError: a write that fails once packed ends ReadFrom or
// Close with its error, and the Writer stays failed.
func TestPackedWriteError(t *testing.T) {
	const frame = 4 << 10
	boom := errors.New("disk full")
	pt := streamPlaintext(32 * groupFrames(frame) * frame) // more than a packed ring of 3 workers
	for _, workers := range []int{1, 2, 3} {
		for _, after := range []int{groupFrames(frame) + 1, groupFrames(frame) + 3} {
			w, _ := NewWriter(&failAfter{after, boom}, testConfig(t, frame, workers))
			_, err := w.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(len(pt))))
			if err == nil {
				err = w.Close()
			}
			if !errors.Is(err, boom) {
				t.Fatalf("%d workers, fail after %d: %v, want %v", workers, after, err, boom)
			}
			if _, err := w.Write([]byte{1}); !errors.Is(err, boom) {
				t.Fatalf("%d workers: Write after the failure: %v", workers, err)
			}
		}
	}
}

// TestPackedWipes: once closed, a packed (serial) Writer's arrays hold no
// plaintext and no frame. (TestTurnsBuffersZeroed: a Writer reading in
// turns.)
func TestPackedWipes(t *testing.T) {
	const frame = 4 << 10
	for _, workers := range []int{1} {
		pt := streamPlaintext(3*groupFrames(frame)*frame + 5)
		w, _ := NewWriter(io.Discard, testConfig(t, frame, workers))
		if _, err := w.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(len(pt)))); err != nil {
			t.Fatal(err)
		}
		if w.in == nil {
			t.Fatalf("%d workers: not packed", workers)
		}
		in, out := w.in, w.out // Close lets them go
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"in": in, "out": out} {
			if i := bytes.IndexFunc(b, func(r rune) bool { return r != 0 }); i >= 0 {
				t.Errorf("%d workers: %s[%d] not zeroed after Close", workers, name, i)
			}
		}
	}
}

// TestAlignedAt: the byte at off of an alignedAt slice lies on a readAlign
// boundary, and the slice has the length and capacity asked for.
func TestAlignedAt(t *testing.T) {
	for _, c := range []int{1, 63, 64, 4096 + 40, 1 << 20} {
		for _, off := range []int{0, 1, finalHdr, 63} {
			off = min(off, c-1)
			b := alignedAt(c/2, c, off)
			if len(b) != c/2 || cap(b) != c {
				t.Fatalf("alignedAt(%d, %d, %d): len %d cap %d", c/2, c, off, len(b), cap(b))
			}
			if a := alias.Addr(b[:c][off:]) % readAlign; a != 0 {
				t.Errorf("alignedAt(%d, %d, %d): byte %d at %d mod %d", c/2, c, off, off, a, readAlign)
			}
		}
	}
}

// alignedReads records whether every Read's buffer starts on a readAlign
// boundary.
type alignedReads struct {
	r         io.Reader
	n, skewed int
}

func (a *alignedReads) Read(p []byte) (int, error) {
	a.n++
	if len(p) > 0 && alias.Addr(p)%readAlign != 0 {
		a.skewed++
	}
	return a.r.Read(p)
}

// TestReadFromAligned: ReadFrom reads from a source that fills every Read
// into buffers that start on a readAlign boundary, packed or not, so that
// the kernel's copy of a file read runs at full speed.
func TestReadFromAligned(t *testing.T) {
	for _, frame := range []int{4 << 10, 64 << 10, 256 << 10} {
		for _, workers := range []int{1, 2} {
			pt := streamPlaintext(3*groupFrames(frame)*frame + 2*frame)
			w, _ := NewWriter(io.Discard, testConfig(t, frame, workers))
			src := &alignedReads{r: io.LimitReader(bytes.NewReader(pt), int64(len(pt)))}
			if _, err := w.ReadFrom(src); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if src.skewed > 0 {
				t.Errorf("frame %d, %d workers: %d of %d Reads into a buffer off a %d-byte boundary", frame, workers, src.skewed, src.n, readAlign)
			}
		}
	}
}

// FuzzWriterFeeds: any mix of Writes and ReadFroms (reads of any sizes),
// packed or not, writes the bytes a serial Writer writes from one Write.
// ops[0] picks the frame length (1–40 bytes: a group is 256 frames, so
// small messages pack), ops[1] the workers, ops[2:4] the length; each
// later byte one call: even a Write, odd a ReadFrom, of 1 + b frames.
func FuzzWriterFeeds(f *testing.F) {
	f.Add([]byte{3, 0, 0x40, 0x1f, 8, 9, 200, 255, 17})
	f.Add([]byte{39, 1, 0xff, 0xff, 1, 3, 5, 7})
	f.Add([]byte{0, 2, 0x00, 0x04, 254, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) < 5 {
			return
		}
		frame, workers := 1+int(ops[0]%40), 1+int(ops[1]%3)
		pt := streamPlaintext(int(ops[2]) | int(ops[3])<<8)
		var dst bytes.Buffer
		w, err := NewWriter(&dst, testConfig(t, frame, workers))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(len(ops)), uint64(ops[4])))
		for i, p := 4, pt; len(p) > 0; i++ {
			b := ops[4+(i-4)%(len(ops)-4)]
			n := min(len(p), (1+int(b))*frame)
			if b&1 == 0 {
				_, err = w.Write(p[:n])
			} else {
				_, err = w.ReadFrom(&oddReader{io.LimitReader(bytes.NewReader(p[:n]), int64(n)), rng, frame})
			}
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dst.Bytes(), sealed(t, testConfig(t, frame, 1), pt)) {
			t.Fatalf("frame %d, %d workers, %d bytes: output differs from a serial Writer's", frame, workers, len(pt))
		}
	})
}
