package kmslocal_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/phicrypt/phicrypt/kmslocal"
)

func createSpecKey(t *testing.T, c *kms.Client, spec types.KeySpec, usage types.KeyUsageType) *types.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata
}

func TestCreateKeySpecs(t *testing.T) {
	_, c := newServer(t, kmslocal.Options{})
	h := createSpecKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	if h.KeySpec != types.KeySpecHmac256 || h.KeyUsage != types.KeyUsageTypeGenerateVerifyMac ||
		len(h.MacAlgorithms) != 1 || h.MacAlgorithms[0] != types.MacAlgorithmSpecHmacSha256 || len(h.EncryptionAlgorithms) != 0 {
		t.Fatalf("HMAC key metadata: %+v", h)
	}
	e := createSpecKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	if e.KeySpec != types.KeySpecEccNistP256 || e.KeyUsage != types.KeyUsageTypeSignVerify ||
		len(e.SigningAlgorithms) != 1 || e.SigningAlgorithms[0] != types.SigningAlgorithmSpecEcdsaSha256 {
		t.Fatalf("ECC key metadata: %+v", e)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: h.Arn})
	if err != nil || d.KeyMetadata.KeySpec != types.KeySpecHmac256 {
		t.Fatalf("describe HMAC key: %v %+v", err, d)
	}
	for _, tc := range []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
		code  string
	}{
		{types.KeySpecHmac256, "", "ValidationException"}, // KeyUsage defaults to ENCRYPT_DECRYPT
		{types.KeySpecHmac256, types.KeyUsageTypeSignVerify, "ValidationException"},
		{types.KeySpecEccNistP256, types.KeyUsageTypeEncryptDecrypt, "ValidationException"},
		{types.KeySpecSymmetricDefault, types.KeyUsageTypeGenerateVerifyMac, "ValidationException"},
		{types.KeySpecRsa2048, types.KeyUsageTypeSignVerify, "UnsupportedOperationException"},
	} {
		t.Run(string(tc.spec)+"/"+string(tc.usage), func(t *testing.T) {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: tc.spec, KeyUsage: tc.usage})
			wantCode(t, err, tc.code)
		})
	}
}

func TestMac(t *testing.T) {
	_, c := newServer(t, kmslocal.Options{})
	h := createSpecKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	msg := []byte("chain head")
	g, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: h.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil || len(g.Mac) != 32 || aws.ToString(g.KeyId) != aws.ToString(h.Arn) {
		t.Fatalf("GenerateMac: %v %+v", err, g)
	}
	v, err := c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: h.Arn, Message: msg, Mac: g.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil || !v.MacValid {
		t.Fatalf("VerifyMac: %v %+v", err, v)
	}
	_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: h.Arn, Message: msg, Mac: flip(g.Mac, 0), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantErr[*types.KMSInvalidMacException](t, err)
	_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: h.Arn, Message: []byte("chain heaD"), Mac: g.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantErr[*types.KMSInvalidMacException](t, err)
	h2 := createSpecKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: h2.Arn, Message: msg, Mac: g.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantErr[*types.KMSInvalidMacException](t, err)

	// A symmetric key cannot MAC, an HMAC key cannot encrypt.
	sym := createKey(t, c)
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: sym.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantErr[*types.InvalidKeyUsageException](t, err)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: h.KeyId, Plaintext: msg})
	wantErr[*types.InvalidKeyUsageException](t, err)
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: h.KeyId, KeySpec: types.DataKeySpecAes256})
	wantErr[*types.InvalidKeyUsageException](t, err)
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: h.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha512})
	wantErr[*types.InvalidKeyUsageException](t, err)
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: h.KeyId, Message: make([]byte, 4097), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantCode(t, err, "ValidationException")
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: h.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256, DryRun: aws.Bool(true)})
	wantErr[*types.DryRunOperationException](t, err)
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: h.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: h.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantErr[*types.DisabledException](t, err)
}

func TestSignVerify(t *testing.T) {
	_, c := newServer(t, kmslocal.Options{})
	e := createSpecKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	msg := []byte("digest record")
	sum := sha256.Sum256(msg)
	pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: e.KeyId})
	if err != nil || pk.KeySpec != types.KeySpecEccNistP256 || pk.KeyUsage != types.KeyUsageTypeSignVerify {
		t.Fatalf("GetPublicKey: %v %+v", err, pk)
	}
	pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range []struct {
		typ types.MessageType
		m   []byte
	}{{types.MessageTypeRaw, msg}, {"", msg}, {types.MessageTypeDigest, sum[:]}} {
		t.Run("type="+string(mt.typ), func(t *testing.T) {
			s, err := c.Sign(ctx, &kms.SignInput{KeyId: e.Arn, Message: mt.m, MessageType: mt.typ, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			if err != nil {
				t.Fatalf("Sign %q: %v", mt.typ, err)
			}
			// The signature is over SHA-256(msg) either way, checkable offline.
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), sum[:], s.Signature) {
				t.Fatalf("Sign %q: signature does not verify with the public key", mt.typ)
			}
			v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: e.KeyId, Message: mt.m, MessageType: mt.typ, Signature: s.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			if err != nil || !v.SignatureValid {
				t.Fatalf("Verify %q: %v", mt.typ, err)
			}
			_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: e.KeyId, Message: []byte("other"), MessageType: types.MessageTypeRaw, Signature: s.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			wantErr[*types.KMSInvalidSignatureException](t, err)
			_, err = c.Verify(ctx, &kms.VerifyInput{KeyId: e.KeyId, Message: mt.m, MessageType: mt.typ, Signature: flip(s.Signature, 10), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			wantErr[*types.KMSInvalidSignatureException](t, err)
		})
	}
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: e.Arn, Message: msg, MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantCode(t, err, "ValidationException") // a DIGEST is 32 bytes
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: e.Arn, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	wantErr[*types.InvalidKeyUsageException](t, err)
	h := createSpecKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	_, err = c.Sign(ctx, &kms.SignInput{KeyId: h.Arn, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantErr[*types.InvalidKeyUsageException](t, err)
	_, err = c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: e.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantErr[*types.InvalidKeyUsageException](t, err)
	// A ciphertext blob naming the ECC key: refused for its usage.
	id := aws.ToString(e.KeyId)
	blob := append(append([]byte{1, byte(len(id))}, id...), make([]byte, 12+16)...)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantErr[*types.InvalidKeyUsageException](t, err)
	_, err = c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: h.KeyId})
	wantErr[*types.UnsupportedOperationException](t, err)
}

// TestSpecKeysPersist: HMAC and ECC keys keep their spec and material
// across a restart.
func TestSpecKeysPersist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, c1 := newServer(t, kmslocal.Options{DataDir: dir})
	h := createSpecKey(t, c1, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	e := createSpecKey(t, c1, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	msg := []byte("m")
	g, err := c1.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: h.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c1.Sign(ctx, &kms.SignInput{KeyId: e.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		t.Fatal(err)
	}
	_, c2 := newServer(t, kmslocal.Options{DataDir: dir})
	if _, err := c2.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: h.KeyId, Message: msg, Mac: g.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256}); err != nil {
		t.Fatalf("VerifyMac after restart: %v", err)
	}
	if _, err := c2.Verify(ctx, &kms.VerifyInput{KeyId: e.KeyId, Message: msg, Signature: s.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}); err != nil {
		t.Fatalf("Verify after restart: %v", err)
	}
	d, err := c2.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: e.KeyId})
	if err != nil || d.KeyMetadata.KeyUsage != types.KeyUsageTypeSignVerify {
		t.Fatalf("describe after restart: %v", err)
	}
}
