package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/s3test"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// awsEnv gives LoadKeys placeholder credentials (kmslocal takes any) and
// keeps the shared AWS files and instance metadata out of the test.
func awsEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDLAMBDATEST", "AWS_SECRET_ACCESS_KEY": "lambda-test-only",
		"AWS_REGION": kmslocal.DefaultRegion, "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

// aesKey writes a new AES key file and returns its key spec.
func aesKey(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := batch.Keygen(p); err != nil {
		t.Fatal(err)
	}
	return "aes:" + p
}

// newHandler makes a handler as a cold start does, from env.
func newHandler(t *testing.T, s3c *s3.Client, env map[string]string) *Handler {
	t.Helper()
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(context.Background(), cfg, s3c)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// obj is one task's object: a key and, if not "", a version.
type obj struct{ key, version string }

// encodeKey URL-encodes a key as a manifest holds it ("/" kept).
func encodeKey(k string) string {
	return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/")
}

// event is testdata/event-VER.json, the example of the AWS documentation,
// with one task per object in bucket and the user arguments args (2.0).
func event(t *testing.T, ver, bucket string, args map[string]string, objs ...obj) json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "event-"+ver+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	tmpl := e["tasks"].([]any)[0].(map[string]any)
	var tasks []any
	for i, o := range objs {
		task := map[string]any{}
		for k, v := range tmpl {
			task[k] = v
		}
		task["taskId"] = "task-" + string(rune('a'+i))
		task["s3Key"] = encodeKey(o.key)
		task["s3VersionId"] = nil
		if o.version != "" {
			task["s3VersionId"] = o.version
		}
		if ver == "1.0" {
			task["s3BucketArn"] = "arn:aws:s3:::" + bucket
		} else {
			task["s3Bucket"] = bucket
		}
		tasks = append(tasks, task)
	}
	e["tasks"] = tasks
	if args != nil {
		e["job"].(map[string]any)["userArguments"] = args
	} else {
		delete(e["job"].(map[string]any), "userArguments")
	}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// invoke calls h as the Lambda runtime does, through aws-lambda-go's
// handler with the event's JSON, and checks the response's envelope.
func invoke(t *testing.T, ctx context.Context, h *Handler, ev json.RawMessage) []result {
	t.Helper()
	raw, err := lambda.NewHandler(h.Handle).Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version, Missing, ID string
		Results              []result
	}
	if err := json.Unmarshal(raw, &struct {
		Version *string   `json:"invocationSchemaVersion"`
		Missing *string   `json:"treatMissingKeysAs"`
		ID      *string   `json:"invocationId"`
		Results *[]result `json:"results"`
	}{&got.Version, &got.Missing, &got.ID, &got.Results}); err != nil {
		t.Fatal(err)
	}
	var in struct {
		Version string `json:"invocationSchemaVersion"`
		ID      string `json:"invocationId"`
	}
	json.Unmarshal(ev, &in)
	if got.Version != in.Version || got.ID != in.ID || got.Missing != PermanentFailure {
		t.Fatalf("response %s does not answer %s %s", raw, in.Version, in.ID)
	}
	return got.Results
}

type result struct {
	TaskID string `json:"taskId"`
	Code   string `json:"resultCode"`
	String string `json:"resultString"`
}

// want checks every result has code and, if sub is not "", mentions sub.
func want(t *testing.T, rs []result, n int, code, sub string) {
	t.Helper()
	if len(rs) != n {
		t.Fatalf("%d results, want %d: %+v", len(rs), n, rs)
	}
	for _, r := range rs {
		if r.Code != code || !strings.Contains(r.String, sub) || len(r.String) > maxResult {
			t.Fatalf("result %+v, want %s mentioning %q", r, code, sub)
		}
	}
}

func put(t *testing.T, srv *s3test.Server, bucket, key string, data []byte) string {
	t.Helper()
	out, err := srv.Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.VersionId)
}

