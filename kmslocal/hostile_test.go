package kmslocal_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
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

// TestHostileRequestFieldsBounded: a request whose KeyId (in each form
// resolve reads: key id, foreign ARN, ARN of another resource type, alias),
// EncryptionAlgorithm, KeySpec, Origin, AliasName or X-Amz-Target is
// 100 KiB, or whose JSON holds a 100 KiB number in an integer field,
// was echoed whole into the error message (and the log line) it got,
// where PolicyName and the other enum fields are cut to 64 bytes.
func TestHostileRequestFieldsBounded(t *testing.T) {
	e := kmstest.Start(t, kmslocal.Options{})
	c := e.Client
	k := createKey(t, c)
	long := strings.Repeat("x", 100<<10)
	one := func(o *kms.Options) { o.RetryMaxAttempts = 1 }
	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if n := len(err.Error()); n > 600 {
			t.Errorf("%s: error of %d bytes: %.200s...", name, n, err)
		}
	}
	for _, id := range []string{long, "arn:" + long, e.Server.KeyARN("") + "../" + long, "alias/" + long,
		strings.TrimSuffix(e.Server.KeyARN(""), "key/") + "alias/" + long} {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("p")}, one)
		check(fmt.Sprintf("Encrypt KeyId %.30q", id), err)
	}
	_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("p"), EncryptionAlgorithm: types.EncryptionAlgorithmSpec(long)}, one)
	check("EncryptionAlgorithm", err)
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, KeySpec: types.DataKeySpec(long)}, one)
	check("GenerateDataKey KeySpec", err)
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginType(long)}, one)
	check("CreateKey Origin", err)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/" + long), TargetKeyId: k.KeyId}, one)
	check("CreateAlias AliasName", err)
	for name, req := range map[string]struct{ target, body string }{
		"X-Amz-Target":  {"TrentService." + long, "{}"},
		"JSON overflow": {"TrentService.GenerateDataKey", `{"NumberOfBytes":` + strings.Repeat("9", 100<<10) + `}`},
	} {
		r, _ := http.NewRequest(http.MethodPost, e.Endpoint, strings.NewReader(req.body))
		r.Header.Set("X-Amz-Target", req.target)
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := e.HTTP.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Message string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 400 || len(body.Message) == 0 || len(body.Message) > 400 {
			t.Errorf("%s: status %d, message of %d bytes: %.200s", name, resp.StatusCode, len(body.Message), body.Message)
		}
	}
}
