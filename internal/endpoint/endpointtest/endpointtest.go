// Package endpointtest holds what the tests of every AWS client phicrypt
// builds (KMS, S3) share to check the https-or-loopback rule against each
// place the SDK takes an endpoint from. Only tests import it.
package endpointtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Remote is TEST-NET-1 (RFC 5737): plain http to it must never be dialed.
const Remote = "http://192.0.2.1:9"

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Setenv(key, value string)
	TempDir() string
	Fatal(args ...any)
}

// Source is one place the SDK reads service's endpoint from, set to Remote.
type Source struct {
	Name   string
	Env    map[string]string // environment variables to set
	Config string            // shared config file contents, if any
}

// Sources returns every place the SDK reads an endpoint for service ("kms",
// "s3") from, each set to Remote.
func Sources(service string) []Source {
	env := "AWS_ENDPOINT_URL_" + strings.ToUpper(service)
	return []Source{
		{Name: env, Env: map[string]string{env: Remote}},
		{Name: "AWS_ENDPOINT_URL", Env: map[string]string{"AWS_ENDPOINT_URL": Remote}},
		{Name: "endpoint_url", Config: "[default]\nendpoint_url = " + Remote + "\n"},
		{Name: "services", Config: "[default]\nservices = dev\n\n[services dev]\n" + service + " =\n  endpoint_url = " + Remote + "\n"},
	}
}

// Isolate points the SDK's config loading at empty files in a temporary
// directory and unsets the endpoint variables of service, so only what
// the test sets applies; then it applies src, if not nil.
func Isolate(t TB, service string, src *Source) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, v := range []string{"AWS_PROFILE", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_" + strings.ToUpper(service), "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(v, "") // restores the old value at the end
		os.Unsetenv(v)  // the SDK tells unset from empty
	}
	if src == nil {
		return
	}
	for k, v := range src.Env {
		t.Setenv(k, v)
	}
	if src.Config != "" {
		if err := os.WriteFile(filepath.Join(dir, "config"), []byte(src.Config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// LoadConfig loads the default configuration with static test credentials
// in region, sending requests through hc.
func LoadConfig(t TB, region string, hc aws.HTTPClient) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "test-only", "")),
		config.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// CountingClient counts the requests that reached it, past any endpoint
// check, and passes them to Next (http.DefaultClient if nil).
type CountingClient struct {
	N    atomic.Int64
	Next aws.HTTPClient
}

// Do implements aws.HTTPClient.
func (c *CountingClient) Do(r *http.Request) (*http.Response, error) {
	c.N.Add(1)
	if c.Next == nil {
		return http.DefaultClient.Do(r)
	}
	return c.Next.Do(r)
}

// ConnectProxy is an HTTPS proxy that records the host of every CONNECT
// and refuses it: the AWS endpoints a process resolved (HTTPS_PROXY set
// to url), with no network used. It stops when the test ends.
func ConnectProxy(t interface{ Cleanup(func()) }) (url string, hosts func() []string) {
	var mu sync.Mutex
	var seen []string
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host)
		mu.Unlock()
		http.Error(w, "test proxy", http.StatusForbidden)
	}))
	t.Cleanup(p.Close)
	return p.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}
