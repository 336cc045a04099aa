package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/internal/testkit"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// scanLine is one --json line of scan.
type scanLine struct {
	Input   string   `json:"input"`
	Kind    string   `json:"kind"`
	Flagged bool     `json:"flagged"`
	Reasons []string `json:"reasons"`
	Suite   string   `json:"suite"`
	Keys    []struct {
		Provider, Key string
	} `json:"keys"`
	ContextKeys []string `json:"context_keys"`
	FrameLength *uint32  `json:"frame_length"`
	S3EC        *struct {
		Version string `json:"version"`
		WrapAlg string `json:"wrap_alg"`
	} `json:"s3ec"`
}

func parseScan(t *testing.T, out string) map[string]scanLine {
	t.Helper()
	got := map[string]scanLine{}
	for l := range strings.Lines(out) {
		var s scanLine
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		got[s.Input[strings.LastIndexByte(s.Input, '/')+1:]] = s
	}
	return got
}

func TestScanLocalTree(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	other := keygen(t, dir, "other.key")
	writeFile(t, filepath.Join(dir, "p.csv"), []byte("patient,result\n"))
	mustRun(t, dir, nil, nil, "encrypt", "-q", "--key", key, "--context", "tenant=a", "--frame-size", "4096", "p.csv", "src/good.enc")
	mustRun(t, dir, nil, nil, "encrypt", "-q", "--key", key, "--context", "tenant=b", "p.csv", "src/sub/wrongctx.enc")
	mustRun(t, dir, nil, nil, "encrypt", "-q", "--key", other, "--context", "tenant=a", "p.csv", "src/foreign.enc")
	writeFile(t, filepath.Join(dir, "src", "sub", "plain\x1b[31m.csv"), []byte("patient,result\n"))

	policy := []string{"--require-key", "phicrypt/k.key", "--require-context", "tenant=a"}
	r := run(t, dir, nil, nil, append([]string{"scan", "src"}, policy...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "scan: 4 inputs: 3 encrypted, 0 S3 Encryption Client, 1 not encrypted, 0 malformed, 0 unreadable; 3 flagged") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`ok       esdk       "src/good.enc"  suite=0x0578 keys=phicrypt/k.key context=[aws-crypto-public-key,tenant] frame=4096`,
		`FLAGGED  esdk       "src/foreign.enc"  suite=0x0578 keys=phicrypt/other.key context=[aws-crypto-public-key,tenant] frame=65536 why: no data key wrapped by a required key`,
		`FLAGGED  esdk       "src/sub/wrongctx.enc"  suite=0x0578 keys=phicrypt/k.key context=[aws-crypto-public-key,tenant] frame=65536 why: context has another value for "tenant"`,
		`FLAGGED  plaintext  "src/sub/plain\x1b[31m.csv"  why: not encrypted`,
	} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("no line %s in\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Error("a control character reached the table")
	}

	r = run(t, dir, nil, nil, append([]string{"scan", "--json", "src"}, policy...)...)
	got := parseScan(t, r.stdout)
	if g := got["good.enc"]; r.code != 1 || len(got) != 4 || g.Kind != "esdk" || g.Flagged || g.Suite != "0x0578" || len(g.Keys) != 1 ||
		g.Keys[0].Key != "k.key" || *g.FrameLength != 4096 || strings.Join(g.ContextKeys, ",") != "aws-crypto-public-key,tenant" {
		t.Fatalf("exit %d: %+v", r.code, got)
	}
	if p := got["plain\x1b[31m.csv"]; p.Kind != "plaintext" || !p.Flagged {
		t.Fatalf("plaintext: %+v", p)
	}

	// The encrypted inputs that meet the policy: exit 0.
	mustRun(t, dir, nil, nil, "scan", "--require-key", "phicrypt/k.key", "--require-key", "phicrypt/other.key", "--exclude", "*.csv", "src")
	mustRun(t, dir, nil, nil, append([]string{"scan", "src/good.enc"}, policy...)...)
	// Without policy only the plaintext is flagged; --quiet prints it alone.
	r = run(t, dir, nil, nil, "scan", "-q", "src")
	if r.code != 1 || strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, "FLAGGED  plaintext") {
		t.Fatalf("exit %d: %s", r.code, r.stdout)
	}
	// Usage errors: exit 2.
	for _, args := range [][]string{{"scan", "--require-context", "tenant", "src"}, {"scan", "--shard", "2/2", "src"}, {"scan"}} {
		if r := run(t, dir, nil, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
}

// TestHostileScanEncryptedDataKeys: a header naming more data keys than
// the limit is flagged malformed unless the limit is raised.
func TestHostileScanEncryptedDataKeys(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "many.enc"), testkit.EDKHeader(11, func(int) string { return "k.key" }))
	r := run(t, dir, nil, nil, "scan", "many.enc")
	if r.code != 1 || !strings.Contains(r.stdout, "FLAGGED  malformed") || !strings.Contains(r.stdout, "11 encrypted data keys, over the limit of 10") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	mustRun(t, dir, nil, nil, "scan", "--max-encrypted-data-keys", "11", "many.enc")
}

func TestScanS3(t *testing.T) {
	srv := gofakes3Server(t)
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "p.csv"), []byte("patient,result\n"))
	s3args := func(args ...string) []string { return append(args, "--endpoint-url", srv.Endpoint) }
	mustRun(t, dir, nil, srv.Env, s3args("encrypt", "-q", "--key", key, "--context", "tenant=a", "p.csv", srv.url("scan/good.enc"))...)
	srv.put(t, "scan/plain.csv", []byte("patient,result\n"))
	srv.put(t, "scan/empty", nil)
	k := "scan/s3ec.bin"
	if _, err := srv.Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &srv.bucket, Key: &k, Body: bytes.NewReader([]byte("\x8a\x01 ciphertext")),
		Metadata: map[string]string{"x-amz-key-v2": "AQIDBA==", "x-amz-iv": "AAAAAAAAAAAAAAAA", "x-amz-wrap-alg": "kms+context",
			"x-amz-cek-alg": "AES/GCM/NoPadding", "x-amz-matdesc": `{"aws:x-amz-cek-alg":"AES/GCM/NoPadding","tenant":"a"}`}}); err != nil {
		t.Fatal(err)
	}

	r := run(t, dir, nil, srv.Env, s3args("scan", "--json", "--require-context", "tenant=a", srv.url("scan/"))...)
	got := parseScan(t, r.stdout)
	if r.code != 1 || len(got) != 4 || !strings.Contains(r.stderr, "scan: 4 inputs: 1 encrypted, 1 S3 Encryption Client, 2 not encrypted, 0 malformed, 0 unreadable; 2 flagged") {
		t.Fatalf("exit %d: %s\n%s", r.code, r.stdout, r.stderr)
	}
	if g := got["good.enc"]; g.Kind != "esdk" || g.Flagged || g.Input != srv.url("scan/good.enc") {
		t.Errorf("good.enc: %+v", g)
	}
	if s := got["s3ec.bin"]; s.Kind != "s3ec" || s.Flagged || s.S3EC == nil || s.S3EC.Version != "v2" || s.S3EC.WrapAlg != "kms+context" {
		t.Errorf("s3ec.bin: %+v", s)
	}
	for _, name := range []string{"plain.csv", "empty"} {
		if p := got[name]; p.Kind != "plaintext" || !p.Flagged {
			t.Errorf("%s: %+v", name, p)
		}
	}
	// One object, encrypted and within policy: exit 0.
	mustRun(t, dir, nil, srv.Env, s3args("scan", "--require-key", "phicrypt/k.key", srv.url("scan/good.enc"))...)
}
