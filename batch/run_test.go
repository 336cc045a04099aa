package batch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// TestWorkersForDefault: a large file gets the library's default frame
// workers (WithFrameWorkers(0): one fewer than the CPUs for a signing
// suite, leaving its hash a core) unless the user set --concurrency; a
// small one works serially.
func TestWorkersForDefault(t *testing.T) {
	for _, c := range []struct {
		concurrency int
		size        int64
		want        int
	}{
		{0, bigFile, 0},
		{0, -1, 0}, // unknown size: may be large
		{0, bigFile - 1, 1},
		{3, bigFile, 3},
		{3, -1, 3},
		{3, 10, 1},
		{-1, bigFile, 0},
	} {
		r := &runner{o: &Options{Concurrency: c.concurrency}}
		r.workers, _ = concurrency(c.concurrency)
		if got := r.workersFor(c.size); got != c.want {
			t.Errorf("Concurrency %d, size %d: %d frame workers, want %d", c.concurrency, c.size, got, c.want)
		}
	}
}

// closeCounter counts Close calls.
type closeCounter struct{ n int }

func (c *closeCounter) Close() error { c.n++; return nil }

// checkOutput is an output whose commit calls check.
type checkOutput struct {
	bytes.Buffer
	check func()
}

func (o *checkOutput) commit() error { o.check(); return nil }
func (o *checkOutput) abort()        {}

// TestCommitClosesInput: a job waiting for its output's commit has closed
// its input (once), so that jobs waiting hold their outputs open only.
func TestCommitClosesInput(t *testing.T) {
	in := &closeCounter{}
	j := &job{input: in}
	out := &checkOutput{check: func() {
		if in.n != 1 {
			t.Errorf("input closed %d times when the commit waits, want 1", in.n)
		}
	}}
	if err := commit(context.Background(), j, out, &countWriter{w: out}, &Record{}); err != nil {
		t.Fatal(err)
	}
	j.closeInput()
	if in.n != 1 {
		t.Errorf("input closed %d times, want 1", in.n)
	}
}

// readSizes records the length of every Read's buffer.
type readSizes struct {
	r     io.Reader
	sizes []int
}

func (s *readSizes) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return s.r.Read(p)
}

// TestPeekHeader: decrypt's header peek parses the header and hands the
// whole message on; past the peeked bytes the message is read straight
// from the input with the reader's own buffers (through a peek-sized
// buffer, every smaller read was a fill of it and a second copy); an
// input shorter than the peek, or one that fails, reads as it was.
func TestPeekHeader(t *testing.T) {
	c := zeroKeyClient(t, 4096)
	ctx := context.Background()
	for _, n := range []int{0, 1000, headerPeek, 3 * headerPeek} {
		msg, err := c.Encrypt(ctx, make([]byte, n), map[string]string{"tenant": "t1"})
		if err != nil {
			t.Fatal(err)
		}
		in := &readSizes{r: bytes.NewReader(msg)}
		h, src, err := peekHeader(in)
		if err != nil || h.EncryptionContext["tenant"] != "t1" {
			t.Fatalf("%d bytes: header %v, %v", n, h, err)
		}
		peeked := len(in.sizes)
		var got bytes.Buffer
		buf := make([]byte, 8<<10)
		if _, err := io.CopyBuffer(struct{ io.Writer }{&got}, struct{ io.Reader }{src}, buf); err != nil || !bytes.Equal(got.Bytes(), msg) {
			t.Fatalf("%d bytes: %d bytes read back, %v", n, got.Len(), err)
		}
		if len(msg) <= headerPeek {
			continue // all of it was peeked
		}
		for _, size := range in.sizes[peeked:] {
			if size > len(buf) {
				t.Fatalf("%d bytes: the input was read %d bytes at a time after the peek (%v), want the reader's %d", n, size, in.sizes[peeked:], len(buf))
			}
		}
	}
	boom := errors.New("disk on fire")
	in := io.MultiReader(bytes.NewReader([]byte{2, 0x04}), iotest.ErrReader(boom))
	_, src, err := peekHeader(in)
	if err == nil {
		t.Fatal("a 2-byte header parsed")
	}
	if _, err := io.ReadAll(src); !errors.Is(err, boom) {
		t.Fatalf("reading a failed input: %v, want %v", err, boom)
	}
}

// zeroKeyClient is a client of a raw AES keyring ("k1", an all-zero key)
// writing frames of frame bytes.
func zeroKeyClient(tb testing.TB, frame int) *envelope.Client {
	tb.Helper()
	kr, err := keyring.NewRawAES(KeyNamespace, "k1", make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := envelope.New(kr, envelope.WithFrameLength(frame))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
