// Package kmstest connects tests to kmslocal through the stock
// aws-sdk-go-v2 KMS client: an in-process server on loopback that records
// every request (Start, Serve), or the kmslocal process whose URL is in
// $PHICRYPT_KMS_ENDPOINT (Process; scripts/test.sh starts one). Any
// credentials work with kmslocal; the ones here are placeholders, not
// secrets.
//
// The package takes a TB, which *testing.T and *testing.B satisfy, and does
// not import package testing.
package kmstest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// EndpointEnv names the environment variable holding a kmslocal process URL.
const EndpointEnv = "PHICRYPT_KMS_ENDPOINT"

// TB is the part of testing.TB this package uses.
type TB interface {
	Helper()
	Cleanup(func())
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Name() string
}

// Call is one KMS request as it went over the wire.
type Call struct {
	Op          string // the operation: "GenerateDataKey", "Decrypt", ...
	KeyID       string
	EC          map[string]string // EncryptionContext
	GrantTokens []string
}

// Env is a KMS client and the kmslocal behind it. For an in-process
// server it records every request and every data key a response released;
// for a process, the requests of its own client, which other tests'
// calls to the shared server cannot disturb.
type Env struct {
	Client   *kms.Client
	Endpoint string
	Server   *kmslocal.Server // nil for a process
	HTTP     *http.Client     // the client's HTTP client, for raw requests

	mu       sync.Mutex
	calls    []Call
	dataKeys [][]byte // Plaintext of every response that has one
}

// Start serves a new in-process kmslocal with options o until the test
// ends.
func Start(t TB, o kmslocal.Options) *Env {
	t.Helper()
	s, err := kmslocal.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, s)
}

// Serve serves s, behind its Host rule, on loopback until the test ends.
func Serve(t TB, s *kmslocal.Server) *Env {
	t.Helper()
	e := &Env{Server: s}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config.Handler = e.record(s.Handler(kmslocal.ListenHosts(ts.Listener.Addr())...))
	ts.Start()
	t.Cleanup(ts.Close)
	e.init(ts.URL, s.Region(), ts.Client())
	return e
}

// Process returns an Env for the kmslocal process at $PHICRYPT_KMS_ENDPOINT,
// recording the requests its own client sends (not the data keys), and
// skips the test when it is not set.
func Process(t TB) *Env {
	t.Helper()
	u := os.Getenv(EndpointEnv)
	if u == "" {
		t.Skip("set " + EndpointEnv + " to a kmslocal process URL (bash scripts/test.sh starts one)")
	}
	e := &Env{}
	e.init(u, kmslocal.DefaultRegion, &http.Client{Transport: recordSent{e, http.DefaultTransport}})
	return e
}

// New returns the kmslocal process of $PHICRYPT_KMS_ENDPOINT when it is
// set, else a new in-process one.
func New(t TB) *Env {
	t.Helper()
	if os.Getenv(EndpointEnv) != "" {
		return Process(t)
	}
	return Start(t, kmslocal.Options{})
}

func (e *Env) init(url, region string, hc *http.Client) {
	e.Endpoint, e.HTTP = url, hc
	e.Client = kms.New(kms.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKMSLOCAL", "kmslocal-accepts-any", ""),
		BaseEndpoint: aws.String(url),
		HTTPClient:   hc,
	})
}

// maxRecorded bounds the part of a request body record reads to parse.
const maxRecorded = 64 << 10

// readHead reads the first maxRecorded bytes of a request body and
// returns them with a body that yields the whole body again, so the server
// sees the request as the client made it (its body limit included).
func readHead(body io.ReadCloser) ([]byte, io.ReadCloser, error) {
	head, err := io.ReadAll(io.LimitReader(body, maxRecorded))
	if err != nil {
		return nil, nil, err
	}
	return head, struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), body), body}, nil
}

// parseCall describes the request of X-Amz-Target target whose body
// begins with head; a non-JSON or longer body gives empty fields.
func parseCall(target string, head []byte) Call {
	var in struct {
		KeyID             string `json:"KeyId"`
		EncryptionContext map[string]string
		GrantTokens       []string
	}
	json.Unmarshal(head, &in)
	return Call{Op: strings.TrimPrefix(target, "TrentService."), KeyID: in.KeyID, EC: in.EncryptionContext, GrantTokens: in.GrantTokens}
}

// record notes each request and the data key of its response, passing
// both through unchanged.
func (e *Env) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head, body, err := readHead(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = body
		c := parseCall(r.Header.Get("X-Amz-Target"), head)

		rec := &teeWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		var out struct{ Plaintext []byte }
		json.Unmarshal(rec.body.Bytes(), &out)

		e.mu.Lock()
		e.calls = append(e.calls, c)
		if len(out.Plaintext) > 0 {
			e.dataKeys = append(e.dataKeys, out.Plaintext)
		}
		e.mu.Unlock()
	})
}

// recordSent notes each KMS request this Env's client sends to a process,
// whose server other tests share.
type recordSent struct {
	e    *Env
	next http.RoundTripper
}

func (rs recordSent) RoundTrip(r *http.Request) (*http.Response, error) {
	if target := r.Header.Get("X-Amz-Target"); target != "" && r.Body != nil {
		head, body, err := readHead(r.Body)
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context()) // a RoundTripper leaves the caller's request as it is
		r.Body = body
		rs.e.mu.Lock()
		rs.e.calls = append(rs.e.calls, parseCall(target, head))
		rs.e.mu.Unlock()
	}
	return rs.next.RoundTrip(r)
}

// teeWriter keeps a copy of the response body.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.body.Write(p)
	return t.ResponseWriter.Write(p)
}

// TakeCalls returns the requests recorded since the last TakeCalls (for a
// process, those of this Env's client only).
func (e *Env) TakeCalls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.calls
	e.calls = nil
	return c
}

// DataKeys returns the plaintext data key of every response so far that
// released one (none for a process).
func (e *Env) DataKeys() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]byte(nil), e.dataKeys...)
}

// CreateKey creates a symmetric key through the CreateKey operation, adds
// the aliases ("alias/..."), and returns its ARN. Its requests are not
// recorded.
func (e *Env) CreateKey(t TB, aliases ...string) string {
	t.Helper()
	return e.createKey(t, false, aliases)
}

// CreateMultiRegionKey is CreateKey for a multi-Region key.
func (e *Env) CreateMultiRegionKey(t TB, aliases ...string) string {
	t.Helper()
	return e.createKey(t, true, aliases)
}

func (e *Env) createKey(t TB, multiRegion bool, aliases []string) string {
	t.Helper()
	e.mu.Lock()
	n := len(e.calls)
	e.mu.Unlock()
	ctx := context.Background()
	out, err := e.Client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(t.Name()), MultiRegion: aws.Bool(multiRegion)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aliases {
		if _, err := e.Client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(a), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	if len(e.calls) >= n {
		e.calls = e.calls[:n]
	}
	e.mu.Unlock()
	return aws.ToString(out.KeyMetadata.Arn)
}

// Counts returns kmslocal's calls per operation so far. A process's counts
// include other tests' calls: compare two snapshots.
func (e *Env) Counts(t TB) map[string]int64 {
	t.Helper()
	if e.Server != nil {
		return e.Server.Counts()
	}
	resp, err := e.HTTP.Get(e.Endpoint + kmslocal.CountsPath)
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
