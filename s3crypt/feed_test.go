package s3crypt

import (
	"bytes"
	"io"
	"testing"
)

// recordWriter records how feed hands it the plaintext.
type recordWriter struct {
	writes    []int // lengths of the Writes
	readFroms int
	got       bytes.Buffer
}

func (w *recordWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.got.Write(p)
}

func (w *recordWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFroms++
	return io.Copy(struct{ io.Writer }{w}, r)
}

// A body in memory with a declared length reaches the encrypt writer as
// one Write of that length (the frames are sealed straight from it), and
// the bytes past it stay unread in the body.
func TestFeedInMemoryBodyOneWrite(t *testing.T) {
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	const size = 2 << 20
	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"bytes.Reader", bytes.NewReader(data)},
		{"bytes.Buffer", bytes.NewBuffer(bytes.Clone(data))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Client
			w := &recordWriter{}
			n, err := c.feed(w, tc.body, size)
			if err != nil || n != size {
				t.Fatalf("feed = %d, %v; want %d, nil", n, err, size)
			}
			if len(w.writes) != 1 || w.writes[0] != size || w.readFroms != 0 {
				t.Errorf("writes %v, %d ReadFrom calls; want one Write of %d bytes", w.writes, w.readFroms, size)
			}
			if !bytes.Equal(w.got.Bytes(), data[:size]) {
				t.Error("the bytes written are not the body's first bytes")
			}
			if left := tc.body.(interface{ Len() int }).Len(); left != len(data)-size {
				t.Errorf("%d bytes left in the body, want %d", left, len(data)-size)
			}
		})
	}
}

// A body shorter than its declared length is written whole: the encrypt
// writer's Close reports the short length. A body of another type is read
// up to the length and no further.
func TestFeedShortAndStreamedBodies(t *testing.T) {
	data := bytes.Repeat([]byte("phicrypt"), 1000)
	var c Client
	w := &recordWriter{}
	if n, err := c.feed(w, bytes.NewReader(data), int64(len(data))+10); err != nil || n != int64(len(data)) {
		t.Fatalf("short body: feed = %d, %v; want %d, nil", n, err, len(data))
	}
	body := bytes.NewReader(data)
	w = &recordWriter{}
	if n, err := c.feed(w, struct{ io.Reader }{body}, 100); err != nil || n != 100 {
		t.Fatalf("streamed body: feed = %d, %v; want 100, nil", n, err)
	}
	if !bytes.Equal(w.got.Bytes(), data[:100]) || body.Len() != len(data)-100 {
		t.Errorf("streamed body: wrote %d bytes, %d left in the body; want the first 100, %d left", w.got.Len(), body.Len(), len(data)-100)
	}
}
