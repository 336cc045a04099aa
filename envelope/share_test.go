package envelope_test

import (
	"context"
	"maps"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestContextsStayApart: the default materials manager may share a
// context between the call and its materials, but never so that one's
// change reaches the other: Encrypt leaves the caller's map as it was (a
// signed suite's public key goes into a copy), and a required pair the
// caller supplies on Decrypt is not added to the returned header's map.
func TestContextsStayApart(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t)
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		ec := map[string]string{"tenant": "t-1", "secret-scope": "s"}
		orig := maps.Clone(ec)
		req, err := envelope.NewWithMaterialsManager(
			envelope.NewRequiredContextMaterialsManager(envelope.NewDefaultMaterialsManager(kr), "secret-scope"),
			envelope.WithSuite(id))
		if err != nil {
			t.Fatal(err)
		}
		ct, err := req.Encrypt(ctx, []byte("pt"), ec)
		if err != nil {
			t.Fatal(err)
		}
		plain := newClient(t, kr, id)
		if _, err := plain.Encrypt(ctx, []byte("pt"), ec); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(ec, orig) {
			t.Fatalf("%s: Encrypt changed the caller's context: %v", id, ec)
		}
		_, h, err := plain.Decrypt(ctx, ct, envelope.WithExpectedContext(map[string]string{"secret-scope": "s"}))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := h.EncryptionContext["secret-scope"]; ok || h.EncryptionContext["tenant"] != "t-1" {
			t.Fatalf("%s: header context %v: the supplied pair leaked into it", id, h.EncryptionContext)
		}
	}
}
