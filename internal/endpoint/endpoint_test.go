package endpoint

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://kms.us-east-1.amazonaws.com", true},
		{"HTTPS://s3.eu-west-1.amazonaws.com:443/", true},
		{"https://10.0.0.5:9000", true},
		{"http://127.0.0.1:4566", true},
		{"http://127.8.9.10", true},
		{"http://[::1]:9000", true},
		{"http://[::ffff:127.0.0.1]:9000", true},
		{"http://localhost:9000", true},
		{"http://LOCALHOST", true},
		{"http://10.0.0.5:9000", false},
		{"http://kms.us-east-1.amazonaws.com", false},
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.nip.io", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:9000", false},
		{"https://", false},
		{"https://user:hunter2@example.com", false},
		{"https://example.com/?a=b", false},
		{"https://example.com/#x", false},
		{"http://%zz", false},
	} {
		err := Check(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInsecure) {
			t.Errorf("Check(%q) = %v, not ErrInsecure", tc.url, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Check(%q) shows the password: %v", tc.url, err)
		}
	}
}

// TestIsFIPS: loopback and https AWS hosts with the service's -fips label
// pass; other hosts, schemes and services' labels do not.
func TestIsFIPS(t *testing.T) {
	for _, c := range []struct {
		service, u string
		want       bool
	}{
		{"kms", "https://kms-fips.us-east-1.amazonaws.com", true},
		{"s3", "https://s3-fips.dualstack.us-east-1.amazonaws.com", true},
		{"kms", "https://vpce-1.kms-fips.us-east-1.vpce.amazonaws.com", true},
		{"kms", "http://127.0.0.1:4566", true},
		{"s3", "https://localhost:9000", true},
		{"kms", "https://kms.us-east-1.amazonaws.com", false},
		{"kms", "http://kms-fips.us-east-1.amazonaws.com", false},
		{"kms", "https://s3-fips.us-east-1.amazonaws.com", false},
		{"kms", "https://kms-fips.example.com", false},
		{"s3", "https://s3-fips.us-east-1.amazonaws.com.evil.example", false},
		{"kms", "://bad", false},
		{"s3", "https://my-bucket.s3-fips.us-east-1.amazonaws.com", true},
		{"s3", "https://s3-fips.us-gov-west-1.amazonaws.com", true},
		{"kms", "https://kms-fips.eu-isoe-west-1.amazonaws.com", true},
		// A bucket named s3-fips (or with such a label) on the non-FIPS
		// endpoint, virtual-hosted.
		{"s3", "https://s3-fips.s3.us-east-1.amazonaws.com", false},
		{"s3", "https://a.s3-fips.b.s3.dualstack.us-east-1.amazonaws.com", false},
		{"s3", "https://s3-fips.s3-fips.amazonaws.com", false},
		{"kms", "https://kms-fips.amazonaws.com", false},
		{"kms", "https://kms-fips.dualstack.amazonaws.com", false},
		{"kms", "https://kms-fips.us-east-x.amazonaws.com", false},
	} {
		if got := IsFIPS(c.service, c.u); got != c.want {
			t.Errorf("IsFIPS(%q, %q) = %v, want %v", c.service, c.u, got, c.want)
		}
	}
}
