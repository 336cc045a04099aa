package envelope

import (
	"bytes"
	"crypto/hkdf"
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

// TestDeriveCommittingHKDF checks the written-out derivation against
// crypto/hkdf for random inputs, both committing suites and every data
// key and message ID length it accepts.
func TestDeriveCommittingHKDF(t *testing.T) {
	for n := 0; n <= sha512.Size; n++ {
		dk, id := make([]byte, n), make([]byte, sha512.Size-n)
		rand.Read(dk)
		rand.Read(id)
		for _, suite := range []string{"\x04\x78", "\x05\x78"} {
			key, commit := deriveCommitting(dk, id, []byte(suite))
			wantKey, _ := hkdf.Key(sha512.New, dk, id, suite+"DERIVEKEY", 32)
			wantCommit, _ := hkdf.Key(sha512.New, dk, id, "COMMITKEY", 32)
			if !bytes.Equal(key[:], wantKey) || !bytes.Equal(commit[:], wantCommit) {
				t.Fatalf("%d-byte data key, %d-byte message ID: deriveCommitting differs from crypto/hkdf", len(dk), len(id))
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

// TestCommitmentMatches: two commitments match only if equal in every bit
// and both commitKeyLen bytes long.
func TestCommitmentMatches(t *testing.T) {
	a := make([]byte, commitKeyLen)
	rand.Read(a)
	if !commitmentMatches(a, bytes.Clone(a)) {
		t.Fatal("equal commitments do not match")
	}
	for bit := range 8 * commitKeyLen {
		b := bytes.Clone(a)
		b[bit/8] ^= 1 << (bit % 8)
		if commitmentMatches(a, b) || commitmentMatches(b, a) {
			t.Fatalf("commitments differing in bit %d match", bit)
		}
	}
	for _, n := range []int{0, 16, commitKeyLen - 1, commitKeyLen + 1, 64} {
		b := make([]byte, n)
		copy(b, a)
		if commitmentMatches(a[:min(n, commitKeyLen)], b) || commitmentMatches(b, b) {
			t.Fatalf("a %d-byte commitment matches", n)
		}
	}
}
