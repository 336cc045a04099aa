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

// shortDst takes half of one Write, once it holds at bytes, and says so
// with no error.
type shortDst struct {
	bytes.Buffer
	at   int
	done bool
}

func (d *shortDst) Write(p []byte) (int, error) {
	if d.done || d.Len() < d.at {
		return d.Buffer.Write(p)
	}
	d.done = true
	d.Buffer.Write(p[:len(p)/2])
	return len(p) / 2, nil
}

// TestDestinationCountsChecked: a destination that takes part of a
// Write and reports no error fails an EncryptWriter with
// io.ErrShortWrite wherever it happens (the header, the body, a signed
// message's footer) and a DecryptReader's WriteTo; before, the header and
// footer were written with their count ignored, a message with a hole and
// Close nil.
func TestDestinationCountsChecked(t *testing.T) {
	ctx := context.Background()
	pt := testPlaintext(100_000)
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(4096))
		msg, err := c.Encrypt(ctx, pt, nil)
		if err != nil {
			t.Fatal(err)
		}
		// In the header; in the body; signed, in the footer (2 + at most
		// 104 bytes: its Write starts past len(msg)-110, the final
		// frame's before).
		ats := []int{0, len(msg) / 2}
		if id == envelope.AES256GCMHKDFSHA512CommitP384 {
			ats = append(ats, len(msg)-110)
		}
		for _, at := range ats {
			d := &shortDst{at: at}
			w, err := c.NewEncryptWriter(ctx, d, nil)
			if err == nil {
				_, err = w.Write(pt)
				err = errors.Join(err, w.Close())
			}
			if !errors.Is(err, io.ErrShortWrite) {
				t.Errorf("suite %04x, EncryptWriter, short at %d of %d: %v, want io.ErrShortWrite", uint16(id), at, len(msg), err)
			}
		}
		r, err := c.NewDecryptReader(ctx, bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		d := &shortDst{at: len(pt) / 2}
		if _, err := io.Copy(d, r); !errors.Is(err, io.ErrShortWrite) || !bytes.HasPrefix(pt, d.Bytes()) {
			t.Errorf("suite %04x, DecryptReader: %v, want io.ErrShortWrite and a prefix", uint16(id), err)
		}
	}
}