// get returns an object's bytes, nil if it does not exist.
func get(t *testing.T, srv *s3test.Server, bucket, key string) []byte {
	t.Helper()
	out, err := srv.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	var nk *types.NoSuchKey
	if errors.As(err, &nk) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// servers runs f against the in-process fake, and against versitygw when
// scripts/test.sh started it.
func servers(t *testing.T, f func(t *testing.T, srv *s3test.Server)) {
	t.Run("fake", func(t *testing.T) { f(t, s3test.Fake(t)) })
	t.Run("versitygw", func(t *testing.T) { f(t, s3test.Real(t)) })
}

func plaintext(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// TestRoundTrip encrypts with a schema 1.0 event and decrypts with a 2.0
// one whose user arguments choose the op and the destination; the key has
// a space, a "+" and a "/", URL-encoded as in a manifest.
func TestRoundTrip(t *testing.T) {
	awsEnv(t)
	servers(t, func(t *testing.T, srv *s3test.Server) {
		b := srv.Bucket(t, "lambda")
		data := plaintext(200 << 10)
		put(t, srv, b, "in/a b+c.csv", data)
		put(t, srv, b, "in/small", []byte("x"))
		h := newHandler(t, srv.Client, map[string]string{
			"PHICRYPT_KEY": aesKey(t, "k1"), "PHICRYPT_DESTINATION": "s3://" + b + "/enc/",
			"PHICRYPT_ALLOW_OPS": "decrypt", "PHICRYPT_ALLOW_DESTINATIONS": "s3://" + b + "/",
			"PHICRYPT_CONTEXT": "purpose=test",
		})
		rs := invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "in/a b+c.csv"}, obj{key: "in/small"}))
		want(t, rs, 2, Succeeded, "s3://"+b+"/enc/in/")
		enc := get(t, srv, b, "enc/in/a b+c.csv.enc")
		hd, err := envelope.ParseHeader(bytes.NewReader(enc))
		if err != nil || hd.EncryptionContext["purpose"] != "test" {
			t.Fatalf("output header %v, %v", hd, err)
		}

		args := map[string]string{"op": "decrypt", "destination": "s3://" + b + "/dec/"}
		rs = invoke(t, context.Background(), h, event(t, "2.0", b, args, obj{key: "enc/in/a b+c.csv.enc"}, obj{key: "enc/in/small.enc"}))
		want(t, rs, 2, Succeeded, "s3://"+b+"/dec/enc/in/")
		if got := get(t, srv, b, "dec/enc/in/a b+c.csv"); !bytes.Equal(got, data) {
			t.Fatalf("decrypted %d bytes, want %d", len(got), len(data))
		}

		// A retried task finds its output complete: Succeeded, skipped.
		rs = invoke(t, context.Background(), h, event(t, "2.0", b, args, obj{key: "enc/in/small.enc"}))
		want(t, rs, 1, Succeeded, "skipped")
	})
}

// TestKMSRoundTrip encrypts and decrypts under a KMS key of kmslocal (the
// process scripts/test.sh starts, else one in this process).
func TestKMSRoundTrip(t *testing.T) {
	awsEnv(t)
	kms := kmstest.New(t)
	arn := kms.CreateKey(t)
	servers(t, func(t *testing.T, srv *s3test.Server) {
		b := srv.Bucket(t, "lambda-kms")
		put(t, srv, b, "x.bin", plaintext(5000))
		h := newHandler(t, srv.Client, map[string]string{
			"PHICRYPT_KEY": arn, "PHICRYPT_KMS_ENDPOINT_URL": kms.Endpoint,
			"PHICRYPT_DESTINATION": "s3://" + b + "/", "PHICRYPT_ALLOW_OPS": "decrypt",
		})
		want(t, invoke(t, context.Background(), h, event(t, "2.0", b, nil, obj{key: "x.bin"})), 1, Succeeded, "x.bin.enc")
		want(t, invoke(t, context.Background(), h, event(t, "2.0", b, map[string]string{"op": "decrypt"}, obj{key: "x.bin.enc"})), 1, Succeeded, "s3://"+b+"/x.bin")
	})
}

