package auditlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

func hmacKey(t testing.TB, b byte) *HMACKey {
	t.Helper()
	k, err := NewHMACKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type rec struct {
	Prev  string `json:"prev"`
	Input string `json:"input"`
}

func record(input string) func(string) ([]byte, error) {
	return func(prev string) ([]byte, error) { return json.Marshal(rec{prev, input}) }
}

// signedLog writes n records with a digest every 3 lines and at Close:
// for n = 7, lines r1 r2 r3 D r4 r5 r6 D r7 D (digests at lines 4, 8, 10).
func signedLog(t testing.TB, s Signer, head HeadStore, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b, Result{}, Options{Signer: s, DigestEvery: 3, Head: head, Now: func() time.Time { return time.Unix(1700000000, 0) }})
	for i := range n {
		if err := w.Append(ctx, record(fmt.Sprint("r", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func split(log []byte) []string {
	l := strings.SplitAfter(string(log), "\n")
	return l[:len(l)-1]
}

func join(lines []string) []byte { return []byte(strings.Join(lines, "")) }

func TestRoundTrip(t *testing.T) {
	head := FileHead(filepath.Join(t.TempDir(), "head.json"))
	for _, s := range []Signer{hmacKey(t, 1), ed25519Key(t, 1)} {
		log := signedLog(t, s, head, 7)
		lines := split(log)
		if len(lines) != 10 {
			t.Fatalf("%s: %d lines, want 10:\n%s", s.Alg(), len(lines), log)
		}
		for _, i := range []int{3, 7, 9} {
			if !strings.Contains(lines[i], `"type":"digest"`) {
				t.Fatalf("line %d is not a digest: %s", i+1, lines[i])
			}
		}
		exp, err := head.Get(ctx)
		if err != nil || string(exp) != lines[9] {
			t.Fatalf("head copy %q, %v; want the last digest line", exp, err)
		}
		res, err := Verify(ctx, bytes.NewReader(log), VerifyOptions{Signer: s, Expect: exp})
		if err != nil || res.Lines != 10 || res.Signed != 10 || res.Digests != 3 || CheckSigned(res) != nil {
			t.Fatalf("%s: Verify = %+v, %v", s.Alg(), res, err)
		}
		// Without a signer the chain verifies and nothing counts as signed.
		res, err = Verify(ctx, bytes.NewReader(log), VerifyOptions{})
		if err != nil || res.Signed != 0 || !errors.Is(CheckSigned(res), ErrUnverified) {
			t.Fatalf("unsigned Verify = %+v, %v", res, err)
		}
	}
}

func ed25519Key(t testing.TB, b byte) *Ed25519Key {
	t.Helper()
	k, err := NewEd25519Key(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEd25519PublicKeyVerifies(t *testing.T) {
	priv := ed25519Key(t, 2)
	pub, err := NewEd25519Key(nil, priv.pub)
	if err != nil {
		t.Fatal(err)
	}
	log := signedLog(t, priv, nil, 4)
	if _, err := Verify(ctx, bytes.NewReader(log), VerifyOptions{Signer: pub}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Sign(ctx, []byte("m")); err == nil {
		t.Fatal("a public key signed")
	}
}

func TestResume(t *testing.T) {
	s := hmacKey(t, 1)
	log := signedLog(t, s, nil, 4)
	var more bytes.Buffer
	w, err := Resume(ctx, bytes.NewReader(log), &more, Options{Signer: s, DigestEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	w.Append(ctx, record("r5"))
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	all := append(bytes.Clone(log), more.Bytes()...)
	res, err := Verify(ctx, bytes.NewReader(all), VerifyOptions{Signer: s})
	if err != nil || res.Unverified() != 0 || res.Lines != len(split(log))+2 {
		t.Fatalf("after resume: %+v, %v", res, err)
	}
	// A signed log is not extended without its key.
	if _, err := Resume(ctx, bytes.NewReader(all), &more, Options{}); err == nil {
		t.Fatal("Resume without a signer extended a signed log")
	}
	// Nothing to sign, nothing written.
	more.Reset()
	w, _ = Resume(ctx, bytes.NewReader(all), &more, Options{Signer: s})
	if err := w.Close(ctx); err != nil || more.Len() != 0 {
		t.Fatalf("Close with no new lines wrote %q, %v", more.Bytes(), err)
	}
}

func TestParseDigestRejects(t *testing.T) {
	log := signedLog(t, hmacKey(t, 1), nil, 1)
	good := split(log)[1]
	if _, err := ParseDigest([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(good, `"type":"digest"`, `"type":"digesT"`, 1),
		strings.Replace(good, `"alg":"HMAC-SHA256"`, `"alg":"a\nb"`, 1),
		strings.Replace(good, `"lines":1`, `"lines":-1`, 1),
		strings.Replace(good, `"time":"`, `"time":"x`, 1),
		strings.Replace(good, `{`, `{"extra":1,`, 1),
		good + "{}",
	} {
		if _, err := ParseDigest([]byte(bad)); err == nil {
			t.Errorf("ParseDigest accepted %q", bad)
		}
	}
}

func TestLongLine(t *testing.T) {
	log := append(bytes.Repeat([]byte("x"), MaxLine+10), '\n')
	_, err := Verify(ctx, bytes.NewReader(log), VerifyOptions{})
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Line != 1 || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Verify of a long line: %v", err)
	}
}
