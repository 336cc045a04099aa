package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

func sealed(t *testing.T, cfg Config, pt []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pt)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReaderAtRanges(t *testing.T) {
	const frame = 100
	for _, size := range []int{0, 1, 99, 100, 101, 1000, 1234} {
		pt := make([]byte, size)
		for i := range pt {
			pt[i] = byte(i*7 + 1)
		}
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("size=%d/workers=%d", size, workers), func(t *testing.T) {
				cfg := testConfig(t, frame, workers)
				body := append([]byte("HEADER"), sealed(t, cfg, pt)...)
				ra, err := NewReaderAt(bytes.NewReader(body), 6, int64(len(body)-6), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if ra.Size() != int64(size) {
					t.Fatalf("Size() = %d", ra.Size())
				}
				ranges := [][2]int{{0, size}, {0, 1}, {size / 2, size/2 + 150}, {99, 201}, {size - 1, size}, {size, size}, {0, 0}, {size - 3, size + 10}, {size + 5, size + 6}}
				for _, rg := range ranges {
					off, end := rg[0], rg[1]
					if off < 0 || end < off {
						continue
					}
					name := fmt.Sprintf("[%d,%d)", off, end)
					p := make([]byte, end-off)
					n, err := ra.ReadAt(p, int64(off))
					wantN := max(0, min(end, size)-off)
					if off > size {
						wantN = 0
					}
					if n != wantN {
						t.Fatalf("%s: n = %d, want %d (err %v)", name, n, wantN, err)
					}
					if n < len(p) && err != io.EOF {
						t.Fatalf("%s: short read without io.EOF: %v", name, err)
					}
					if n == len(p) && err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if n > 0 && !bytes.Equal(p[:n], pt[off:off+n]) {
						t.Fatalf("%s: wrong bytes", name)
					}
				}
			})
		}
	}
}

func TestReaderAtTamper(t *testing.T) {
	const frame = 100
	cfg := testConfig(t, frame, 2)
	pt := make([]byte, 1050)
	body := sealed(t, cfg, pt)
	bad := bytes.Clone(body)
	bad[3*(frame+RegularOverhead)+40] ^= 1 // frame 4: plaintext [300,400)
	ra, _ := NewReaderAt(bytes.NewReader(bad), 0, int64(len(bad)), cfg)
	if _, err := ra.ReadAt(make([]byte, 100), 0); err != nil {
		t.Fatalf("range before the bad frame: %v", err)
	}
	p := make([]byte, 200)
	if n, err := ra.ReadAt(p, 250); !errors.Is(err, ErrAuthentication) || n != 0 || !bytes.Equal(p, make([]byte, 200)) {
		t.Fatalf("range over the bad frame: n %d err %v", n, err)
	}
	// Truncation: the last regular frame is taken for the final frame.
	cut := body[:len(body)-(1050%frame+FinalOverhead)]
	if ra, err := NewReaderAt(bytes.NewReader(cut), 0, int64(len(cut)), cfg); err == nil {
		if _, err := ra.ReadAt(make([]byte, 10), ra.Size()-10); err == nil {
			t.Fatal("truncated body read to its end without error")
		}
	}
	// Swapped frames fail.
	sw := bytes.Clone(body)
	R := frame + RegularOverhead
	copy(sw[0:R], body[R:2*R])
	copy(sw[R:2*R], body[0:R])
	ra, _ = NewReaderAt(bytes.NewReader(sw), 0, int64(len(sw)), cfg)
	if _, err := ra.ReadAt(make([]byte, 10), 5); err == nil {
		t.Fatal("swapped frame accepted")
	}
}
