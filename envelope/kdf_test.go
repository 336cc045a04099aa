package envelope

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"testing"
)

// TestDeriveKAT checks the committing-suite derivation against the known
// answers of a message written by the official Go ESDK (ESDK-NOTES.md,
// appendix A: go-official-0478-one).
func TestDeriveKAT(t *testing.T) {
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	dataKey := h("066c97f6b68e6462274233402dc89575888e5f4379f6421a8641f2577b137cea")
	msgID := h("15048d11c4c00fe2186fae8ca5fde924492922c053f78709c7f410c843a7e665")
	key, commit := deriveCommitting(dataKey, msgID, []byte{0x04, 0x78})
	if want := h("25f929c5e4763bbef8cd7d29285bb7fe0bd92f150da66899421f959b9f02c4f5"); !bytes.Equal(key[:], want) {
		t.Errorf("derived key %x, want %x", key, want)
	}
	if want := h("541aca8eb11ca9e0c63b25b46b19e69035d8a3621c825cf16a42ee6d1630dad0"); !bytes.Equal(commit[:], want) {
		t.Errorf("commit key %x, want %x", commit, want)
	}
	// The final frame of that message (1 byte, 0xA5) opens under the key.
	s, _ := lookupSuite(AES256GCMHKDFSHA512Commit)
	aead, c2, err := deriveKey(s, dataKey, msgID, false)
	if err != nil || c2 != commit {
		t.Fatal(err)
	}
	aad := append(append(append([]byte{}, msgID...), "AWSKMSEncryptionClient Final Frame"...), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1)
	pt, err := aead.Open(nil, h("000000000000000000000001"), h("5ff099fe7b8aaa3add4e345f0c5bc4d29f"), aad)
	if err != nil || !bytes.Equal(pt, []byte{0xA5}) {
		t.Fatalf("known final frame: %x, %v", pt, err)
	}
}

// TestHMACSHA512 checks the stack HMAC against crypto/hmac for every key
// and message length it accepts, and the derivation against crypto/hkdf.
func TestHMACSHA512(t *testing.T) {
	buf := make([]byte, 256)
	rand.Read(buf)
	for kl := 0; kl <= sha512.BlockSize; kl += 7 {
		for ml := 0; ml <= sha512.Size; ml += 5 {
			key, msg := buf[:kl], buf[128:128+ml]
			h := hmac.New(sha512.New, key)
			h.Write(msg)
			want := h.Sum(nil)
			got := hmacSHA512(key, msg[:ml/2], msg[ml/2:])
			if !bytes.Equal(got[:], want) {
				t.Fatalf("key %d, msg %d bytes: %x, want %x", kl, ml, got, want)
			}
		}
	}
	for range 50 {
		dk, id := make([]byte, 32), make([]byte, 32)
		rand.Read(dk)
		rand.Read(id)
		key, commit := deriveCommitting(dk, id, []byte{0x05, 0x78})
		wantKey, _ := hkdf.Key(sha512.New, dk, id, "\x05\x78DERIVEKEY", 32)
		wantCommit, _ := hkdf.Key(sha512.New, dk, id, "COMMITKEY", 32)
		if !bytes.Equal(key[:], wantKey) || !bytes.Equal(commit[:], wantCommit) {
			t.Fatal("deriveCommitting differs from crypto/hkdf")
		}
	}
}

func BenchmarkDeriveCommitting(b *testing.B) {
	dk, id := make([]byte, 32), make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		deriveCommitting(dk, id, []byte{0x04, 0x78})
	}
}
