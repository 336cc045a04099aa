package jsesdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/phicrypt/phicrypt/interop/esdk/official"
)

func needJS(t *testing.T) {
	t.Helper()
	if !Available() {
		t.Skip("JavaScript ESDK not installed: " + SetupHint)
	}
}

func newKey(t *testing.T) ([]byte, string) {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k, hex.EncodeToString(k)
}

const (
	ns   = "phicrypt-interop"
	name = "aes-256"
)

var ec = map[string]string{"purpose": "js-interop", "unicode-ключ": "значение \U0001F510"}

func pt(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 31)
	}
	return p
}

func TestJSRoundTrip(t *testing.T) {
	needJS(t)
	ctx := context.Background()
	_, kh := newKey(t)
	for _, tc := range []struct{ size, frame int }{{0, 0}, {1, 0}, {4096, 0}, {5000, 1024}, {2048, 1024}} {
		in := pt(tc.size)
		ct, err := Encrypt(ctx, kh, ns, name, tc.frame, ec, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) < 3 || ct[0] != 2 || ct[1] != 0x05 || ct[2] != 0x78 {
			t.Fatalf("JS message does not start with 02 0578: % x", ct[:min(3, len(ct))])
		}
		out, err := Decrypt(ctx, kh, ns, name, 0, ec, ct)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("size %d frame %d: err %v, equal %v", tc.size, tc.frame, err, bytes.Equal(out, in))
		}
	}
	ct, err := Encrypt(ctx, kh, ns, name, 0, ec, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(ctx, kh, ns, name, 0, map[string]string{"purpose": "other"}, ct); err == nil {
		t.Error("JS decrypt accepted a mismatching encryption context")
	}
	_, other := newKey(t)
	if _, err := Decrypt(ctx, other, ns, name, 0, nil, ct); err == nil {
		t.Error("JS decrypt accepted the wrong key")
	}
}

func TestJSToOfficialGo(t *testing.T) {
	needJS(t)
	ctx := context.Background()
	k, kh := newKey(t)
	for _, tc := range []struct{ size, frame int }{{0, 0}, {100, 0}, {4096, 4096}, {10000, 1000}} {
		in := pt(tc.size)
		ct, err := Encrypt(ctx, kh, ns, name, tc.frame, ec, in)
		if err != nil {
			t.Fatal(err)
		}
		out, gotEC, suite, err := official.Decrypt(ctx, official.DecryptInput{
			AES:     []official.RawAESKey{{Namespace: ns, Name: name, Key: k}},
			Context: ec, Ciphertext: ct,
		})
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("size %d frame %d: err %v, equal %v", tc.size, tc.frame, err, bytes.Equal(out, in))
		}
		if suite != 0x0578 {
			t.Errorf("suite 0x%04x", suite)
		}
		for k, v := range ec {
			if gotEC[k] != v {
				t.Errorf("EC[%q] = %q", k, gotEC[k])
			}
		}
	}
}

func TestOfficialGoToJS(t *testing.T) {
	needJS(t)
	ctx := context.Background()
	k, kh := newKey(t)
	for _, tc := range []struct {
		size  int
		frame int64
		suite uint16
	}{{0, 0, 0}, {100, 0, 0x0478}, {4096, 4096, 0x0578}, {10000, 999, 0x0478}} {
		in := pt(tc.size)
		ct, err := official.Encrypt(ctx, official.EncryptInput{
			AES:   []official.RawAESKey{{Namespace: ns, Name: name, Key: k}},
			Suite: tc.suite, FrameLength: tc.frame, Context: ec, Plaintext: in,
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := Decrypt(ctx, kh, ns, name, 0, ec, ct)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("size %d frame %d suite 0x%04x: err %v, equal %v", tc.size, tc.frame, tc.suite, err, bytes.Equal(out, in))
		}
	}
}
