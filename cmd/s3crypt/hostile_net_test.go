package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileEndpointFromEnvironment: an endpoint in the environment
// (AWS_ENDPOINT_URL_S3), not on the command line, is held to the same
// https-or-loopback rule, and a loopback one named "localhost" works: it is
// addressed path-style, never as the non-loopback "bucket.localhost".
func TestHostileEndpointFromEnvironment(t *testing.T) {
	srv := gofakes3Server(t)
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "p"), []byte("payload"))
	creds := []string{"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y"}

	r := run(t, dir, nil, append(creds, "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_S3=http://192.0.2.1:9"),
		"encrypt", "--key", key, "p", srv.url("p.enc"))
	if r.code == 0 || !strings.Contains(r.stderr, "AWS_ENDPOINT_URL") || strings.Contains(r.stderr, "--endpoint-url") {
		t.Fatalf("plain http to a remote host from the environment: exit %d, %q; want refused, naming the environment, not the flag", r.code, r.stderr)
	}

	local := strings.Replace(srv.Endpoint, "127.0.0.1", "localhost", 1)
	env := append(creds, "AWS_ENDPOINT_URL_S3="+local) // no region: an S3-compatible server
	mustRun(t, dir, nil, env, "encrypt", "--key", key, "p", srv.url("p.enc"))
	mustRun(t, dir, nil, env, "decrypt", "--key", key, srv.url("p.enc"), "back")
	if got, err := os.ReadFile(filepath.Join(dir, "back")); err != nil || !bytes.Equal(got, []byte("payload")) {
		t.Fatalf("round trip through the environment's endpoint: %q, %v", got, err)
	}
}
