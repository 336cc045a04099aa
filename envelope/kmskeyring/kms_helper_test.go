package kmskeyring_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// These helpers put kmslocal behind the stock aws-sdk-go-v2 KMS client. The
// static credentials are placeholders: kmslocal accepts any signature.

const endpointEnv = "PHICRYPT_KMS_ENDPOINT"

// call is one KMS request as it went over the wire.
type call struct {
	Op          string
	KeyID       string
	EC          map[string]string
	GrantTokens []string
}

// kmsEnv is a kmslocal server in-process behind httptest, a KMS client
// for it, and a record of every request and every data key it released.
type kmsEnv struct {
	srv    *kmslocal.Server // nil for a kmslocal process
	url    string
	client *kms.Client

	mu       sync.Mutex
	calls    []call
	dataKeys [][]byte // Plaintext of every GenerateDataKey and Decrypt response
}

func newKMSClient(url, region string) *kms.Client {
	return kms.New(kms.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKMSLOCAL", "kmslocal-accepts-any", ""),
		BaseEndpoint: aws.String(url),
	})
}

// startKMS serves a new kmslocal with options o until the test ends.
func startKMS(t *testing.T, o kmslocal.Options) *kmsEnv {
	t.Helper()
	s, err := kmslocal.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &kmsEnv{srv: s}
	ts := httptest.NewServer(http.HandlerFunc(e.record))
	t.Cleanup(ts.Close)
	e.url = ts.URL
	e.client = newKMSClient(ts.URL, s.Region())
	return e
}

// processKMS returns an env for the kmslocal process at $PHICRYPT_KMS_ENDPOINT
// (no recording), or skips the test.
func processKMS(t *testing.T) *kmsEnv {
	t.Helper()
	u := os.Getenv(endpointEnv)
	if u == "" {
		t.Skip("set " + endpointEnv + " (bash scripts/test.sh starts kmslocal)")
	}
	return &kmsEnv{url: u, client: newKMSClient(u, kmslocal.DefaultRegion)}
}

// record notes the request and the data key of the response, then passes
// both through unchanged.
func (e *kmsEnv) record(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		KeyID             string `json:"KeyId"`
		EncryptionContext map[string]string
		GrantTokens       []string
	}
	json.Unmarshal(body, &in) // non-JSON requests are recorded with empty fields
	c := call{Op: strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService."), KeyID: in.KeyID, EC: in.EncryptionContext, GrantTokens: in.GrantTokens}

	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	var out struct{ Plaintext []byte }
	json.Unmarshal(rec.Body.Bytes(), &out)

	e.mu.Lock()
	e.calls = append(e.calls, c)
	if len(out.Plaintext) > 0 {
		e.dataKeys = append(e.dataKeys, out.Plaintext)
	}
	e.mu.Unlock()
	hdr := w.Header()
	for k, v := range rec.Header() {
		hdr[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// takeCalls returns the requests recorded since the last call.
func (e *kmsEnv) takeCalls() []call {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.calls
	e.calls = nil
	return c
}

// ops returns the operation names of calls.
func ops(calls []call) []string {
	var s []string
	for _, c := range calls {
		s = append(s, c.Op)
	}
	return s
}

// createKey creates a key through the CreateKey operation, with aliases
// ("alias/..."), and returns its ARN.
func (e *kmsEnv) createKey(t *testing.T, multiRegion bool, aliases ...string) string {
	t.Helper()
	ctx := context.Background()
	out, err := e.client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(t.Name()), MultiRegion: aws.Bool(multiRegion)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range aliases {
		if _, err := e.client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(a), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
	}
	e.takeCalls()
	return aws.ToString(out.KeyMetadata.Arn)
}

// checkNoKeyMaterial fails if the text of err holds any data key KMS
// released, raw, hex or base64.
func (e *kmsEnv) checkNoKeyMaterial(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.dataKeys) == 0 {
		t.Fatal("no data key recorded: the check would be empty")
	}
	for _, k := range e.dataKeys {
		for _, form := range []string{string(k), hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)),
			base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k)} {
			if strings.Contains(msg, form) {
				t.Fatalf("error text holds a data key: %q", msg)
			}
		}
	}
}

// mrkPair starts two kmslocal servers, in us-east-1 and us-west-2, holding
// the same multi-Region key (same id, same material), and returns them
// with the key's ARN in each.
func mrkPair(t *testing.T) (east, west *kmsEnv, eastARN, westARN string) {
	t.Helper()
	const id = "mrk-0123456789abcdef0123456789abcdef"
	material := bytes.Repeat([]byte{0x5a}, 32)
	var envs []*kmsEnv
	for _, region := range []string{"us-east-1", "us-west-2"} {
		seed := kmslocal.SeedFile{Region: region, Keys: []kmslocal.SeedKey{{ID: id, Material: material, MultiRegion: true}}}
		b, err := json.Marshal(seed)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "seed.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, startKMS(t, kmslocal.Options{SeedFile: p}))
	}
	east, west = envs[0], envs[1]
	return east, west, east.srv.KeyARN(id), west.srv.KeyARN(id)
}
