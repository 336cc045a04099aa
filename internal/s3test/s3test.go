// Package s3test connects tests and benchmarks to an S3 server through the
// stock aws-sdk-go-v2 client: gofakes3 in this process behind plain-HTTP
// httptest on loopback (Fake), or the versitygw process over TLS that
// scripts/s3-server.sh starts and describes in PHICRYPT_S3_* variables
// (Real). Credentials here are placeholders for local servers only.
package s3test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/phicrypt/phicrypt/s3crypt"
)

// The variables scripts/s3-server.sh exports.
const (
	EndpointEnv  = "PHICRYPT_S3_ENDPOINT"
	CAEnv        = "PHICRYPT_S3_CA"
	AccessKeyEnv = "PHICRYPT_S3_ACCESS_KEY"
	SecretKeyEnv = "PHICRYPT_S3_SECRET_KEY"
)

// Region is the region every client here uses.
const Region = "us-east-1"

// Server is an S3 endpoint and a path-style client for it.
type Server struct {
	Endpoint string
	Client   *s3.Client
	// Env holds what a process needs to reach the server with the
	// default credential chain: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_REGION and, for TLS with a private CA, AWS_CA_BUNDLE.
	Env []string
}

// Fake serves a new in-memory gofakes3 until the test ends. gofakes3 only
// behind plain HTTP: behind TLS it stores aws-chunked framing as data.
func Fake(t testing.TB, opts ...gofakes3.Option) *Server {
	t.Helper()
	opts = append([]gofakes3.Option{gofakes3.WithLogger(gofakes3.DiscardLog())}, opts...)
	hs := httptest.NewServer(gofakes3.New(s3mem.New(), opts...).Server())
	t.Cleanup(hs.Close)
	return newServer(t, hs.URL, "AKIDS3TEST", "s3test-local-only", "", hs.Client())
}

// Real returns the server of $PHICRYPT_S3_ENDPOINT, trusting the CA in
// $PHICRYPT_S3_CA (if set) with TLS 1.2 or later, or skips the test.
func Real(t testing.TB) *Server {
	t.Helper()
	endpoint, ca := os.Getenv(EndpointEnv), os.Getenv(CAEnv)
	if endpoint == "" {
		t.Skip("set " + EndpointEnv + " (bash scripts/test.sh starts versitygw)")
	}
	pool := x509.NewCertPool()
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("no certificate in %s", ca)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 32
	return newServer(t, endpoint, os.Getenv(AccessKeyEnv), os.Getenv(SecretKeyEnv), ca, &http.Client{Transport: tr})
}

func newServer(t testing.TB, endpoint, ak, sk, ca string, hc *http.Client) *Server {
	t.Helper()
	cfg := aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""), HTTPClient: hc}
	c, err := s3crypt.NewS3Client(context.Background(), cfg, endpoint, true)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + ak, "AWS_SECRET_ACCESS_KEY=" + sk, "AWS_REGION=" + Region}
	if ca != "" {
		env = append(env, "AWS_CA_BUNDLE="+ca)
	}
	return &Server{Endpoint: endpoint, Client: c, Env: env}
}

// Bucket creates a bucket named prefix-<random> and returns its name.
func (s *Server) Bucket(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%016x", prefix, rand.Uint64())
	if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatal(err)
	}
	return name
}
