package envelope_test

import (
	"bytes"
	"context"
	"maps"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// addingManager returns the default materials manager's materials with a
// pair the caller did not give, as a materials manager of one's own may.
type addingManager struct{ under envelope.MaterialsManager }

func (a addingManager) GetEncryptionMaterials(ctx context.Context, req *envelope.EncryptionRequest) (*envelope.EncryptionMaterials, error) {
	m, err := a.under.GetEncryptionMaterials(ctx, req)
	if err != nil {
		return nil, err
	}
	m.EncryptionContext["added"] = "by the manager"
	delete(m.EncryptionContext, "dropped")
	return m, nil
}

func (a addingManager) DecryptMaterials(ctx context.Context, req *envelope.DecryptionRequest) (*envelope.DecryptionMaterials, error) {
	return a.under.DecryptMaterials(ctx, req)
}

// TestHeaderContextFromMaterials: the header stores the materials'
// context, not the caller's pairs sorted before materials were asked for,
// when the materials' context differs from them, in its size or not.
func TestHeaderContextFromMaterials(t *testing.T) {
	ctx := context.Background()
	c, err := envelope.NewWithMaterialsManager(addingManager{envelope.NewDefaultMaterialsManager(aesKeyring(t))},
		envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
	if err != nil {
		t.Fatal(err)
	}
	for _, ec := range []map[string]string{
		{"tenant": "clinic-7"},
		{"tenant": "clinic-7", "dropped": "x"}, // as many pairs as the caller gave
	} {
		want := map[string]string{"tenant": "clinic-7", "added": "by the manager"}
		ct, err := c.Encrypt(ctx, []byte("plaintext"), maps.Clone(ec))
		if err != nil {
			t.Fatal(err)
		}
		h, err := envelope.ParseHeader(bytes.NewReader(ct))
		if err != nil || !maps.Equal(h.EncryptionContext, want) {
			t.Fatalf("header context %v, %v; want %v", h.EncryptionContext, err, want)
		}
	}
}
