package kmslocal_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// EnsureKey creates a key for an alias once; later calls, and later
// servers on the same data dir, get the same key.
func TestEnsureKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := kmslocal.New(kmslocal.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	k1, created, err := s1.EnsureKey(ctx, "alias/app", "")
	if err != nil || !created {
		t.Fatalf("first EnsureKey: %v created=%v", err, created)
	}
	h1, created, err := s1.EnsureKey(ctx, "alias/mac", "HMAC_256")
	if err != nil || !created {
		t.Fatalf("HMAC EnsureKey: %v created=%v", err, created)
	}
	s2, c2 := newServer(t, kmslocal.Options{DataDir: dir})
	k2, created, err := s2.EnsureKey(ctx, "alias/app", "SYMMETRIC_DEFAULT")
	if err != nil || created || k2 != k1 {
		t.Fatalf("EnsureKey after restart: %v created=%v %v != %v", err, created, k2, k1)
	}
	if _, _, err := s2.EnsureKey(ctx, "alias/mac", ""); !errors.Is(err, kmslocal.ErrValidation) {
		t.Fatalf("alias of another spec: %v", err)
	}
	if _, _, err := s2.EnsureKey(ctx, "alias/x", "RSA_2048"); !errors.Is(err, kmslocal.ErrUnsupportedOperation) {
		t.Fatalf("unsupported spec: %v", err)
	}
	if _, _, err := s2.EnsureKey(ctx, "alias/aws/s3", ""); !errors.Is(err, kmslocal.ErrInvalidAliasName) {
		t.Fatalf("reserved alias: %v", err)
	}
	want := []kmslocal.Alias{{Name: "alias/app", Key: k1}, {Name: "alias/mac", Key: h1}}
	if got := s2.Aliases(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Aliases %v, want %v", got, want)
	}
	d, err := c2.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/mac")})
	if err != nil || d.KeyMetadata.KeySpec != types.KeySpecHmac256 {
		t.Fatalf("alias/mac: %v %+v", err, d)
	}
}

// A seed can hold HMAC and ECC keys and key policies.
func TestSeedSpecsAndPolicy(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	scalar, _ := priv.Bytes()
	b64 := base64.StdEncoding.EncodeToString
	policy := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"kms:Sign","Resource":"*"}]}`
	seed := writeSeed(t, map[string]any{"keys": []map[string]any{
		{"id": "mac-key", "keySpec": "HMAC_256", "material": b64(bytes.Repeat([]byte{3}, 32)), "aliases": []string{"alias/mac"}},
		{"id": "sig-key", "keySpec": "ECC_NIST_P256", "material": b64(scalar), "policy": policy},
	}})
	_, c := newServer(t, kmslocal.Options{SeedFile: seed})
	m, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String("alias/mac"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: []byte("m")})
	if err != nil || len(m.Mac) != 32 {
		t.Fatalf("GenerateMac with seeded HMAC key: %v", err)
	}
	pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String("sig-key")})
	if err != nil || pk.KeySpec != types.KeySpecEccNistP256 {
		t.Fatalf("GetPublicKey: %v", err)
	}
	gp, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String("sig-key")})
	if err != nil || aws.ToString(gp.Policy) != policy {
		t.Fatalf("seeded policy: %v %q", err, aws.ToString(gp.Policy))
	}
	for name, bad := range map[string]map[string]any{
		"unknown spec": {"id": "k", "keySpec": "RSA_2048", "material": b64(make([]byte, 32))},
		"not a scalar": {"id": "k", "keySpec": "ECC_NIST_P256", "material": b64(bytes.Repeat([]byte{0xff}, 32))},
		"bad policy":   {"id": "k", "material": b64(make([]byte, 32)), "policy": `{"Statement":[]}`},
	} {
		if _, err := kmslocal.New(kmslocal.Options{SeedFile: writeSeed(t, map[string]any{"keys": []any{bad}})}); err == nil {
			t.Errorf("%s: seed accepted", name)
		}
	}
}
