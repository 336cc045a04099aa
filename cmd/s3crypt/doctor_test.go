package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// cloudTrailFake answers DescribeTrails, GetTrailStatus and
// GetEventSelectors in CloudTrail's awsJson1_1 protocol with one
// multi-region, logging, validated, KMS-encrypted trail logging every S3
// data event.
func cloudTrailFake(t *testing.T) string {
	replies := map[string]string{
		"DescribeTrails": `{"trailList":[{"Name":"audit","TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/audit","HomeRegion":"us-east-1",` +
			`"IsMultiRegionTrail":true,"LogFileValidationEnabled":true,"KmsKeyId":"arn:aws:kms:us-east-1:111122223333:key/ct"}]}`,
		"GetTrailStatus":    `{"IsLogging":true}`,
		"GetEventSelectors": `{"EventSelectors":[{"ReadWriteType":"All","DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]}`,
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "CloudTrail_20131101.")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		body, ok := replies[op]
		if !ok {
			w.WriteHeader(400)
			body = `{"__type":"UnknownOperationException","message":"not in the fake"}`
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// doctorItem is one line of doctor --json.
type doctorItem struct {
	Section, Name, Status, Evidence, Fix string
}

func parseItems(t *testing.T, out string) map[string]doctorItem {
	t.Helper()
	items := map[string]doctorItem{}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var it doctorItem
		if err := json.Unmarshal([]byte(line), &it); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		items[it.Name] = it
	}
	return items
}

func TestDoctorUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"doctor"},
		{"doctor", "--prefix", "p/", "--key", "alias/x"},
		{"doctor", "--bucket", "b", "--sample", "-1"},
		{"doctor", "--bucket", "b", "extra"},
		{"doctor", "--bucket", "b", "--no-such-flag"},
	} {
		if r := run(t, dir, nil, nil, args...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
	env := []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b", "AWS_REGION=us-east-1"}
	r := run(t, dir, nil, env, "doctor", "--key", "alias/x", "--cloudtrail-endpoint-url", "http://ct.example.com")
	if r.code != 1 || !strings.Contains(r.stderr, "--cloudtrail-endpoint-url") || !strings.Contains(r.stderr, "insecure") {
		t.Errorf("plain http CloudTrail endpoint: exit %d\n%s", r.code, r.stderr)
	}
	// The same endpoint from the AWS configuration is refused too.
	r = run(t, dir, nil, append(env, "AWS_ENDPOINT_URL_CLOUDTRAIL=http://ct.example.com"), "doctor", "--key", "alias/x")
	if r.code != 1 || !strings.Contains(r.stderr, "insecure CloudTrail endpoint") {
		t.Errorf("AWS_ENDPOINT_URL_CLOUDTRAIL: exit %d\n%s", r.code, r.stderr)
	}
}

// TestDoctorKey checks a kmslocal key through the CLI: exit 1 while
// rotation is off (a FAIL), 0 once it is on (GetKeyPolicy, which
// kmslocal may lack, is at worst UNKNOWN).
func TestDoctorKey(t *testing.T) {
	kmsEnv, env := kmsServer(t, true)
	arn := kmsEnv.CreateKey(t)
	dir := t.TempDir()
	args := []string{"doctor", "--json", "--key", arn, "--kms-endpoint-url", kmsEnv.Endpoint, "--cloudtrail-endpoint-url", cloudTrailFake(t)}
	r := run(t, dir, nil, env, args...)
	items := parseItems(t, r.stdout)
	if r.code != 1 || items["automatic key rotation"].Status != "FAIL" || items["customer managed key"].Status != "PASS" {
		t.Fatalf("rotation off: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(items["automatic key rotation"].Fix, "enable-key-rotation") {
		t.Errorf("fix: %q", items["automatic key rotation"].Fix)
	}
	if _, err := kmsEnv.Client.EnableKeyRotation(context.Background(), &kms.EnableKeyRotationInput{KeyId: &arn}); err != nil {
		t.Fatal(err)
	}
	r = run(t, dir, nil, env, args...)
	items = parseItems(t, r.stdout)
	if r.code != 0 || items["automatic key rotation"].Status != "PASS" || items["multi-region CloudTrail trail, logging"].Status != "PASS" {
		t.Fatalf("rotation on: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "0 FAIL") {
		t.Errorf("summary: %s", r.stderr)
	}
	text := run(t, dir, nil, env, "doctor", "--key", arn, "--kms-endpoint-url", kmsEnv.Endpoint, "--cloudtrail-endpoint-url", cloudTrailFake(t))
	if text.code != 0 || !strings.Contains(text.stdout, "Keys\n  PASS    customer managed key: ") {
		t.Errorf("text output: exit %d\n%s", text.code, text.stdout)
	}
}

// TestDoctorBucket runs doctor on a bucket of gofakes3 (and versitygw when
// PHICRYPT_S3_ENDPOINT is set): the sample finds the plaintext object
// among encrypted ones, so the run exits 1 with the Client item FAIL
// naming it; every Storage and Transit item is reported, whatever the
// server implements.
func TestDoctorBucket(t *testing.T) {
	for _, srv := range []struct {
		name  string
		start func(*testing.T) *s3Server
	}{{"gofakes3", gofakes3Server}, {"versitygw", versitygwServer}} {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.start(t)
			kmsEnv, _ := kmsServer(t, false)
			arn := kmsEnv.CreateKey(t)
			aes, err := keyring.NewRawAES("phicrypt", "k", bytes.Repeat([]byte{7}, 32))
			if err != nil {
				t.Fatal(err)
			}
			c, err := envelope.New(aes)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				msg, err := c.Encrypt(context.Background(), []byte("record"), map[string]string{"n": string(rune('a' + i))})
				if err != nil {
					t.Fatal(err)
				}
				s.put(t, "phi/"+string(rune('a'+i))+".enc", msg)
			}
			s.put(t, "phi/leaked.csv", []byte("name,dob\n"))
			// KMS through the AWS configuration's variable, not the flag.
			env := append(append([]string{}, s.Env...), "AWS_ENDPOINT_URL_KMS="+kmsEnv.Endpoint)
			dir := t.TempDir()
			base := []string{"doctor", "--json", "--bucket", s.bucket, "--key", arn, "--endpoint-url", s.Endpoint,
				"--cloudtrail-endpoint-url", cloudTrailFake(t)}
			r := run(t, dir, nil, env, append(base, "--prefix", "phi/")...)
			items := parseItems(t, r.stdout)
			sample := items["objects under the prefix are encrypted (header sample)"]
			if r.code != 1 || sample.Status != "FAIL" || !strings.Contains(sample.Evidence, `"s3://`+s.bucket+`/phi/leaked.csv"`) ||
				!strings.Contains(sample.Evidence, "4 objects sampled") {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			for _, name := range []string{"default encryption SSE-KMS with a customer managed key", "S3 Bucket Keys", "Block Public Access (all four settings)",
				"versioning", "object lock", "server access logging or CloudTrail S3 data events", "bucket policy denies aws:SecureTransport = false"} {
				if items[name].Status == "" {
					t.Errorf("no item %q", name)
				}
			}
			// A sample of 2 stops before the plaintext object (listing order).
			r = run(t, dir, nil, env, append(base, "--prefix", "phi/", "--sample", "2")...)
			sample = parseItems(t, r.stdout)["objects under the prefix are encrypted (header sample)"]
			if sample.Status != "PASS" || !strings.Contains(sample.Evidence, "2 objects sampled") || !strings.Contains(sample.Evidence, "stopped at --sample 2") {
				t.Errorf("--sample 2: %+v", sample)
			}
			// Versioning on where the server keeps versions (gofakes3), and
			// the TLS-only policy where it takes bucket policies (versitygw).
			_, verr := s.Client.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: &s.bucket,
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
			policy := `{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",` +
				`"Resource":["arn:aws:s3:::` + s.bucket + `","arn:aws:s3:::` + s.bucket + `/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
			_, perr := s.Client.PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: &s.bucket, Policy: &policy})
			items = parseItems(t, run(t, dir, nil, env, base...).stdout)
			if it := items["versioning"]; verr == nil && it.Status != "PASS" {
				t.Errorf("versioning on: %+v", it)
			}
			if it := items["bucket policy denies aws:SecureTransport = false"]; perr == nil && it.Status != "PASS" {
				t.Errorf("policy set: %+v", it)
			}
			if verr != nil && perr != nil {
				t.Errorf("the server took neither versioning (%v) nor a policy (%v)", verr, perr)
			}
			if _, err := s.Client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String("phi/leaked.csv")}); err != nil {
				t.Fatal(err)
			}
			r = run(t, dir, nil, env, append(base, "--prefix", "phi/")...)
			if sample = parseItems(t, r.stdout)["objects under the prefix are encrypted (header sample)"]; sample.Status != "PASS" {
				t.Errorf("after the delete: %+v\n%s", sample, r.stderr)
			}
		})
	}
}
