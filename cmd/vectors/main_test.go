package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

func runCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

var summary = regexp.MustCompile(`(\d+) passed, (\d+) failed, (\d+) skipped`)

func counts(t *testing.T, out string) (p, f, s int) {
	t.Helper()
	m := summary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	p, _ = strconv.Atoi(m[1])
	f, _ = strconv.Atoi(m[2])
	s, _ = strconv.Atoi(m[3])
	return p, f, s
}

// TestKMSEndpoint: encrypt --kms-endpoint creates keys in kmslocal and adds
// aws-kms tests, which decrypt --kms-endpoint passes and decrypt without
// it skips.
func TestKMSEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("writes the full manifest; skipped in -short")
	}
	kl := kmstest.Start(t, kmslocal.Options{})
	s, url := kl.Server, kl.Endpoint
	dir := t.TempDir()

	if code, out := runCmd(t, "encrypt", dir, "--kms-endpoint", url); code != 0 {
		t.Fatalf("encrypt: exit %d: %s", code, out)
	}
	if n := len(s.Keys()); n != 3 {
		t.Fatalf("encrypt created %d KMS keys, want 3", n)
	}
	code, out := runCmd(t, "decrypt", "--kms-endpoint", url, dir)
	if p, f, sk := counts(t, out); code != 0 || f != 0 || sk != 0 || p < 100 {
		t.Fatalf("decrypt --kms-endpoint: exit %d: %s", code, out)
	}
	if s.Counts()["Decrypt"] == 0 {
		t.Fatal("decrypt --kms-endpoint made no KMS Decrypt call")
	}
	code, out = runCmd(t, "decrypt", dir)
	if _, f, sk := counts(t, out); code != 0 || f != 0 || sk != 17 {
		t.Fatalf("decrypt without --kms-endpoint: exit %d, want 17 skipped: %s", code, out)
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		nil,
		{"decrypt"},
		{"decrypt", dir, dir},
		{"frobnicate", dir},
		{"decrypt", dir, "--kms-endpoint", "http://kms.example.com"},
		{"encrypt", dir, "--kms-endpoint", "https://user:pw@kms.example.com"},
	} {
		if code, out := runCmd(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", args, code, out)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:4599": true, "http://[::1]:1": true, "http://localhost:1": true,
		"https://kms.us-east-1.amazonaws.com": false, "http://10.0.0.1": false, "%zz": false,
	} {
		if got := isLoopback(u); got != want {
			t.Errorf("isLoopback(%q) = %v", u, got)
		}
	}
}