// TestCacheAcrossInvocations: a warm function's data key cache serves the
// second invocation: two messages, one GenerateDataKey.
func TestCacheAcrossInvocations(t *testing.T) {
	awsEnv(t)
	kms := kmstest.Start(t, kmslocal.Options{}) // in-process: its counts are this test's alone
	arn := kms.CreateKey(t)
	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-cache")
	put(t, srv, b, "a", []byte("a"))
	put(t, srv, b, "b", []byte("b"))
	h := newHandler(t, srv.Client, map[string]string{
		"PHICRYPT_KEY": arn, "PHICRYPT_KMS_ENDPOINT_URL": kms.Endpoint, "PHICRYPT_DESTINATION": "s3://" + b + "/enc/",
	})
	before := kms.Counts(t)["GenerateDataKey"]
	want(t, invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "a"})), 1, Succeeded, "")
	want(t, invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "b"})), 1, Succeeded, "")
	if n := kms.Counts(t)["GenerateDataKey"] - before; n != 1 {
		t.Fatalf("%d GenerateDataKey calls for two invocations, want 1", n)
	}
	if s := h.keys.CacheStats(); s == nil || s.Hits < 1 {
		t.Fatalf("cache stats %+v", s)
	}
}

// TestReencrypt moves messages from one key to another; the new key
// alone opens the outputs.
func TestReencrypt(t *testing.T) {
	awsEnv(t)
	servers(t, func(t *testing.T, srv *s3test.Server) {
		b := srv.Bucket(t, "lambda-re")
		old, new := aesKey(t, "old"), aesKey(t, "new")
		put(t, srv, b, "p", []byte("payload"))
		enc := newHandler(t, srv.Client, map[string]string{"PHICRYPT_KEY": old, "PHICRYPT_DESTINATION": "s3://" + b + "/v1/"})
		want(t, invoke(t, context.Background(), enc, event(t, "1.0", b, nil, obj{key: "p"})), 1, Succeeded, "")
		re := newHandler(t, srv.Client, map[string]string{
			"PHICRYPT_OP": "reencrypt", "PHICRYPT_KEY": new, "PHICRYPT_DECRYPT_KEY": old, "PHICRYPT_DESTINATION": "s3://" + b + "/v2/",
		})
		want(t, invoke(t, context.Background(), re, event(t, "2.0", b, nil, obj{key: "v1/p.enc"})), 1, Succeeded, "s3://"+b+"/v2/v1/p.enc")
		dec := newHandler(t, srv.Client, map[string]string{"PHICRYPT_OP": "decrypt", "PHICRYPT_KEY": new, "PHICRYPT_DESTINATION": "s3://" + b + "/out/"})
		want(t, invoke(t, context.Background(), dec, event(t, "2.0", b, nil, obj{key: "v2/v1/p.enc"})), 1, Succeeded, "")
		if got := get(t, srv, b, "out/v2/v1/p"); string(got) != "payload" {
			t.Fatalf("got %q", got)
		}
		// The old key opens the old message only.
		dold := newHandler(t, srv.Client, map[string]string{"PHICRYPT_OP": "decrypt", "PHICRYPT_KEY": old, "PHICRYPT_DESTINATION": "s3://" + b + "/old/"})
		want(t, invoke(t, context.Background(), dold, event(t, "2.0", b, nil, obj{key: "v2/v1/p.enc"})), 1, PermanentFailure, "no keyring could decrypt")
	})
}

