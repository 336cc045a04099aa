package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/phicrypt/phicrypt/internal/s3test"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// remote is TEST-NET-1 (RFC 5737): plain http to it must never be dialed.
const remote = "http://192.0.2.1:9"

// isolateAWSEnv points the SDK's config loading at empty files and clears
// the endpoint variables, so only what a test sets applies.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, v := range []string{"AWS_PROFILE", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(v, "") // restores the old value at the end
		os.Unsetenv(v)  // the SDK tells unset from empty
	}
}

func loadConfig(t *testing.T, hc aws.HTTPClient) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(s3test.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDS3TEST", "s3test-local-only", "")),
		config.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func pathStyle(o *s3.Options) { o.UsePathStyle = true }

// endpointOpt points a client at a path-style endpoint.
func endpointOpt(u string) func(*s3.Options) {
	return func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(u), true }
}

// countingClient counts requests that got past the endpoint check.
type countingClient struct {
	n    atomic.Int64
	next aws.HTTPClient
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.Do(r)
}

// Attack: AWS_ENDPOINT_URL_S3 or endpoint_url in the shared config file
// sends objects and signed requests over plain http to a remote host;
// only an explicit endpoint argument was checked.
func TestHostileEndpointFromConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		config string
	}{
		{name: "AWS_ENDPOINT_URL_S3", env: map[string]string{"AWS_ENDPOINT_URL_S3": remote}},
		{name: "AWS_ENDPOINT_URL", env: map[string]string{"AWS_ENDPOINT_URL": remote}},
		{name: "endpoint_url", config: "[default]\nendpoint_url = " + remote + "\n"},
		{name: "services", config: "[default]\nservices = dev\n\n[services dev]\ns3 =\n  endpoint_url = " + remote + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateAWSEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			if tc.config != "" {
				if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			hc := &countingClient{next: http.DefaultClient}
			c, err := s3crypt.NewS3Client(loadConfig(t, hc))
			if !errors.Is(err, s3crypt.ErrInsecureEndpoint) {
				t.Fatalf("NewS3Client = %v, want ErrInsecureEndpoint", err)
			}
			if c != nil || hc.n.Load() != 0 {
				t.Fatalf("client %v, %d requests sent", c, hc.n.Load())
			}
		})
	}
}

// Attack: a per-call option points an already checked client at plain
// http on a remote host.
func TestHostileEndpointAtRequest(t *testing.T) {
	isolateAWSEnv(t)
	hc := &countingClient{next: http.DefaultClient}
	c, err := s3crypt.NewS3Client(loadConfig(t, hc), pathStyle)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")},
		func(o *s3.Options) { o.BaseEndpoint = aws.String(remote) })
	if !errors.Is(err, s3crypt.ErrInsecureEndpoint) {
		t.Fatalf("GetObject = %v, want ErrInsecureEndpoint", err)
	}
	if n := hc.n.Load(); n != 0 {
		t.Fatalf("%d requests reached the HTTP client", n)
	}
}

// A loopback endpoint from the environment still works.
func TestEndpointFromConfigLoopback(t *testing.T) {
	isolateAWSEnv(t)
	srv := s3test.Fake(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	c, err := s3crypt.NewS3Client(loadConfig(t, http.DefaultClient), pathStyle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("from-env")}); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the SDK's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Noise: every ranged GET logged "Response has no supported checksum" to
// the config's logger (stderr by default), burying real errors.
func TestHostileChecksumLogNoise(t *testing.T) {
	srv := s3test.Fake(t)
	var log syncBuffer
	cfg := aws.Config{
		Region:      s3test.Region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDS3TEST", "s3test-local-only", ""),
		Logger:      logging.NewStandardLogger(&log),
		// config.LoadDefaultConfig's default, which validates (and logs).
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	api, err := s3crypt.NewS3Client(cfg, endpointOpt(srv.Endpoint))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatal(err)
	}
	c, err := s3crypt.New(api, rawAESClient(t), s3crypt.WithPartSize(s3crypt.MinPartSize))
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(2*s3crypt.MinPartSize, 13)
	if _, err := c.Put(ctx, putIn(testBucket, "noise", bytes.NewReader(data), int64(len(data))), nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(ctx, getIn(testBucket, "noise"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %v, %d bytes back", err, len(got))
	}
	if s := log.String(); strings.Contains(s, "checksum") {
		t.Fatalf("SDK logged checksum noise:\n%.500s", s)
	}
}
