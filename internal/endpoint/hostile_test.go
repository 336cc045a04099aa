package endpoint

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

var errSentinel = errors.New("test: insecure")

type countingDoer struct{ n atomic.Int64 }

func (c *countingDoer) Do(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("dialed")
}

// Attack: a request URL set after the endpoint was checked (resolver,
// per-call option) goes out over plain http to a remote host.
func TestHostileGuardRefusesRequest(t *testing.T) {
	inner := &countingDoer{}
	g := Guard(inner, errSentinel)
	for _, u := range []string{"http://192.0.2.1:9/x?uploads", "http://bucket.localhost:9000/", "ftp://127.0.0.1/", "http://u:hunter2@127.0.0.1/"} {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("data key"))
		_, err := g.Do(req)
		if !errors.Is(err, errSentinel) || !errors.Is(err, ErrInsecure) {
			t.Errorf("%s: %v, want the sentinel and ErrInsecure", u, err)
		}
		var r interface{ RetryableError() bool }
		if !errors.As(err, &r) || r.RetryableError() {
			t.Errorf("%s: error %v does not forbid retries", u, err)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "uploads")) {
			t.Errorf("%s: error shows user info or query: %v", u, err)
		}
	}
	if inner.n.Load() != 0 {
		t.Fatalf("%d refused requests reached the client", inner.n.Load())
	}
	for _, u := range []string{"https://192.0.2.1/", "http://127.0.0.1:1/?x=1", "http://[::1]:1/", "http://LOCALHOST:1/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if _, err := g.Do(req); errors.Is(err, ErrInsecure) {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	if inner.n.Load() != 4 {
		t.Fatalf("%d accepted requests reached the client, want 4", inner.n.Load())
	}
}

// Attack: an https or loopback endpoint answers 307 to plain http on a
// remote host, and the client re-sends the request body there.
func TestHostileGuardRefusesRedirect(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1:9/", http.StatusTemporaryRedirect)
	}))
	defer ts.Close()
	for name, c := range map[string]aws.HTTPClient{
		"http.Client":     &http.Client{},
		"BuildableClient": awshttp.NewBuildableClient(),
	} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader("data key"))
		resp, err := Guard(c, errSentinel).Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		var ue *url.Error
		if !errors.Is(err, errSentinel) || !errors.As(err, &ue) {
			t.Errorf("%s: redirect gave %v, want the sentinel", name, err)
		}
	}
}

// TestHostileSchemeBounded: an endpoint whose scheme is 1 MiB (a flag, an
// AWS_ENDPOINT_URL* value or an endpoint_url line) was refused with an
// error repeating the scheme whole and unquoted after show's cut copy.
func TestHostileSchemeBounded(t *testing.T) {
	u := strings.Repeat("a", 1<<20) + "://example.com"
	err := Check(u)
	if !errors.Is(err, ErrInsecure) {
		t.Fatalf("%.200v, want ErrInsecure", err)
	}
	if n := len(err.Error()); n > 1<<10 {
		t.Errorf("error of %d bytes for a %d-byte URL", n, len(u))
	}
}
