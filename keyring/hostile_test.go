package keyring_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/keyring"
)

// failing is a keyring whose OnEncrypt fails.
type failing struct{}

var errFailing = errors.New("test: wrap failed")

func (failing) OnEncrypt(context.Context, *envelope.EncryptionMaterials) error { return errFailing }
func (failing) OnDecrypt(context.Context, *envelope.DecryptionMaterials, []envelope.EncryptedDataKey) error {
	return errFailing
}

// TestHostileFailedEncryptZeroesDataKey: a multi-keyring whose generator
// made the data key and whose child then failed, and a raw RSA keyring
// that generated the data key and could not wrap it (a 1024-bit key with
// OAEP-SHA512 holds no 32-byte key), returned the error with the data key
// left in the materials, never zeroed (envelope does not zero the
// materials of a failed OnEncrypt), against "data keys are zeroed".
func TestHostileFailedEncryptZeroesDataKey(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	small, err := keyring.NewRawRSA("ns", "small", keyring.OAEPSHA512, &priv.PublicKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var seen []byte
	multi, err := keyring.NewMulti(&spyKeyring{next: testkit.AESKeyring(t), seen: &seen}, failing{})
	if err != nil {
		t.Fatal(err)
	}
	for name, kr := range map[string]envelope.Keyring{"multi": multi, "raw RSA": small} {
		m := &envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit}
		if err := kr.OnEncrypt(ctx, m); err == nil {
			t.Fatalf("%s: no error", name)
		}
		if m.DataKey != nil || len(m.EncryptedDataKeys) != 0 {
			t.Errorf("%s: failed OnEncrypt left a data key or %d EDKs in the materials", name, len(m.EncryptedDataKeys))
		}
	}
	if len(seen) == 0 || !bytes.Equal(seen, make([]byte, len(seen))) {
		t.Errorf("multi: the generated data key was not zeroed: %d bytes", len(seen))
	}
}

// spyKeyring calls next and keeps the data key slice it left in m.
type spyKeyring struct {
	next envelope.Keyring
	seen *[]byte
}

func (s *spyKeyring) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	err := s.next.OnEncrypt(ctx, m)
	*s.seen = m.DataKey
	return err
}

func (s *spyKeyring) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	return s.next.OnDecrypt(ctx, m, edks)
}
