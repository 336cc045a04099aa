// Package endpoint decides which service endpoints phicrypt will send data
// keys, objects or credentials to: https anywhere, plain http only to a
// loopback host (a local test server).
package endpoint

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// ErrInsecure reports an endpoint that is not https and not loopback, or a
// URL that is not a plain endpoint (user info, query, fragment, no host).
var ErrInsecure = errors.New("insecure endpoint")

// maxShown bounds the URL text an error repeats.
const maxShown = 200

// Check accepts https URLs, and http URLs whose host is 127.0.0.0/8, ::1
// or "localhost". The error never shows a password from the URL.
func Check(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInsecure, err)
	}
	if u.User == nil && u.Hostname() != "" && (u.RawQuery != "" || u.Fragment != "") {
		return fmt.Errorf("%w %s: query or fragment in the URL", ErrInsecure, show(u))
	}
	return CheckURL(u)
}

// CheckURL is Check for a request URL: it allows a path and a query, and
// checks only the scheme, user info and host.
func CheckURL(u *url.URL) error {
	bad := func(why string) error { return fmt.Errorf("%w %s: %s", ErrInsecure, show(u), why) }
	switch host := u.Hostname(); {
	case host == "":
		return bad("no host")
	case u.User != nil:
		return bad("user info in the URL")
	case strings.EqualFold(u.Scheme, "https"):
		return nil
	case !strings.EqualFold(u.Scheme, "http"):
		return bad("scheme " + cut(u.Scheme) + ", want https")
	case !IsLoopback(host):
		return bad("plain http to a host that is not loopback")
	}
	return nil
}

// show quotes scheme://host of u (no user info, path or query), bounded.
func show(u *url.URL) string {
	return fmt.Sprintf("%q", cut(u.Scheme+"://"+u.Host))
}

// cut bounds s to maxShown bytes.
func cut(s string) string {
	if len(s) > maxShown {
		s = s[:maxShown] + "..."
	}
	return s
}

// IsLoopback reports whether host (no port) is "localhost" or a loopback
// address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// IsFIPS reports whether u is an endpoint FIPS mode accepts for service
// ("kms" or "s3"): on loopback (a local test server), or an https AWS
// endpoint whose host has a "<service>-fips" label followed by a region,
// or by "dualstack" and a region
// (kms-fips.us-east-1.amazonaws.com, s3-fips.dualstack.us-east-1.amazonaws.com,
// bucket.s3-fips.us-east-1.amazonaws.com, a VPC endpoint
// vpce-….kms-fips.us-east-1.vpce.amazonaws.com). A bucket named s3-fips in
// a host (s3-fips.s3.us-east-1.amazonaws.com) is not the service's label.
func IsFIPS(service, u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := strings.ToLower(p.Hostname())
	if IsLoopback(host) {
		return true
	}
	if !strings.EqualFold(p.Scheme, "https") || !strings.HasSuffix(host, ".amazonaws.com") {
		return false
	}
	labels := strings.Split(host, ".")
	for i, l := range labels {
		if l != service+"-fips" || i+1 >= len(labels) {
			continue
		}
		next := labels[i+1]
		if next == "dualstack" && i+2 < len(labels) {
			next = labels[i+2]
		}
		if isRegion(next) {
			return true
		}
	}
	return false
}

// isRegion reports whether l has the form of an AWS region name: letters,
// then groups of letters, then a number, separated by '-' (us-east-1,
// us-gov-west-1, cn-north-1, eu-isoe-west-1).
func isRegion(l string) bool {
	parts := strings.Split(l, "-")
	if len(parts) < 3 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		for _, c := range []byte(p) {
			digit := c >= '0' && c <= '9'
			if digit != (i == len(parts)-1) || !digit && (c < 'a' || c > 'z') {
				return false
			}
		}
	}
	return true
}

// Guard returns a client that sends a request through c only if CheckURL
// accepts its URL, whatever set it (explicit endpoint, AWS_ENDPOINT_URL*,
// the shared config file, a custom resolver). The redirects followed by an
// *http.Client or by the SDK's BuildableClient (frozen here: call Guard
// after the SDK applied its defaults, as a client option function does)
// are checked too. A refused request is never dialed; its error wraps
// sentinel and ErrInsecure and tells the AWS SDK retryer not to retry. A
// nil c means the SDK's default client.
func Guard(c aws.HTTPClient, sentinel error) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	if b, ok := c.(interface{ Freeze() aws.HTTPClient }); ok {
		c = b.Freeze()
	}
	if hc, ok := c.(*http.Client); ok {
		cp := *hc
		next := hc.CheckRedirect
		cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if err := CheckURL(req.URL); err != nil {
				return &refused{fmt.Errorf("%w: redirect: %w", sentinel, err)}
			}
			if next != nil {
				return next(req, via)
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
		c = &cp
	}
	return &guard{c, sentinel}
}

type guard struct {
	next     aws.HTTPClient
	sentinel error
}

func (g *guard) Do(req *http.Request) (*http.Response, error) {
	if err := CheckURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &refused{fmt.Errorf("%w: %w", g.sentinel, err)}
	}
	return g.next.Do(req)
}

// refused is a request Guard refused.
type refused struct{ err error }

func (e *refused) Error() string { return e.err.Error() }
func (e *refused) Unwrap() error { return e.err }

// RetryableError tells the AWS SDK retryer the request must not be retried.
func (e *refused) RetryableError() bool { return false }
