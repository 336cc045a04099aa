package stream

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

func testConfig(t testing.TB, frame, workers int) Config {
	t.Helper()
	block, err := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return Config{AEAD: aead, MessageID: bytes.Repeat([]byte{9}, 32), FrameLength: frame, Workers: workers}
}

// chunky writes in pseudo-random sizes, some larger than a frame.
func chunky(w io.Writer, p []byte, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed))
	for len(p) > 0 {
		n := min(len(p), 1+rng.IntN(300))
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// TestParallelMatchesSerial: every worker count and every way of feeding
// the writer (one Write, odd writes, ReadFrom) gives the same bytes, and
// every reader worker count opens them.
func TestParallelMatchesSerial(t *testing.T) {
	for _, frame := range []int{1, 16, 100, 4096} {
		for _, size := range []int{0, 1, frame - 1, frame, frame + 1, 3 * frame, 7*frame + 5, 40 * frame, 40*frame + 1, 20000} {
			t.Run(fmt.Sprintf("frame=%d/size=%d", frame, size), func(t *testing.T) { checkParallel(t, frame, size) })
		}
	}
}

// checkParallel: every worker count and feed writes one body of size
// bytes, SealedLength long, that every reader worker count opens.
func checkParallel(t *testing.T, frame, size int) {
	pt := make([]byte, size)
	for i := range pt {
		pt[i] = byte(i * 31)
	}
	var want []byte
	for _, workers := range []int{1, 2, 3, 8} {
		for _, feed := range []string{"write", "chunky", "readfrom", "frames", "frames+readfrom"} {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, testConfig(t, frame, workers))
			if err != nil {
				t.Fatal(err)
			}
			switch feed {
			case "write":
				_, err = w.Write(pt)
			case "chunky":
				err = chunky(w, pt, uint64(size))
			case "readfrom":
				_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(size))) // not a WriterTo: real reads
			case "frames", "frames+readfrom":
				// Writes of exactly one frame (presealed by a serial
				// Writer), then the rest.
				p := pt
				for ; len(p) >= frame && err == nil; p = p[frame:] {
					_, err = w.Write(p[:frame])
				}
				if err == nil && feed == "frames" {
					_, err = w.Write(p)
				} else if err == nil {
					_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(p), int64(len(p))))
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("workers %d %s", workers, feed)
			if n, _ := SealedLength(int64(size), frame); n != int64(buf.Len()) {
				t.Fatalf("%s: body %d bytes, SealedLength %d", name, buf.Len(), n)
			}
			if want == nil {
				want = bytes.Clone(buf.Bytes())
			} else if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("%s: output differs from the serial one", name)
			}
			for _, rw := range []int{1, 2, 5} {
				cfg := testConfig(t, frame, rw)
				r, err := NewReader(bytes.NewReader(want), cfg)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("%s: read with %d workers: %v", name, rw, err)
				}
			}
		}
	}
}

// TestParallelTamper: a flipped bit in a middle frame releases exactly the
// frames before it, whatever the worker count.
func TestParallelTamper(t *testing.T) {
	const frame = 64
	pt := make([]byte, 40*frame+7)
	var body bytes.Buffer
	w, _ := NewWriter(&body, testConfig(t, frame, 1))
	w.Write(pt)
	w.Close()
	bad := bytes.Clone(body.Bytes())
	bad[17*(frame+RegularOverhead)+20] ^= 1 // inside frame 18
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			r, _ := NewReader(bytes.NewReader(bad), testConfig(t, frame, workers))
			got, err := io.ReadAll(r)
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("err %v, want ErrAuthentication", err)
			}
			if len(got) != 17*frame {
				t.Fatalf("released %d bytes, want the %d of the 17 frames before the bad one", len(got), 17*frame)
			}
		})
	}
}
