package kms_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
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
	for _, v := range []string{"AWS_PROFILE", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(v, "") // restores the old value at the end
		os.Unsetenv(v)  // the SDK tells unset from empty
	}
}

func loadConfig(t *testing.T, hc aws.HTTPClient) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "test-only", "")),
		config.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
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

// Attack: AWS_ENDPOINT_URL_KMS or endpoint_url in the shared config file
// (as a hostile environment or dotfile sets it) sends data keys over plain
// http to a remote host; only an explicit endpoint argument was checked.
func TestHostileEndpointFromConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		config string
	}{
		{name: "AWS_ENDPOINT_URL_KMS", env: map[string]string{"AWS_ENDPOINT_URL_KMS": remote}},
		{name: "AWS_ENDPOINT_URL", env: map[string]string{"AWS_ENDPOINT_URL": remote}},
		{name: "endpoint_url", config: "[default]\nendpoint_url = " + remote + "\n"},
		{name: "services", config: "[default]\nservices = dev\n\n[services dev]\nkms =\n  endpoint_url = " + remote + "\n"},
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
			c, err := kms.NewClient(context.Background(), loadConfig(t, hc), "")
			if !errors.Is(err, kms.ErrInsecureEndpoint) {
				t.Fatalf("NewClient = %v, want ErrInsecureEndpoint", err)
			}
			if c != nil || hc.n.Load() != 0 {
				t.Fatalf("client %v, %d requests sent", c, hc.n.Load())
			}
		})
	}
}

// Attack: an endpoint chosen after construction (a custom resolver, a
// per-call option) bypasses a check done only when the client is built.
func TestHostileEndpointAtRequest(t *testing.T) {
	isolateAWSEnv(t)
	hc := &countingClient{next: http.DefaultClient}
	cfg := loadConfig(t, hc)
	cfg.ServiceOptions = append(cfg.ServiceOptions, func(_ string, v any) {
		if o, ok := v.(*awskms.Options); ok {
			o.EndpointResolverV2 = remoteResolver{}
		}
	})
	c, err := kms.NewClient(context.Background(), cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/x"), Plaintext: []byte("k")})
	if !errors.Is(err, kms.ErrInsecureEndpoint) {
		t.Fatalf("Encrypt via resolver = %v, want ErrInsecureEndpoint", err)
	}
	c2, err := kms.NewClient(context.Background(), loadConfig(t, hc), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/x"), Plaintext: []byte("k")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String(remote) })
	if !errors.Is(err, kms.ErrInsecureEndpoint) {
		t.Fatalf("Encrypt with per-call endpoint = %v, want ErrInsecureEndpoint", err)
	}
	if n := hc.n.Load(); n != 0 {
		t.Fatalf("%d requests reached the HTTP client", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v: retried?", d)
	}
}

type remoteResolver struct{}

func (remoteResolver) ResolveEndpoint(context.Context, awskms.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, err := url.Parse(remote)
	if err != nil {
		return smithyendpoints.Endpoint{}, err
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}

// A loopback endpoint from the environment still works.
func TestEndpointFromConfigLoopback(t *testing.T) {
	isolateAWSEnv(t)
	env := kmstest.Start(t, kmslocal.Options{})
	t.Setenv("AWS_ENDPOINT_URL_KMS", env.Endpoint)
	hc := &countingClient{next: http.DefaultClient}
	c, err := kms.NewClient(context.Background(), loadConfig(t, hc), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	if hc.n.Load() != 1 {
		t.Fatalf("%d requests, want 1", hc.n.Load())
	}
}
