package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoIgnoresAWSEnvironment: the demo needs no AWS account and takes
// nothing from the AWS environment: a profile that does not exist, no
// credentials and an endpoint elsewhere leave it working on loopback.
func TestDemoIgnoresAWSEnvironment(t *testing.T) {
	home := t.TempDir()
	t.Setenv("AWS_PROFILE", "no-such-profile")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none"))
	t.Setenv("AWS_ENDPOINT_URL_KMS", "https://kms.invalid")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_REGION", "")
	dir := filepath.Join(t.TempDir(), "demo")
	var out bytes.Buffer
	if err := Demo(context.Background(), dir, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"made now", "encrypted 12 files", "context checked", "hold the same bytes", "all signed (2 digests"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"a/b-c.enc": "a/b-c.enc", "my dir": "'my dir'", "it's": `'it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
