package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestLongStreamsInTurns: a long message through io.Copy both ways with
// workers (each worker reads, seals or opens, and writes in turns) is the
// message one Write makes, for both suites and the official SDKs' frame
// length; a signed one with a changed signature releases none of its
// final frame and fails with a typed error.
func TestLongStreamsInTurns(t *testing.T) {
	ctx := context.Background()
	pt := testPlaintext(6<<20 + 77) // a final frame of 77 bytes
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		for _, F := range []int{4 << 10, 64 << 10} {
			c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(F), envelope.WithFrameWorkers(2))
			var msg bytes.Buffer
			w, err := c.NewEncryptWriter(ctx, &msg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, onlyReader{bytes.NewReader(pt)}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := c.NewDecryptReader(ctx, bytes.NewReader(msg.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := io.Copy(onlyWriter{&out}, r); err != nil || !bytes.Equal(out.Bytes(), pt) {
				t.Fatalf("suite %04x, F %d: %v; round trip equal: %v", uint16(id), F, err, bytes.Equal(out.Bytes(), pt))
			}
			if id != envelope.AES256GCMHKDFSHA512CommitP384 {
				continue
			}
			bad := bytes.Clone(msg.Bytes())
			bad[len(bad)-5] ^= 1 // in the signature
			r, err = c.NewDecryptReader(ctx, bytes.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			out.Reset()
			_, err = io.Copy(onlyWriter{&out}, r)
			if !errors.Is(err, envelope.ErrSignature) || out.Len() > len(pt)-77 || !bytes.Equal(out.Bytes(), pt[:out.Len()]) {
				t.Fatalf("F %d, signature changed: %v (%T); released %d of %d bytes", F, err, err, out.Len(), len(pt))
			}
		}
	}
}

// onlyWriter hides a writer's ReadFrom, so that io.Copy calls WriteTo.
type onlyWriter struct{ io.Writer }
