// Package kmstest connects tests to kmslocal through the stock
// aws-sdk-go-v2 KMS client: an in-process server behind httptest (Start),
// or the kmslocal process whose URL is in $PHICRYPT_KMS_ENDPOINT
// (Process; scripts/test.sh starts one). Any credentials work with
// kmslocal; the ones here are placeholders, not secrets.
package kmstest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// EndpointEnv names the environment variable holding a kmslocal process URL.
const EndpointEnv = "PHICRYPT_KMS_ENDPOINT"

// Env is a KMS client and the kmslocal behind it.
type Env struct {
	Client   *kms.Client
	Endpoint string
	Server   *kmslocal.Server // nil for a process
	http     *http.Client
}

// Start serves a new in-process kmslocal with options o, behind its Host
// rule, until the test ends.
func Start(t testing.TB, o kmslocal.Options) *Env {
	t.Helper()
	s, err := kmslocal.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config.Handler = s.Handler(kmslocal.ListenHosts(ts.Listener.Addr())...)
	ts.Start()
	t.Cleanup(ts.Close)
	return newEnv(ts.URL, s.Region(), s, ts.Client())
}

// Process returns an Env for the kmslocal process at $PHICRYPT_KMS_ENDPOINT,
// and skips the test when it is not set.
func Process(t testing.TB) *Env {
	t.Helper()
	u := os.Getenv(EndpointEnv)
	if u == "" {
		t.Skip("set " + EndpointEnv + " to a kmslocal process URL (bash scripts/test.sh starts one)")
	}
	return newEnv(u, kmslocal.DefaultRegion, nil, http.DefaultClient)
}

// New returns the kmslocal process of $PHICRYPT_KMS_ENDPOINT when it is
// set, else a new in-process one.
func New(t testing.TB) *Env {
	t.Helper()
	if os.Getenv(EndpointEnv) != "" {
		return Process(t)
	}
	return Start(t, kmslocal.Options{})
}

func newEnv(url, region string, s *kmslocal.Server, hc *http.Client) *Env {
	c := kms.New(kms.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKMSLOCAL", "kmslocal-accepts-any", ""),
		BaseEndpoint: aws.String(url),
		HTTPClient:   hc,
	})
	return &Env{Client: c, Endpoint: url, Server: s, http: hc}
}

// CreateKey creates a symmetric key through the CreateKey operation, adds
// the aliases ("alias/..."), and returns its ARN.
func (e *Env) CreateKey(t testing.TB, aliases ...string) string {
	t.Helper()
	ctx := context.Background()
	out, err := e.Client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aliases {
		if _, err := e.Client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(a), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// Counts returns kmslocal's calls per operation so far. A process's counts
// include other tests' calls: compare two snapshots.
func (e *Env) Counts(t testing.TB) map[string]int64 {
	t.Helper()
	if e.Server != nil {
		return e.Server.Counts()
	}
	resp, err := e.http.Get(e.Endpoint + kmslocal.CountsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]int64{}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("kmslocal counts: %v", err)
	}
	return m
}
