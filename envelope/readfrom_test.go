package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/phicrypt/phicrypt/envelope"
)

// onlyReader hides a reader's WriterTo, so that io.Copy calls ReadFrom.
type onlyReader struct{ io.Reader }

// TestEncryptWriterReadFrom: io.Copy into an EncryptWriter (its ReadFrom)
// writes the message Write does, for every suite, worker count, read size
// and length around the frame boundaries.
func TestEncryptWriterReadFrom(t *testing.T) {
	ctx := context.Background()
	const F = 16
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		for _, workers := range []int{1, 3} {
			c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(F), envelope.WithFrameWorkers(workers))
			for _, n := range []int{0, 1, F - 1, F, F + 1, 2 * F, 5*F + 7, 300 * F} {
				for _, feed := range []string{"whole", "bytes", "halves"} {
					pt := testPlaintext(n)
					var src io.Reader = onlyReader{bytes.NewReader(pt)}
					switch feed {
					case "bytes":
						src = iotest.OneByteReader(src)
					case "halves":
						src = iotest.HalfReader(src)
					}
					var buf bytes.Buffer
					w, err := c.NewEncryptWriter(ctx, &buf, nil)
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.Copy(w, src)
					if err != nil || got != int64(n) {
						t.Fatalf("%s/w%d/%d/%s: Copy %d, %v", id, workers, n, feed, got, err)
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
					want := mustEncrypt(t, c, pt, nil)
					if buf.Len() != len(want) {
						t.Fatalf("%s/w%d/%d/%s: %d bytes, Encrypt writes %d", id, workers, n, feed, buf.Len(), len(want))
					}
					if dec, _, err := c.Decrypt(ctx, buf.Bytes()); err != nil || !bytes.Equal(dec, pt) {
						t.Fatalf("%s/w%d/%d/%s: Decrypt: %v", id, workers, n, feed, err)
					}
				}
			}
		}
	}
}

// TestEncryptWriterReadFromDeclared: with a declared length, ReadFrom
// takes exactly that many bytes and fails on one more, as Write does.
func TestEncryptWriterReadFromDeclared(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(4))
	for _, tc := range []struct {
		declared, n int
		wantR       error // from ReadFrom
		wantC       error // from Close
	}{
		{10, 10, nil, nil},
		{0, 0, nil, nil},
		{10, 11, envelope.ErrPlaintextLength, envelope.ErrPlaintextLength},
		{10, 9, nil, envelope.ErrPlaintextLength},
	} {
		t.Run(fmt.Sprintf("%d-of-%d", tc.n, tc.declared), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := c.NewEncryptWriter(ctx, &buf, nil, envelope.WithPlaintextLength(int64(tc.declared)))
			if err != nil {
				t.Fatal(err)
			}
			_, rerr := io.Copy(w, onlyReader{bytes.NewReader(testPlaintext(tc.n))})
			cerr := w.Close()
			if !errors.Is(rerr, tc.wantR) || !errors.Is(cerr, tc.wantC) || (tc.wantR == nil) != (rerr == nil) || (tc.wantC == nil) != (cerr == nil) {
				t.Fatalf("ReadFrom %v, Close %v; want %v, %v", rerr, cerr, tc.wantR, tc.wantC)
			}
			if cerr == nil {
				if got, _, err := c.Decrypt(ctx, buf.Bytes()); err != nil || !bytes.Equal(got, testPlaintext(tc.n)) {
					t.Fatalf("Decrypt: %v", err)
				}
			}
		})
	}
}

// TestEncryptWriterReadFromSourceError: a source's read error is returned
// as is and loses nothing: the bytes read before it are in the message.
func TestEncryptWriterReadFromSourceError(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameLength(16))
	pt := testPlaintext(100)
	var buf bytes.Buffer
	w, err := c.NewEncryptWriter(ctx, &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := w.ReadFrom(io.MultiReader(bytes.NewReader(pt[:37]), iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Fatalf("ReadFrom: %v, want %v", err, boom)
	}
	if _, err := w.ReadFrom(bytes.NewReader(pt[37:])); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.Decrypt(ctx, buf.Bytes()); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Decrypt: %v", err)
	}
}
