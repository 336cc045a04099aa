package kms_test

import (
	"bytes"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// TestProcessRoundTrip runs the core round trip against a kmslocal process
// ($PHICRYPT_KMS_ENDPOINT; bash scripts/test.sh starts one), whose keys
// are created here through the CreateKey operation.
func TestProcessRoundTrip(t *testing.T) {
	env := kmstest.Process(t)
	arn := env.CreateKey(t)
	kr := strict(t, env.Client, arn)
	for _, suite := range suites {
		c := client(t, kr, envelope.WithSuite(suite))
		p := plaintext(100000)
		msg, err := c.Encrypt(ctx, p, ec)
		if err != nil {
			t.Fatalf("%s: encrypt: %v", suite, err)
		}
		if info := string(header(t, msg).EncryptedDataKeys[0].ProviderInfo); info != arn {
			t.Fatalf("%s: provider info %q, want %q", suite, info, arn)
		}
		got, _, err := c.Decrypt(ctx, msg)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%s: decrypt: %v", suite, err)
		}
		h := header(t, msg)
		m := &envelope.DecryptionMaterials{Suite: suite, EncryptionContext: map[string]string{"purpose": "other"}}
		err = kr.OnDecrypt(ctx, m, h.EncryptedDataKeys)
		checkNoDecryptionKey(t, err)
		checkKMSError(t, err, "Decrypt", "InvalidCiphertextException")
	}
	other := env.CreateKey(t)
	msg, err := client(t, kr).Encrypt(ctx, plaintext(10), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = client(t, strict(t, env.Client, other)).Decrypt(ctx, msg)
	checkNoDecryptionKey(t, err)
}
