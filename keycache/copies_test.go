package keycache

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestMaterialsAreCopies: materials served from the cache may share the
// request's context, never the cache's: a caller that changes every field
// of what it was handed (context, data keys, data key) changes nothing
// the next request is served.
func TestMaterialsAreCopies(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"tenant": "clinic-7", "purpose": "lab-results"}
	spoil := func(got map[string]string, edks []envelope.EncryptedDataKey, dk []byte) {
		for k := range got {
			got[k] = "changed"
		}
		got["added"] = "x"
		for i := range edks {
			edks[i] = envelope.EncryptedDataKey{ProviderID: "spoiled"}
		}
		clear(dk)
	}
	for _, suite := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		t.Run("encrypt/"+suite.String(), func(t *testing.T) {
			m := testManager(t, "p")
			get := func() *envelope.EncryptionMaterials {
				t.Helper()
				em, err := m.GetEncryptionMaterials(ctx, &envelope.EncryptionRequest{
					EncryptionContext: maps.Clone(ec), Suite: suite,
					CommitmentPolicy: envelope.RequireEncryptRequireDecrypt, PlaintextLength: 1,
				})
				if err != nil {
					t.Fatal(err)
				}
				return em
			}
			first := get() // the miss that fills the entry
			wantEC, wantEDKs, wantDK := maps.Clone(first.EncryptionContext), slices.Clone(first.EncryptedDataKeys), bytes.Clone(first.DataKey)
			for range 2 {
				got := get()
				if !maps.Equal(got.EncryptionContext, wantEC) || !slices.EqualFunc(got.EncryptedDataKeys, wantEDKs, sameEDK) || !bytes.Equal(got.DataKey, wantDK) {
					t.Fatalf("served %v %v, want %v %v: a caller's change reached the cache", got.EncryptionContext, got.EncryptedDataKeys, wantEC, wantEDKs)
				}
				spoil(got.EncryptionContext, got.EncryptedDataKeys, got.DataKey)
			}
			if st := m.Stats(); st.Hits != 2 || st.Misses != 1 {
				t.Fatalf("stats %+v: want 1 miss and 2 hits", st)
			}
		})
	}
	t.Run("decrypt", func(t *testing.T) {
		m := testManager(t, "p")
		_, h := sealed(t, client(t, m), ec)
		var wantDK []byte
		for i := range 3 {
			got, err := m.DecryptMaterials(ctx, &envelope.DecryptionRequest{
				Suite: h.Suite, CommitmentPolicy: envelope.RequireEncryptRequireDecrypt,
				EncryptedDataKeys: h.EncryptedDataKeys, EncryptionContext: maps.Clone(ec),
			})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				wantDK = bytes.Clone(got.DataKey)
			}
			if !maps.Equal(got.EncryptionContext, ec) || !bytes.Equal(got.DataKey, wantDK) {
				t.Fatalf("served %v, want %v: a caller's change reached the cache", got.EncryptionContext, ec)
			}
			spoil(got.EncryptionContext, nil, got.DataKey)
		}
		if st := m.Stats(); st.Hits != 2 {
			t.Fatalf("stats %+v: want 2 hits", st)
		}
	})
}

func sameEDK(a, b envelope.EncryptedDataKey) bool {
	return a.ProviderID == b.ProviderID && bytes.Equal(a.ProviderInfo, b.ProviderInfo) && bytes.Equal(a.Ciphertext, b.Ciphertext)
}

// sealed returns a message of c under ec and its header.
func sealed(t *testing.T, c *envelope.Client, ec map[string]string) ([]byte, *envelope.Header) {
	t.Helper()
	ct, err := c.Encrypt(context.Background(), []byte("record"), ec)
	if err != nil {
		t.Fatal(err)
	}
	h, err := envelope.ParseHeader(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	return ct, h
}
