package kmslocal

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func testServer(t testing.TB) (*Server, Key) {
	t.Helper()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateKey(context.Background(), KeyOptions{Material: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func TestBlobLayout(t *testing.T) {
	material := bytes.Repeat([]byte{3}, 32)
	ctx := map[string]string{"b": "2", "a": "1"}
	b, err := sealBlob("key-1", material, []byte("pt"), ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 1 || b[1] != 5 || string(b[2:7]) != "key-1" || len(b) != 2+5+12+2+16 {
		t.Fatalf("layout % x", b)
	}
	bl, err := parseBlob(b)
	if err != nil || bl.keyID != "key-1" {
		t.Fatalf("parse: %v", err)
	}
	pt, err := bl.open(material, map[string]string{"a": "1", "b": "2"})
	if err != nil || string(pt) != "pt" {
		t.Fatalf("open: %v", err)
	}
	// Length prefixes keep {"ab":""} and {"a":"b"} apart.
	if bytes.Equal(aad(nil, map[string]string{"ab": ""}), aad(nil, map[string]string{"a": "b"})) {
		t.Fatal("ambiguous context encoding")
	}
	if !bytes.Equal(aad(nil, nil), aad(nil, map[string]string{})) {
		t.Fatal("nil and empty context differ")
	}
	if _, err := sealBlob(strings.Repeat("k", 256), material, nil, nil); err == nil {
		t.Fatal("256-byte key id accepted")
	}
}

func FuzzDecryptBlob(f *testing.F) {
	s, k := testServer(f)
	good, err := sealBlob(k.ID, bytes.Repeat([]byte{1}, 32), []byte("plaintext"), map[string]string{"k": "v"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "k", "v")
	f.Add(good[:len(good)-1], "k", "v")
	f.Add([]byte{1, 1, 'a'}, "", "")
	f.Add([]byte{}, "", "")
	f.Fuzz(func(t *testing.T, b []byte, ck, cv string) {
		ctx := map[string]string{ck: cv}
		if bl, err := parseBlob(b); err == nil {
			if !validKeyID(bl.keyID) || len(bl.nonce) != nonceSize || len(bl.sealed) < tagSize {
				t.Fatalf("parseBlob accepted %x", b)
			}
		} else if !errors.Is(err, ErrInvalidCiphertext) {
			t.Fatalf("parseBlob error %v", err)
		}
		_, pt, err := s.open(b, "", ctx)
		if err == nil {
			if !bytes.Equal(b, good) || string(pt) != "plaintext" || ck != "k" || cv != "v" {
				t.Fatalf("forged ciphertext %x decrypted", b)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
