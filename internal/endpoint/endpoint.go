// Package endpoint decides which service endpoints phicrypt will send data
// keys, objects or credentials to: https anywhere, plain http only to a
// loopback host (a local test server).
package endpoint

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrInsecure reports an endpoint that is not https and not loopback, or a
// URL that is not a plain endpoint (user info, query, fragment, no host).
var ErrInsecure = errors.New("insecure endpoint")

// Check accepts https URLs, and http URLs whose host is 127.0.0.0/8, ::1
// or "localhost". The error never shows a password from the URL.
func Check(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInsecure, err)
	}
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInsecure, u.Redacted(), why) }
	switch host := u.Hostname(); {
	case host == "":
		return bad("no host")
	case u.User != nil:
		return bad("user info in the URL")
	case u.RawQuery != "" || u.Fragment != "":
		return bad("query or fragment in the URL")
	case strings.EqualFold(u.Scheme, "https"):
		return nil
	case !strings.EqualFold(u.Scheme, "http"):
		return bad("scheme " + u.Scheme + ", want https")
	case !IsLoopback(host):
		return bad("plain http to a host that is not loopback")
	}
	return nil
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
