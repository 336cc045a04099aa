package kmslocal_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// putPolicyRefused checks PutKeyPolicy(policy) fails with code and leaves
// the key's default policy in place.
func putPolicyRefused(t *testing.T, policy, code string) {
	t.Helper()
	_, c := newServer(t, kmslocal.Options{})
	k := createKey(t, c)
	before, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK retries LimitExceededException as throttling; one attempt here.
	_, err = c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyId, Policy: aws.String(policy)},
		func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	wantCode(t, err, code)
	after, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId})
	if err != nil || aws.ToString(after.Policy) != aws.ToString(before.Policy) {
		t.Fatalf("policy changed by a refused put: %v", err)
	}
}

// validPolicy returns a well-formed key policy padded to n bytes.
func validPolicy(n int) string {
	head := `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Sid":"`
	tail := `"}}`
	return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
}

// Attack: a client stores a key policy past KMS's 32 KiB limit, so a
// policy that works against kmslocal is refused by KMS (and state grows).
func TestHostilePutKeyPolicyOversized(t *testing.T) {
	putPolicyRefused(t, validPolicy(32<<10+1), "LimitExceededException")
	_, c := newServer(t, kmslocal.Options{})
	k := createKey(t, c)
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyId, Policy: aws.String(validPolicy(32 << 10))}); err != nil {
		t.Fatalf("policy of exactly 32 KiB: %v", err)
	}
}

// Attack: a key policy carrying characters KMS refuses (here a
// right-to-left override that hides part of a principal in a viewer).
func TestHostilePutKeyPolicyCharacters(t *testing.T) {
	putPolicyRefused(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/`+"\u202e"+`x"},"Action":"kms:*"}}`, "ValidationException")
	putPolicyRefused(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Sid":"`+"\xff\xfe"+`"}}`, "ValidationException")
}

// Attack: a huge PolicyName echoed whole into the error message and logs.
func TestHostilePolicyNameBounded(t *testing.T) {
	_, c := newServer(t, kmslocal.Options{})
	k := createKey(t, c)
	_, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId, PolicyName: aws.String(strings.Repeat("n", 100<<10))})
	wantCode(t, err, "NotFoundException")
	if n := len(err.Error()); n > 600 {
		t.Fatalf("error of %d bytes: %.200s...", n, err)
	}
}