// TestVersion reads the task's version of an object, not the latest, on
// encrypt and on decrypt. The versions have one length: gofakes3's HEAD
// ignores versionId (and versitygw here keeps no versions).
func TestVersion(t *testing.T) {
	awsEnv(t)
	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-ver")
	if _, err := srv.Client.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: &b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1 := put(t, srv, b, "doc", []byte("first1"))
	put(t, srv, b, "doc", []byte("second"))
	key := aesKey(t, "k")
	env := map[string]string{"PHICRYPT_KEY": key, "PHICRYPT_DESTINATION": "s3://" + b + "/enc/", "PHICRYPT_ALLOW_OPS": "decrypt",
		"PHICRYPT_ALLOW_DESTINATIONS": "s3://" + b + "/", "PHICRYPT_OVERWRITE": "true"}
	h := newHandler(t, srv.Client, env)
	want(t, invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "doc", version: v1})), 1, Succeeded, "")
	e1, err := srv.Client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("enc/doc.enc")})
	if err != nil {
		t.Fatal(err)
	}
	want(t, invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "doc"})), 1, Succeeded, "")
	dec := map[string]string{"op": "decrypt", "destination": "s3://" + b + "/dec/"}
	want(t, invoke(t, context.Background(), h, event(t, "2.0", b, dec, obj{key: "enc/doc.enc", version: aws.ToString(e1.VersionId)})), 1, Succeeded, "")
	if got := get(t, srv, b, "dec/enc/doc"); string(got) != "first1" {
		t.Fatalf("version %s decrypted to %q, want \"first1\"", v1, got)
	}
	want(t, invoke(t, context.Background(), h, event(t, "2.0", b, dec, obj{key: "enc/doc.enc"})), 1, Succeeded, "")
	if got := get(t, srv, b, "dec/enc/doc"); string(got) != "second" {
		t.Fatalf("latest decrypted to %q, want \"second\"", got)
	}
	want(t, invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "doc", version: "no-such-version"})), 1, PermanentFailure, "")
}

// TestPermanentFailures: tampering, a wrong key, a missing object and bad
// arguments are not retried, and nothing is written.
func TestPermanentFailures(t *testing.T) {
	awsEnv(t)
	servers(t, func(t *testing.T, srv *s3test.Server) {
		b := srv.Bucket(t, "lambda-perm")
		key := aesKey(t, "k")
		put(t, srv, b, "p", plaintext(100<<10))
		h := newHandler(t, srv.Client, map[string]string{"PHICRYPT_KEY": key, "PHICRYPT_DESTINATION": "s3://" + b + "/enc/", "PHICRYPT_ALLOW_OPS": "decrypt", "PHICRYPT_ALLOW_DESTINATIONS": "s3://" + b + "/dec/"})
		want(t, invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "p"})), 1, Succeeded, "")
		msg := get(t, srv, b, "enc/p.enc")
		msg[len(msg)/2] ^= 1
		put(t, srv, b, "tampered.enc", msg)
		dec := map[string]string{"op": "decrypt", "destination": "s3://" + b + "/dec/"}

		t.Run("tampered", func(t *testing.T) {
			want(t, invoke(t, context.Background(), h, event(t, "2.0", b, dec, obj{key: "tampered.enc"})), 1, PermanentFailure, envelope.ErrAuthentication.Error())
			if get(t, srv, b, "dec/tampered") != nil {
				t.Fatal("a tampered message was written")
			}
		})
		t.Run("wrong key", func(t *testing.T) {
			other := newHandler(t, srv.Client, map[string]string{"PHICRYPT_OP": "decrypt", "PHICRYPT_KEY": aesKey(t, "k"), "PHICRYPT_DESTINATION": "s3://" + b + "/dec/"})
			want(t, invoke(t, context.Background(), other, event(t, "2.0", b, nil, obj{key: "enc/p.enc"})), 1, PermanentFailure, "no keyring could decrypt")
		})
		t.Run("missing object", func(t *testing.T) {
			want(t, invoke(t, context.Background(), h, event(t, "2.0", b, dec, obj{key: "nothing.enc"})), 1, PermanentFailure, "")
		})
		t.Run("documented example arguments", func(t *testing.T) {
			raw, _ := os.ReadFile("testdata/event-2.0.json") // userArguments k1, k2
			want(t, invoke(t, context.Background(), h, raw), 1, PermanentFailure, `unknown user argument "k1"`)
		})
		for name, args := range map[string]map[string]string{
			"op not allowed":          {"op": "reencrypt"},
			"destination not allowed": {"op": "decrypt", "destination": "s3://" + b + "/elsewhere/"},
			"other bucket":            {"destination": "s3://other-bucket/dec/"},
			"context redefined":       {"context": "x=1,x=2"},
		} {
			t.Run(name, func(t *testing.T) {
				want(t, invoke(t, context.Background(), h, event(t, "2.0", b, args, obj{key: "p"}, obj{key: "p"})), 2, PermanentFailure, ErrBadArguments.Error())
			})
		}
		t.Run("prefix as key", func(t *testing.T) {
			want(t, invoke(t, context.Background(), h, event(t, "2.0", b, nil, obj{key: "enc/"})), 1, PermanentFailure, ErrBadTask.Error())
		})
	})
}

