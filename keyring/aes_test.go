package keyring_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// TestRawAESOneAllocation: OnEncrypt generates the data key and wraps it
// in one allocation; zeroing the data key, as the client does, leaves the
// encrypted data key intact, and OnDecrypt unwraps the original key.
func TestRawAESOneAllocation(t *testing.T) {
	ctx := context.Background()
	kr, err := keyring.NewRawAES("ns", "key", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"tenant": "clinic-7", "purpose": "test"}
	var m envelope.EncryptionMaterials
	edks := make([]envelope.EncryptedDataKey, 0, 1) // as the materials manager's
	allocs := testing.AllocsPerRun(20, func() {
		m = envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec, EncryptedDataKeys: edks[:0]}
		if err := kr.OnEncrypt(ctx, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("OnEncrypt: %v allocations, want 1", allocs)
	}
	if len(m.DataKey) != 32 || cap(m.DataKey) != 32 || len(m.EncryptedDataKeys) != 1 {
		t.Fatalf("data key len %d cap %d, %d EDKs", len(m.DataKey), cap(m.DataKey), len(m.EncryptedDataKeys))
	}
	want := bytes.Clone(m.DataKey)
	edk := m.EncryptedDataKeys[0]
	saved := bytes.Clone(edk.Ciphertext)
	// The data key follows the IV in the buffer: appending to the provider
	// info reaches neither it nor the ciphertext.
	_ = append(edk.ProviderInfo, ^want[0], ^edk.Ciphertext[0])
	if !bytes.Equal(m.DataKey, want) || !bytes.Equal(edk.Ciphertext, saved) || bytes.Equal(want, make([]byte, 32)) {
		t.Fatal("appending to the provider info changed the data key or its ciphertext")
	}
	clear(m.DataKey)
	if !bytes.Equal(edk.Ciphertext, saved) {
		t.Fatal("zeroing the data key changed the encrypted data key")
	}
	d := envelope.DecryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec}
	if err := kr.OnDecrypt(ctx, &d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.DataKey, want) {
		t.Fatalf("OnDecrypt: %x, %v; want %x", d.DataKey, err, want)
	}
	// A data key another keyring generated is wrapped, not replaced.
	given := bytes.Repeat([]byte{9}, 32)
	m = envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec, DataKey: given}
	if err := kr.OnEncrypt(ctx, &m); err != nil || &m.DataKey[0] != &given[0] {
		t.Fatalf("OnEncrypt with a data key: %v", err)
	}
	d = envelope.DecryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec}
	if err := kr.OnDecrypt(ctx, &d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.DataKey, given) {
		t.Fatalf("OnDecrypt of a given key: %v", err)
	}
}
