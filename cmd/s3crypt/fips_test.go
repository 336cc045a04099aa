package main_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/internal/endpoint/endpointtest"
	"github.com/phicrypt/phicrypt/kmslocal"
)

// fipsOn is the environment of a process with Go's FIPS 140-3 module on.
const fipsOn = "GODEBUG=fips140=on"

func TestFIPSEndpoints(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "a.txt"), []byte("a"))
	proxy, hosts := endpointtest.ConnectProxy(t)
	env := []string{"HTTPS_PROXY=" + proxy, "NO_PROXY=", "AWS_MAX_ATTEMPTS=1",
		"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", fipsOn}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"encrypt", "-q", "--fips", "--region", "us-west-2", "--key", "alias/k", "src", "out"}, "CONNECT kms-fips.us-west-2.amazonaws.com:443"},
		{[]string{"encrypt", "-q", "--region", "us-west-2", "--key", "alias/k", "src", "out"}, "CONNECT kms.us-west-2.amazonaws.com:443"},
		{[]string{"inspect", "--fips", "--region", "us-west-2", "s3://bucket/a.enc"}, "CONNECT bucket.s3-fips.us-west-2.amazonaws.com:443"},
		{[]string{"inspect", "--region", "us-west-2", "s3://bucket/a.enc"}, "CONNECT bucket.s3.us-west-2.amazonaws.com:443"},
		{[]string{"verify-log", "--fips", "--region", "us-west-2", "--audit-key", "kms-hmac:alias/a", "--expect-digest", "s3://bucket/head", "log"}, "CONNECT bucket.s3-fips.us-west-2.amazonaws.com:443"},
	} {
		before := len(hosts())
		r := run(t, dir, nil, env, c.args...)
		got := hosts()[before:]
		if r.code != 1 || !slices.Contains(got, c.want) {
			t.Errorf("s3crypt %s: exit %d, requests %q, want %q\nstderr: %s", strings.Join(c.args, " "), r.code, got, c.want, r.stderr)
		}
	}
}

func TestFIPSRefusals(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "a.txt"), []byte("a"))
	creds := []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=us-east-1"}
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{creds, []string{"encrypt", "--fips", "--key", "alias/k", "src", "out"}, "GODEBUG=fips140=on"},
		{append(creds, fipsOn), []string{"encrypt", "--fips", "--key", "alias/k", "--kms-endpoint-url", "https://kms.us-east-1.amazonaws.com", "src", "out"}, "not a FIPS endpoint: --kms-endpoint-url"},
		{append(creds, fipsOn, "AWS_ENDPOINT_URL_KMS=https://kms.example.com"), []string{"encrypt", "--fips", "--key", "alias/k", "src", "out"}, "not a FIPS endpoint: endpoint from the AWS configuration"},
		{append(creds, fipsOn), []string{"decrypt", "--fips", "--key", "aes:k", "--endpoint-url", "https://s3.example.com", "s3://b/a.enc", "out"}, "not a FIPS endpoint: --endpoint-url"},
		{append(creds, fipsOn), []string{"scan", "--fips", "--endpoint-url", "http://s3.example.com", "s3://b/"}, "insecure endpoint"},
	} {
		r := run(t, dir, nil, c.env, c.args...)
		if r.code != 2 && !(r.code == 1 && c.want == "insecure endpoint") || !strings.Contains(r.stderr, c.want) {
			t.Errorf("s3crypt %s: exit %d, stderr %q, want %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("a refused run wrote out")
	}
}

// TestFIPSLoopback: --fips accepts a loopback KMS (kmslocal) and the whole
// round trip runs with Go's FIPS 140-3 module on.
func TestFIPSLoopback(t *testing.T) {
	kmsEnv, env := kmsServer(t, false)
	arn := kmsEnv.CreateKey(t)
	dir := t.TempDir()
	files := tree(t, filepath.Join(dir, "src"))
	env = append(env, fipsOn)
	kms := []string{"--fips", "--kms-endpoint-url", kmsEnv.Endpoint, "--key", arn, "-q"}
	mustRun(t, dir, nil, env, append([]string{"encrypt", "--context", "a=b", "src", "enc"}, kms...)...)
	mustRun(t, dir, nil, env, append([]string{"decrypt", "--expect-context", "a=b", "enc", "dec"}, kms...)...)
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(dir, "dec", name))
		if err != nil || string(got) != string(data) {
			t.Fatalf("%s after the round trip: %v", name, err)
		}
	}
}

// TestQuietIMDS: with an explicit loopback endpoint, the CLI never asks
// EC2 instance metadata for credentials (a local server takes any), so
// stderr has no IMDS text: none with credentials, and without them only
// "no AWS credentials" and the fix. The environment keeps IMDS enabled.
func TestQuietIMDS(t *testing.T) {
	kmsEnv, creds := kmsServer(t, false)
	arn := kmsEnv.CreateKey(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "a.txt"), []byte("a"))
	var env []string
	for _, kv := range baseEnv(dir) {
		if !strings.HasPrefix(kv, "AWS_EC2_METADATA_DISABLED=") {
			env = append(env, kv)
		}
	}
	quiet := func(r result) bool {
		s := strings.ToLower(r.stderr)
		return !strings.Contains(s, "imds") && !strings.Contains(s, "metadata")
	}
	for _, c := range []struct {
		env  []string
		code int
		want string
	}{
		{append(slices.Clone(env), creds...), 0, "encrypt: 1 ok"},
		{append(slices.Clone(env), "AWS_REGION="+kmslocal.DefaultRegion), 1, "no AWS credentials for KMS"},
	} {
		r := runEnv(t, dir, c.env, "encrypt", "--overwrite", "--kms-endpoint-url", kmsEnv.Endpoint, "--key", arn, "src", "out")
		if r.code != c.code || !strings.Contains(r.stderr, c.want) || !quiet(r) {
			t.Errorf("exit %d, want %d; stderr %q: want %q and no IMDS text", r.code, c.code, r.stderr, c.want)
		}
	}
}