func TestBadEvent(t *testing.T) {
	h := &Handler{}
	for _, ev := range []string{`{"invocationSchemaVersion":"3.0","tasks":[]}`, `[]`, `{"invocationSchemaVersion":"1.0","tasks":7}`} {
		if _, err := h.Handle(context.Background(), json.RawMessage(ev)); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%s: %v, want ErrBadEvent", ev, err)
		}
	}
}

// failingS3 is an S3 client, without retries, of a server where bucket
// "src" holds every key (HEAD answers 200) and "dst" none (404), and
// every other request fails with status and an S3 error code; block
// makes it hold each request until the client gives up.
func failingS3(t *testing.T, status int, code string, block bool) *s3.Client {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case block:
			<-r.Context().Done()
			return
		case r.Method == http.MethodHead && strings.HasPrefix(r.URL.Path, "/src/"):
			w.Header().Set("Content-Length", "1")
			return
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>test</Message></Error>`)
	}))
	t.Cleanup(ts.Close)
	c, err := s3crypt.NewS3Client(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "test", ""), Retryer: func() aws.Retryer { return aws.NopRetryer{} }},
		func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(ts.URL), true })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTemporaryFailures: throttling, 5xx and request timeouts (on the
// GET of the input) let S3 retry the task; other 4xx do not.
func TestTemporaryFailures(t *testing.T) {
	awsEnv(t)
	key := aesKey(t, "k")
	for _, c := range []struct {
		status int
		code   string
		want   string
	}{
		{503, "SlowDown", TemporaryFailure},
		{500, "InternalError", TemporaryFailure},
		{429, "TooManyRequests", TemporaryFailure},
		{400, "RequestTimeout", TemporaryFailure},
		{403, "AccessDenied", PermanentFailure},
		{404, "NoSuchKey", PermanentFailure},
	} {
		t.Run(c.code, func(t *testing.T) {
			h := newHandler(t, failingS3(t, c.status, c.code, false), map[string]string{"PHICRYPT_KEY": key, "PHICRYPT_DESTINATION": "s3://dst/"})
			rs := invoke(t, context.Background(), h, event(t, "2.0", "src", nil, obj{key: "a"}))
			want(t, rs, 1, c.want, "")
		})
	}
}

// TestDeadline: a task still running a margin before the invocation's
// deadline stops and is retried later; one that cannot start in time is
// not started.
func TestDeadline(t *testing.T) {
	awsEnv(t)
	key := aesKey(t, "k")
	h := newHandler(t, failingS3(t, 0, "", true), map[string]string{"PHICRYPT_KEY": key, "PHICRYPT_DESTINATION": "s3://dst/", "PHICRYPT_DEADLINE_MARGIN": "100ms"})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	rs := invoke(t, ctx, h, event(t, "1.0", "src", nil, obj{key: "a"}, obj{key: "b"}))
	if d := time.Since(start); d > 350*time.Millisecond {
		t.Errorf("returned after %v, past the deadline's margin", d)
	}
	want(t, rs, 2, TemporaryFailure, "")
	if !strings.Contains(rs[1].String, "not started") {
		t.Errorf("second task: %+v", rs[1])
	}
}

func TestConfigFromEnv(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no key":           {"PHICRYPT_DESTINATION": "s3://b/"},
		"no destination":   {"PHICRYPT_KEY": "aes:k"},
		"bad op":           {"PHICRYPT_KEY": "aes:k", "PHICRYPT_DESTINATION": "s3://b/", "PHICRYPT_OP": "shred"},
		"in place encrypt": {"PHICRYPT_KEY": "aes:k", "PHICRYPT_IN_PLACE": "true"},
		"bad context":      {"PHICRYPT_KEY": "aes:k", "PHICRYPT_DESTINATION": "s3://b/", "PHICRYPT_CONTEXT": "novalue"},
		"bad cache age":    {"PHICRYPT_KEY": "aes:k", "PHICRYPT_DESTINATION": "s3://b/", "PHICRYPT_CACHE_MAX_AGE": "soon"},
	} {
		if _, err := ConfigFromEnv(func(k string) string { return env[k] }); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	c, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"PHICRYPT_KEY": "aes:a, alias/b", "PHICRYPT_DESTINATION": "s3://b/p/"}[k]
	})
	if err != nil || c.Op != batch.Encrypt || len(c.Keys.Specs) != 2 || c.Keys.CacheMaxAge != DefaultCacheMaxAge ||
		c.Keys.CacheMaxMessages != DefaultCacheMaxMessages || c.MaxEDKs != s3crypt.DefaultMaxEncryptedDataKeys {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

// TestKMSFailures: KMS throttling and 5xx, on GenerateDataKey and on
// Decrypt, let S3 retry the task; KMS refusing access does not.
func TestKMSFailures(t *testing.T) {
	awsEnv(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1") // the SDK's own retries would back off for seconds
	kms := kmstest.Start(t, kmslocal.Options{})
	arn := kms.CreateKey(t)
	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-kmsfail")
	put(t, srv, b, "p", []byte("payload"))
	ok := newHandler(t, srv.Client, map[string]string{"PHICRYPT_KEY": arn, "PHICRYPT_KMS_ENDPOINT_URL": kms.Endpoint, "PHICRYPT_DESTINATION": "s3://" + b + "/enc/"})
	want(t, invoke(t, context.Background(), ok, event(t, "1.0", b, nil, obj{key: "p"})), 1, Succeeded, "")
	for i, c := range []struct {
		status int
		typ    string
		want   string
	}{
		{400, "ThrottlingException", TemporaryFailure},
		{500, "KMSInternalException", TemporaryFailure},
		{503, "ServiceUnavailableException", TemporaryFailure},
		{400, "AccessDeniedException", PermanentFailure},
	} {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(c.status)
			io.WriteString(w, `{"__type":"`+c.typ+`","message":"test"}`)
		}))
		t.Cleanup(bad.Close)
		dst := "s3://" + b + "/" + string(rune('a'+i)) + "/"
		t.Run(c.typ+"/encrypt", func(t *testing.T) {
			h := newHandler(t, srv.Client, map[string]string{"PHICRYPT_KEY": arn, "PHICRYPT_KMS_ENDPOINT_URL": bad.URL, "PHICRYPT_DESTINATION": dst})
			want(t, invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "p"})), 1, c.want, c.typ)
		})
		t.Run(c.typ+"/decrypt", func(t *testing.T) {
			h := newHandler(t, srv.Client, map[string]string{"PHICRYPT_OP": "decrypt", "PHICRYPT_KEY": arn, "PHICRYPT_KMS_ENDPOINT_URL": bad.URL, "PHICRYPT_DESTINATION": dst})
			want(t, invoke(t, context.Background(), h, event(t, "1.0", b, nil, obj{key: "enc/p.enc"})), 1, c.want, c.typ)
		})
	}
}

// TestInPlace re-encrypts each object over itself as a new version; the
// old version stays. A bucket without versioning is refused.
func TestInPlace(t *testing.T) {
	awsEnv(t)
	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-inplace")
	if _, err := srv.Client.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: &b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	// Key names of one length: both versions of p.enc have one size, as
	// gofakes3's HEAD ignores versionId.
	old, new := aesKey(t, "old"), aesKey(t, "new")
	put(t, srv, b, "p", []byte("payload"))
	enc := newHandler(t, srv.Client, map[string]string{"PHICRYPT_KEY": old, "PHICRYPT_DESTINATION": "s3://" + b + "/"})
	want(t, invoke(t, context.Background(), enc, event(t, "1.0", b, nil, obj{key: "p"})), 1, Succeeded, "")
	v1, err := srv.Client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &b, Key: aws.String("p.enc")})
	if err != nil {
		t.Fatal(err)
	}
	re := newHandler(t, srv.Client, map[string]string{"PHICRYPT_OP": "reencrypt", "PHICRYPT_KEY": new, "PHICRYPT_DECRYPT_KEY": old, "PHICRYPT_IN_PLACE": "true"})
	want(t, invoke(t, context.Background(), re, event(t, "2.0", b, nil, obj{key: "p.enc"})), 1, Succeeded, "s3://"+b+"/p.enc")
	want(t, invoke(t, context.Background(), re, event(t, "2.0", b, map[string]string{"destination": "s3://" + b + "/x/"}, obj{key: "p.enc"})), 1, PermanentFailure, ErrBadArguments.Error())

	dec := func(key string, version string) []result {
		h := newHandler(t, srv.Client, map[string]string{"PHICRYPT_OP": "decrypt", "PHICRYPT_KEY": key, "PHICRYPT_DESTINATION": "s3://" + b + "/dec/", "PHICRYPT_OVERWRITE": "true"})
		return invoke(t, context.Background(), h, event(t, "2.0", b, nil, obj{key: "p.enc", version: version}))
	}
	want(t, dec(new, ""), 1, Succeeded, "")
	want(t, dec(old, ""), 1, PermanentFailure, "no keyring could decrypt")
	want(t, dec(old, aws.ToString(v1.VersionId)), 1, Succeeded, "") // the old version remains

	nv := srv.Bucket(t, "lambda-noversions")
	put(t, srv, nv, "q.enc", get(t, srv, b, "p.enc"))
	want(t, invoke(t, context.Background(), re, event(t, "2.0", nv, nil, obj{key: "q.enc"})), 1, PermanentFailure, batch.ErrNotVersioned.Error())
}

func TestBucketOfARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:s3:::amzn-s3-demo-bucket":                   "amzn-s3-demo-bucket",
		"arn:aws-cn:s3:::b":                                  "b",
		"arn:aws:s3:us-east-1:0123456788:examplebucket":      "examplebucket", // as in some examples
		"arn:aws:s3:us-east-1:123456789012:accesspoint/ap":   "",
		"arn:aws:s3:::b/key":                                 "",
		"arn:aws:lambda:us-east-1:123456789012:function:f":   "",
		"amzn-s3-demo-bucket":                                "",
		"arn:aws:s3-object-lambda:us-east-1:123:accesspoint": "",
	} {
		if got := bucketOfARN(arn); got != want {
			t.Errorf("bucketOfARN(%q) = %q, want %q", arn, got, want)
		}
	}
}

func TestDestinationAllowed(t *testing.T) {
	c := Config{Destination: "s3://b/enc"}
	for d, ok := range map[string]bool{
		"s3://b/enc": true, "s3://b/enc/": true, "s3://b/enc/sub/": true,
		"s3://b/encX/": false, "s3://b/": false, "s3://c/enc/": false, "b/enc/": false,
	} {
		if err := c.destinationAllowed(d); (err == nil) != ok || err != nil && !errors.Is(err, ErrBadArguments) {
			t.Errorf("%s: %v", d, err)
		}
	}
}

func TestClassifyConfiguration(t *testing.T) {
	for _, err := range []error{
		&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "s3.example", IsNotFound: true}},
		fmt.Errorf("put: %w", s3crypt.ErrInsecureEndpoint),
	} {
		if got := classify(err); got != PermanentFailure {
			t.Errorf("%v: %s", err, got)
		}
	}
	if got := classify(&net.OpError{Op: "dial", Err: errors.New("connection refused")}); got != TemporaryFailure {
		t.Errorf("connection refused: %s", got)
	}
}
