package keyring_test

import (
	"context"
	"errors"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/keyring"
)

// FuzzRawKeyringsOnDecrypt: the raw AES and RSA keyrings parse provider
// info and unwrap ciphertexts straight from a header. For any encrypted
// data key they never panic, and either return a data key of the suite's
// length or a NoDecryptionKeyError whose text stays under 4 KiB.
func FuzzRawKeyringsOnDecrypt(f *testing.F) {
	ctx := context.Background()
	keyrings := []envelope.Keyring{testkit.AESKeyring(f), testkit.RSAKeyring(f, keyring.PKCS1v15), testkit.RSAKeyring(f, keyring.OAEPSHA256)}
	ec := map[string]string{"k": "v"}
	for _, kr := range keyrings {
		m := &envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec}
		if err := kr.OnEncrypt(ctx, m); err != nil {
			f.Fatal(err)
		}
		e := m.EncryptedDataKeys[0]
		f.Add(e.ProviderID, e.ProviderInfo, e.Ciphertext)
		f.Add(e.ProviderID, e.ProviderInfo, e.Ciphertext[:len(e.Ciphertext)-1])
	}
	f.Fuzz(func(t *testing.T, id string, info, ct []byte) {
		edks := []envelope.EncryptedDataKey{{ProviderID: id, ProviderInfo: info, Ciphertext: ct}}
		for _, kr := range keyrings {
			m := &envelope.DecryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec}
			err := kr.OnDecrypt(ctx, m, edks)
			var nk *envelope.NoDecryptionKeyError
			switch {
			case err == nil && len(m.DataKey) != 32:
				t.Fatalf("%v: %d-byte data key", kr, len(m.DataKey))
			case err != nil && (!errors.As(err, &nk) || !errors.Is(err, envelope.ErrNoDecryptionKey)):
				t.Fatalf("%v: untyped error %v", kr, err)
			case err != nil && len(err.Error()) >= 4096:
				t.Fatalf("%v: %d-byte error", kr, len(err.Error()))
			}
		}
	})
}
