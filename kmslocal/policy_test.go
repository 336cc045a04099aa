package kmslocal_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// DescribeKey carries every field `s3crypt doctor` reads, for each spec.
func TestDescribeKeyFields(t *testing.T) {
	_, c := newServer(t, kmslocal.Options{Account: "444455556666", Region: "eu-west-1"})
	before := time.Now().Add(-time.Second)
	for _, tc := range []struct {
		spec                  types.KeySpec
		usage                 types.KeyUsageType
		enc, mac, sig, wantOf []string
	}{
		{spec: types.KeySpecSymmetricDefault, usage: types.KeyUsageTypeEncryptDecrypt, enc: []string{"SYMMETRIC_DEFAULT"}},
		{spec: types.KeySpecHmac256, usage: types.KeyUsageTypeGenerateVerifyMac, mac: []string{"HMAC_SHA_256"}},
		{spec: types.KeySpecEccNistP256, usage: types.KeyUsageTypeSignVerify, sig: []string{"ECDSA_SHA_256"}},
	} {
		t.Run(string(tc.spec), func(t *testing.T) {
			k := createSpecKey(t, c, tc.spec, tc.usage)
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			m := d.KeyMetadata
			if m.KeyManager != types.KeyManagerTypeCustomer || m.Origin != types.OriginTypeAwsKms ||
				m.KeySpec != tc.spec || m.KeyUsage != tc.usage || m.KeyState != types.KeyStateEnabled || !m.Enabled ||
				aws.ToBool(m.MultiRegion) || aws.ToString(m.AWSAccountId) != "444455556666" ||
				aws.ToString(m.Arn) != "arn:aws:kms:eu-west-1:444455556666:key/"+aws.ToString(m.KeyId) ||
				m.CreationDate == nil || m.CreationDate.Before(before) || m.CreationDate.After(time.Now().Add(time.Second)) {
				t.Fatalf("metadata %+v", m)
			}
			if !slices.Equal(strs(m.EncryptionAlgorithms), tc.enc) || !slices.Equal(strs(m.MacAlgorithms), tc.mac) ||
				!slices.Equal(strs(m.SigningAlgorithms), tc.sig) {
				t.Fatalf("algorithms %v %v %v", m.EncryptionAlgorithms, m.MacAlgorithms, m.SigningAlgorithms)
			}
			if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId}); err != nil {
				t.Fatal(err)
			}
			d, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil || d.KeyMetadata.KeyState != types.KeyStateDisabled || d.KeyMetadata.Enabled {
				t.Fatalf("disabled: %v %+v", err, d)
			}
		})
	}
}

func strs[S ~string](v []S) []string {
	var out []string
	for _, s := range v {
		out = append(out, string(s))
	}
	return out
}

// policyDoc is the part of a key policy the tests look at.
type policyDoc struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Principal struct{ AWS string }
		Action    string
		Resource  string
	}
}

func TestKeyPolicy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, c := newServer(t, kmslocal.Options{DataDir: dir, Account: "444455556666"})
	k := createKey(t, c)

	// A new key has KMS's default key policy: the account root, kms:*.
	gp, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId})
	if err != nil || aws.ToString(gp.PolicyName) != "default" {
		t.Fatalf("GetKeyPolicy: %v %+v", err, gp)
	}
	var doc policyDoc
	if err := json.Unmarshal([]byte(aws.ToString(gp.Policy)), &doc); err != nil {
		t.Fatalf("default policy is not JSON: %v\n%s", err, aws.ToString(gp.Policy))
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) != 1 {
		t.Fatalf("default policy %+v", doc)
	}
	if st := doc.Statement[0]; st.Sid != "Enable IAM User Permissions" || st.Effect != "Allow" ||
		st.Principal.AWS != "arn:aws:iam::444455556666:root" || st.Action != "kms:*" || st.Resource != "*" {
		t.Fatalf("default statement %+v", st)
	}
	lp, err := c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: k.Arn})
	if err != nil || !slices.Equal(lp.PolicyNames, []string{"default"}) || lp.Truncated {
		t.Fatalf("ListKeyPolicies: %v %+v", err, lp)
	}
	_, err = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId, PolicyName: aws.String("other")})
	wantErr[*types.NotFoundException](t, err)

	// PutKeyPolicy stores the document as given; it survives a restart.
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Wide open","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(aws.ToString(k.Arn)), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	_, c2 := newServer(t, kmslocal.Options{DataDir: dir})
	gp, err = c2.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId, PolicyName: aws.String("default")})
	if err != nil || aws.ToString(gp.Policy) != policy {
		t.Fatalf("policy after restart: %v %q", err, aws.ToString(gp.Policy))
	}

	// Documents that are not key policies are refused and change nothing.
	for _, tc := range []struct{ name, policy, code string }{
		{"not JSON", `{"Statement":`, "MalformedPolicyDocumentException"},
		{"array", `[]`, "MalformedPolicyDocumentException"},
		{"no statement", `{"Version":"2012-10-17"}`, "MalformedPolicyDocumentException"},
		{"empty statements", `{"Statement":[]}`, "MalformedPolicyDocumentException"},
		{"no principal", `{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`, "MalformedPolicyDocumentException"},
		{"bad effect", `{"Statement":{"Effect":"allow","Principal":"*","Action":"kms:*"}}`, "MalformedPolicyDocumentException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c2.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyId, Policy: aws.String(tc.policy)})
			wantCode(t, err, tc.code)
		})
	}
	_, err = c2.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: k.KeyId, PolicyName: aws.String("other"), Policy: aws.String(policy)})
	wantErr[*types.NotFoundException](t, err)
	gp, err = c2.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId})
	if err != nil || aws.ToString(gp.Policy) != policy {
		t.Fatalf("policy changed by refused puts: %v %q", err, aws.ToString(gp.Policy))
	}
	_, err = c2.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String("alias/missing")})
	wantErr[*types.NotFoundException](t, err)

	// CreateKey takes a policy, checked the same way.
	single := `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/app"},"Action":"kms:Encrypt","Resource":"*"}}`
	ck, err := c2.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(single)})
	if err != nil {
		t.Fatal(err)
	}
	gp, err = c2.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: ck.KeyMetadata.KeyId})
	if err != nil || aws.ToString(gp.Policy) != single {
		t.Fatalf("CreateKey policy: %v %q", err, aws.ToString(gp.Policy))
	}
	_, err = c2.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(`{"Statement":[]}`)})
	wantErr[*types.MalformedPolicyDocumentException](t, err)
}

func TestKeyRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, c := newServer(t, kmslocal.Options{DataDir: dir})
	k := createKey(t, c)
	rs, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId})
	if err != nil || rs.KeyRotationEnabled || rs.RotationPeriodInDays != nil || rs.NextRotationDate != nil || aws.ToString(rs.KeyId) != aws.ToString(k.Arn) {
		t.Fatalf("new key: %v %+v", err, rs)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.Arn}); err != nil {
		t.Fatal(err)
	}
	rs, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId})
	if err != nil || !rs.KeyRotationEnabled || aws.ToInt32(rs.RotationPeriodInDays) != 365 || rs.NextRotationDate == nil ||
		time.Until(*rs.NextRotationDate) < 364*24*time.Hour || time.Until(*rs.NextRotationDate) > 366*24*time.Hour {
		t.Fatalf("enabled with the default period: %v %+v", err, rs)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyId, RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []int32{89, 2561} {
		_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyId, RotationPeriodInDays: aws.Int32(bad)})
		wantCode(t, err, "ValidationException")
	}
	_, c2 := newServer(t, kmslocal.Options{DataDir: dir})
	rs, err = c2.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId})
	if err != nil || !rs.KeyRotationEnabled || aws.ToInt32(rs.RotationPeriodInDays) != 90 {
		t.Fatalf("after restart: %v %+v", err, rs)
	}
	if _, err := c2.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, c3 := newServer(t, kmslocal.Options{DataDir: dir})
	rs, err = c3.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId})
	if err != nil || rs.KeyRotationEnabled || rs.RotationPeriodInDays != nil || rs.NextRotationDate != nil {
		t.Fatalf("disabled, after restart: %v %+v", err, rs)
	}

	// A disabled key reports its status but takes no changes, as in KMS.
	if _, err := c3.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c3.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = c3.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyId})
	wantErr[*types.DisabledException](t, err)
	_, err = c3.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: k.KeyId})
	wantErr[*types.DisabledException](t, err)
	_, err = c3.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String("alias/missing")})
	wantErr[*types.NotFoundException](t, err)
}

// KMS rotates only symmetric encryption keys: the rotation operations on
// HMAC and ECC keys fail with UnsupportedOperationException.
func TestKeyRotationUnsupportedSpecs(t *testing.T) {
	_, c := newServer(t, kmslocal.Options{})
	for _, k := range []*types.KeyMetadata{
		createSpecKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac),
		createSpecKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify),
	} {
		t.Run(string(k.KeySpec), func(t *testing.T) {
			_, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyId})
			wantErr[*types.UnsupportedOperationException](t, err)
			_, err = c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: k.KeyId})
			wantErr[*types.UnsupportedOperationException](t, err)
			_, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId})
			wantErr[*types.UnsupportedOperationException](t, err)
			if _, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId}); err != nil {
				t.Fatalf("GetKeyPolicy: %v", err)
			}
		})
	}
}
