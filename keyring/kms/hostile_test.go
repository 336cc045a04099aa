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

// TestHostileEncryptAnswerForAnotherKey: asked to GenerateDataKey or
// Encrypt under a key named by its ARN or key id, a KMS answers with a
// data key wrapped under another key (its KeyId the other key's ARN).
// OnEncrypt accepted it and wrote an EDK the configured key cannot
// decrypt: the message is sealed for someone else's key while the writer
// believes it is under its own, although the README counts a KeyId that
// does not fit the request as ErrBadResponse (as Decrypt already did). An
// alias may name any key, so an alias request accepts any key ARN.
func TestHostileEncryptAnswerForAnotherKey(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	a, b, other := env.CreateKey(t), env.CreateKey(t, "alias/hostile-b"), env.CreateKey(t)
	keyID := func(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }
	spoil := func(o **string) { *o = aws.String(other) }
	for name, c := range map[string]struct {
		kr *kms.Keyring
		hc *hookClient
	}{
		"GenerateDataKey ARN":    {hc: &hookClient{next: env.Client, gdk: func(o *awskms.GenerateDataKeyOutput) { spoil(&o.KeyId) }}},
		"GenerateDataKey key id": {hc: &hookClient{next: env.Client, gdk: func(o *awskms.GenerateDataKeyOutput) { spoil(&o.KeyId) }}},
		"Encrypt ARN":            {hc: &hookClient{next: env.Client, enc: func(_ *awskms.EncryptInput, o *awskms.EncryptOutput) { spoil(&o.KeyId) }}},
		"Encrypt key id":         {hc: &hookClient{next: env.Client, enc: func(_ *awskms.EncryptInput, o *awskms.EncryptOutput) { spoil(&o.KeyId) }}},
	} {
		gen, add := a, b
		if strings.HasSuffix(name, "key id") {
			gen, add = keyID(a), keyID(b)
		}
		em := &envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec}
		err := strict(t, c.hc, gen, kms.WithAdditionalKeys(add)).OnEncrypt(ctx, em)
		if !errors.Is(err, kms.ErrBadResponse) || em.DataKey != nil || len(em.EncryptedDataKeys) != 0 {
			t.Errorf("%s: %v (EDKs %d), want ErrBadResponse", name, err, len(em.EncryptedDataKeys))
		}
	}
	// An alias names whatever key it names: its answer is that key's ARN.
	em := &envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec}
	if err := strict(t, env.Client, "alias/hostile-b", kms.WithAdditionalKeys(keyID(a))).OnEncrypt(ctx, em); err != nil || len(em.EncryptedDataKeys) != 2 {
		t.Fatalf("alias generator: %v", err)
	}
}
