package batch

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/phicrypt/phicrypt/internal/auditlog"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// kmsEnv points the AWS configuration at placeholder credentials, which
// kmslocal accepts.
func kmsEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kmslocal-accepts-any")
	t.Setenv("AWS_REGION", kmslocal.DefaultRegion)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func writeAudit(t *testing.T, path string, o AuditOptions, n int) error {
	t.Helper()
	l, err := OpenAudit(context.Background(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := l.Append(Record{Op: "encrypt", Input: "in", Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	return l.Close()
}

// TestAuditKMS signs digests with a KMS HMAC key and a KMS ECC key through
// the stock SDK client and kmslocal, and checks them with VerifyAudit.
func TestAuditKMS(t *testing.T) {
	kmsEnv(t)
	e := kmstest.Start(t, kmslocal.Options{})
	ctx := context.Background()
	newKey := func(spec kmstypes.KeySpec, usage kmstypes.KeyUsageType) string {
		out, err := e.Client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.KeyMetadata.Arn)
	}
	for _, tc := range []struct {
		kind, op string
		spec     kmstypes.KeySpec
		usage    kmstypes.KeyUsageType
	}{
		{"kms-hmac", "GenerateMac", kmstypes.KeySpecHmac256, kmstypes.KeyUsageTypeGenerateVerifyMac},
		{"kms-sign", "Sign", kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			dir := t.TempDir()
			path, head := filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "head.json")
			o := AuditOptions{Key: tc.kind + ":" + newKey(tc.spec, tc.usage), Head: head, DigestEvery: 2, Keys: KeyOptions{KMSEndpoint: e.Endpoint}}
			before := e.Server.Counts()[tc.op]
			if err := writeAudit(t, path, o, 3); err != nil { // r r D r D
				t.Fatal(err)
			}
			if got := e.Server.Counts()[tc.op] - before; got != 2 {
				t.Fatalf("%d %s calls, want 2", got, tc.op)
			}
			res, err := VerifyAudit(ctx, path, o)
			if err != nil || res.Lines != 5 || res.Signed != 5 {
				t.Fatalf("VerifyAudit = %+v, %v", res, err)
			}
			// Another key of the same kind: the signature fails, as a
			// verdict (KMSInvalidMac/SignatureException), not an outage.
			other := o
			other.Key, other.Head = tc.kind+":"+newKey(tc.spec, tc.usage), ""
			_, err = VerifyAudit(ctx, path, other)
			var de *auditlog.DigestError
			if !errors.As(err, &de) || de.Line != 3 || !errors.Is(err, auditlog.ErrBadSignature) {
				t.Fatalf("VerifyAudit with another key = %v, want a bad signature at line 3", err)
			}
			// The log cut after its first digest: the head copy detects it.
			raw, _ := os.ReadFile(path)
			lines := strings.SplitAfter(string(raw), "\n")
			os.WriteFile(path, []byte(strings.Join(lines[:3], "")), 0o600)
			if _, err := VerifyAudit(ctx, path, o); !errors.Is(err, auditlog.ErrNotExpected) {
				t.Fatalf("VerifyAudit of a cut log = %v, want ErrNotExpected", err)
			}
			if _, err := OpenAudit(ctx, path, o); !errors.Is(err, auditlog.ErrNotExpected) {
				t.Fatalf("OpenAudit of a cut log = %v, want ErrNotExpected", err)
			}
		})
	}
	t.Run("symmetric key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		err := writeAudit(t, path, AuditOptions{Key: "kms-hmac:" + e.CreateKey(t), Keys: KeyOptions{KMSEndpoint: e.Endpoint}}, 1)
		var iku *kmstypes.InvalidKeyUsageException
		if !errors.As(err, &iku) {
			t.Fatalf("Close = %v, want InvalidKeyUsageException", err)
		}
	})
}

func TestAuditEd25519Files(t *testing.T) {
	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	privPath := filepath.Join(dir, "audit.pem")
	os.WriteFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	der, _ = x509.MarshalPKIXPublicKey(pub)
	pubPath := filepath.Join(dir, "audit.pub.pem")
	os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	path := filepath.Join(dir, "audit.jsonl")
	if err := writeAudit(t, path, AuditOptions{Key: "ed25519:" + privPath}, 2); err != nil {
		t.Fatal(err)
	}
	if res, err := VerifyAudit(context.Background(), path, AuditOptions{Key: "ed25519:" + pubPath}); err != nil || res.Signed != 3 {
		t.Fatalf("verify with the public key: %+v, %v", res, err)
	}
	if _, err := OpenAudit(context.Background(), path, AuditOptions{Key: "ed25519:" + pubPath}); !errors.Is(err, ErrKeySpec) {
		t.Fatalf("OpenAudit with a public key: %v", err)
	}
	os.Chmod(privPath, 0o644)
	if _, err := LoadAuditSigner(context.Background(), "ed25519:"+privPath, KeyOptions{}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a private key others may read: %v", err)
	}
	if _, err := LoadAuditSigner(context.Background(), "rsa:"+privPath, KeyOptions{}); !errors.Is(err, ErrKeySpec) {
		t.Fatalf("unknown kind: %v", err)
	}
}
