package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// skipReader returns n bytes without writing them: a source of body bytes
// that holds nothing in memory.
type skipReader struct{ n int64 }

func (s *skipReader) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), s.n))
	s.n -= int64(k)
	return k, nil
}

// allocated returns the bytes allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileFrameLengthAllocation: a body declaring 4 GiB frames must not
// make the Reader allocate more than the bytes that actually arrive.
func TestHostileFrameLengthAllocation(t *testing.T) {
	const fed = 64 << 20
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			cfg := testConfig(t, MaxFrameLength, workers)
			hdr := make([]byte, regularHdr)
			hdr[3] = 1 // sequence number 1
			var err error
			n := allocated(func() {
				r, nerr := NewReader(io.MultiReader(bytes.NewReader(hdr), &skipReader{fed}), cfg)
				if nerr != nil {
					t.Fatal(nerr)
				}
				_, err = io.Copy(io.Discard, r)
			})
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("%v, want ErrTruncated", err)
			}
			if n > fed+fed/8 {
				t.Fatalf("%d MiB allocated for %d MiB received", n>>20, fed>>20)
			}
		})
	}
}

// eofReaderAt returns io.EOF with a read that reaches the end of its
// input, as io.ReaderAt allows.
type eofReaderAt struct{ b []byte }

func (e eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(e.b).ReadAt(p, off)
	if err == nil && off+int64(n) == int64(len(e.b)) {
		err = io.EOF
	}
	return n, err
}

// TestHostileReaderAtEOFWithLastRead: a source that returns (len(p),
// io.EOF) for the final frame must not be taken for a truncated body.
func TestHostileReaderAtEOFWithLastRead(t *testing.T) {
	for _, size := range []int{0, 1, 100, 250} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			cfg := testConfig(t, 100, 2)
			pt := streamPlaintext(size)
			body := sealed(t, cfg, pt)
			ra, err := NewReaderAt(eofReaderAt{body}, 0, int64(len(body)), cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, size+1)
			n, err := ra.ReadAt(got, 0)
			if err != io.EOF || !bytes.Equal(got[:n], pt) {
				t.Fatalf("%d bytes, %v; want all of them and io.EOF", n, err)
			}
			if size > 0 {
				if n, err := ra.ReadAt(got[:1], int64(size-1)); n != 1 || err != nil || got[0] != pt[size-1] {
					t.Fatalf("last byte: %d, %v", n, err)
				}
			}
		})
	}
}
