// Package s3test connects tests and benchmarks to an S3 server through the
// stock aws-sdk-go-v2 client: an in-memory gofakes3 behind plain HTTP on
// loopback (Fake), or the versitygw process over TLS that
// scripts/s3-server.sh starts and describes in PHICRYPT_S3_* variables
// (Real). Credentials here are placeholders for local servers only.
//
// gofakes3 runs in a process of its own, the command of the
// internal/s3fake module, so that neither this package nor any test of the
// phicrypt module imports it: a module that requires phicrypt then has no
// gofakes3, nor what gofakes3 needs, in its module graph.
package s3test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/s3crypt"
)

// TB is the part of testing.TB this package uses.
type TB interface {
	Helper()
	Cleanup(func())
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
}

// The variables scripts/s3-server.sh exports.
const (
	EndpointEnv  = "PHICRYPT_S3_ENDPOINT"
	CAEnv        = "PHICRYPT_S3_CA"
	AccessKeyEnv = "PHICRYPT_S3_ACCESS_KEY"
	SecretKeyEnv = "PHICRYPT_S3_SECRET_KEY"
	PIDEnv       = "PHICRYPT_S3_PID" // the server's process ID
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

// WithoutVersioning is the Fake option for a server that keeps no object
// versions.
const WithoutVersioning = "noversioning"

// Fake serves a new in-memory gofakes3 until the test ends, with options
// (WithoutVersioning). gofakes3 only behind plain HTTP: behind TLS it
// stores aws-chunked framing as data.
func Fake(t TB, opts ...string) *Server {
	t.Helper()
	url, err := fakes.call(strings.Join(append([]string{"new"}, opts...), " "))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fakes.call("close " + url) })
	return newServer(t, url, "AKIDS3TEST", "s3test-local-only", "", &http.Client{})
}

// fakes is the s3fake process of this test binary, started by the first
// Fake. It lives until the test binary exits, which ends its stdin.
var fakes fakeProcess

type fakeProcess struct {
	once sync.Once
	err  error

	mu     sync.Mutex // serializes commands
	in     io.Writer
	out    *bufio.Scanner
	stderr lockedBuffer
}

// lockedBuffer is s3fake's stderr: written by exec's copying goroutine,
// read in errors.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// call sends one command to s3fake and returns its answer.
func (p *fakeProcess) call(cmd string) (string, error) {
	p.once.Do(p.start)
	if p.err != nil {
		return "", p.err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		return "", fmt.Errorf("s3fake: %v: %s", err, p.stderr.String())
	}
	if !p.out.Scan() {
		return "", fmt.Errorf("s3fake exited: %v: %s", p.out.Err(), p.stderr.String())
	}
	ans := p.out.Text()
	if msg, ok := strings.CutPrefix(ans, "error "); ok {
		return "", fmt.Errorf("s3fake: %s", msg)
	}
	return ans, nil
}

// start runs the s3fake module's command with go run from the module's
// directory, for the host (a cross-compiled test under an emulator still
// gets a server it can reach).
func (p *fakeProcess) start() {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		p.err = fmt.Errorf("s3test: Fake needs the go command and the phicrypt source tree (go env GOMOD: %q, %v)", gomod, err)
		return
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = filepath.Join(filepath.Dir(strings.TrimSpace(string(gomod))), "internal", "s3fake")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOOS=") && !strings.HasPrefix(kv, "GOARCH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stderr = &p.stderr
	if p.in, err = cmd.StdinPipe(); err != nil {
		p.err = err
		return
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.err = err
		return
	}
	p.out = bufio.NewScanner(out)
	if err := cmd.Start(); err != nil {
		p.err = fmt.Errorf("s3test: starting s3fake: %v", err)
	}
}

// Real returns the server of $PHICRYPT_S3_ENDPOINT, trusting the CA in
// $PHICRYPT_S3_CA (if set) with TLS 1.2 or later and resuming sessions, or
// skips the test.
func Real(t TB) *Server {
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
	// The session cache resumes TLS sessions: versitygw closes many
	// connections, and a full handshake for each new one would weigh on
	// every transfer measured through this client.
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(64)}
	tr.MaxIdleConnsPerHost = 32
	return newServer(t, endpoint, os.Getenv(AccessKeyEnv), os.Getenv(SecretKeyEnv), ca, &http.Client{Transport: tr})
}

func newServer(t TB, endpoint, ak, sk, ca string, hc *http.Client) *Server {
	t.Helper()
	cfg := aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""), HTTPClient: hc}
	c, err := s3crypt.NewS3Client(cfg, func(o *s3.Options) {
		o.BaseEndpoint = &endpoint
		o.UsePathStyle = true
	})
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
func (s *Server) Bucket(t TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%016x", prefix, rand.Uint64())
	if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatal(err)
	}
	return name
}
