package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// lying gives its bytes 1,000 at a time, then, once it has given at,
// answers every Read with count (and no bytes, no error).
type lying struct {
	b         []byte
	at, count int
	given     int
}

func (l *lying) Read(p []byte) (int, error) {
	if l.given >= l.at {
		return l.count, nil
	}
	if len(l.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, l.b[:min(len(l.b), 1000, l.at-l.given)])
	l.b, l.given = l.b[n:], l.given+n
	return n, nil
}

// TestSourceCountsChecked: a message's source that lies about what it
// read, in the header or the body, fails a DecryptReader, Reencrypt and
// an EncryptWriter's ReadFrom with io.ErrShortBuffer (io.ErrNoProgress
// for Reads that return nothing forever), never a panic (bufio.Reader,
// which reads the header, panics on a negative count) and never a
// message with plaintext missing.
func TestSourceCountsChecked(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(4096))
	pt := testPlaintext(100_000)
	msg, err := c.Encrypt(ctx, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, lie := range []struct {
		count int
		want  error
	}{{-1, io.ErrShortBuffer}, {1 << 20, io.ErrShortBuffer}, {0, io.ErrNoProgress}} {
		for _, at := range []int{50, len(msg) / 2} { // in the header; in the body
			err := func() (err error) {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("count %d at %d: panic %v", lie.count, at, p)
					}
				}()
				r, err := c.NewDecryptReader(ctx, &lying{b: msg, at: at, count: lie.count})
				if err != nil {
					return err
				}
				got, err := io.ReadAll(r)
				if !bytes.HasPrefix(pt, got) {
					t.Fatalf("count %d at %d: released bytes not of the plaintext", lie.count, at)
				}
				return err
			}()
			if !errors.Is(err, lie.want) {
				t.Errorf("DecryptReader, count %d at %d: %v, want %v", lie.count, at, err, lie.want)
			}
			if _, err := c.Reencrypt(ctx, io.Discard, &lying{b: msg, at: at, count: lie.count}, c, nil); !errors.Is(err, lie.want) {
				t.Errorf("Reencrypt, count %d at %d: %v, want %v", lie.count, at, err, lie.want)
			}
		}
		var out bytes.Buffer
		w, err := c.NewEncryptWriter(ctx, &out, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(w, &lying{b: pt, at: len(pt) / 2, count: lie.count})
		if !errors.Is(err, lie.want) || n != int64(len(pt)/2) {
			t.Errorf("EncryptWriter, count %d: %d bytes, %v; want %d, %v", lie.count, n, err, len(pt)/2, lie.want)
		}
	}
}
