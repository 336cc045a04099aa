package kms_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// TestHostileResponseKeyIDCut: a KMS answers GenerateDataKey or Encrypt
// with a KeyId of 512 KiB (within NewClient's 1 MiB body limit) that is no
// key ARN. OnEncrypt refuses it with ErrBadResponse but quoted the KeyId
// whole, twice (its own text and ParseARN's), so Client.Encrypt returned an
// error text of over 1 MiB, against the README's bound of errors built from
// a KMS response body being cut. ParseARN on a long provider info, and a
// Decrypt answer naming another key, are cut the same way.
func TestHostileResponseKeyIDCut(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	a, b := env.CreateKey(t), env.CreateKey(t)
	huge := "arn:aws:kms:us-east-1:111122223333:alias/" + strings.Repeat("\x1bx", 256<<10)
	const limit = 4 << 10
	cases := map[string]*hookClient{
		"GenerateDataKey": {next: env.Client, gdk: func(o *awskms.GenerateDataKeyOutput) { o.KeyId = aws.String(huge) }},
		"Encrypt":         {next: env.Client, enc: func(_ *awskms.EncryptInput, o *awskms.EncryptOutput) { o.KeyId = aws.String(huge) }},
	}
	for name, hc := range cases {
		_, err := client(t, strict(t, hc, a, kms.WithAdditionalKeys(b))).Encrypt(ctx, plaintext(10), ec)
		if !errors.Is(err, kms.ErrBadResponse) {
			t.Errorf("%s: %.200v, want ErrBadResponse", name, err)
		} else if n := len(err.Error()); n > limit {
			t.Errorf("%s: error text of %d bytes for a %d-byte KeyId", name, n, len(huge))
		}
	}
	for _, s := range []string{huge + ":", strings.Replace(huge, "alias/", "other/", 1)} {
		if _, err := kms.ParseARN(s); !errors.Is(err, kms.ErrInvalidARN) || len(err.Error()) > limit {
			t.Errorf("ParseARN: %d-byte error text, ErrInvalidARN %v", len(err.Error()), errors.Is(err, kms.ErrInvalidARN))
		}
	}
	msg, err := client(t, strict(t, env.Client, a)).Encrypt(ctx, plaintext(10), ec)
	if err != nil {
		t.Fatal(err)
	}
	h := header(t, msg)
	hc := &hookClient{next: env.Client, dec: func(_ *awskms.DecryptInput, o *awskms.DecryptOutput) { o.KeyId = aws.String(huge) }}
	m := &envelope.DecryptionMaterials{Suite: h.Suite, EncryptionContext: h.EncryptionContext}
	nd := checkNoDecryptionKey(t, strict(t, hc, a).OnDecrypt(ctx, m, h.EncryptedDataKeys))
	for _, e := range nd.Errs {
		if !errors.Is(e, kms.ErrBadResponse) || len(e.Error()) > limit {
			t.Errorf("Decrypt: reason of %d bytes: %.200v", len(e.Error()), e)
		}
	}
}
