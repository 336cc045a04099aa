package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/envelope"
)

// TestFilterFlags: --include and --exclude apply in order, the last match
// winning, on the whole relative path, as in aws s3: each selection below
// is what "aws s3 cp --recursive --dryrun" (aws-cli 1.45) selected from the
// same tree with the same filters, but that aws s3 exits 0 when nothing
// matched.
func TestFilterFlags(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	tree(t, filepath.Join(dir, "src")) // a.csv empty.txt sub/b.json sub/deeper/c.json sub/skip.tmp
	tests := []struct {
		name    string
		filters []string
		want    string // outputs, or "" for none
		code    int
		stderr  string
	}{
		{"none", nil, "a.csv.enc empty.txt.enc sub/b.json.enc sub/deeper/c.json.enc sub/skip.tmp.enc", 0, ""},
		{"exclude all, include csv", []string{"--exclude", "*", "--include", "*.csv"}, "a.csv.enc", 0, "1 ok, 0 failed, 4 skipped (4 filtered out)"},
		{"include first is no selection", []string{"--include", "*.csv"}, "a.csv.enc empty.txt.enc sub/b.json.enc sub/deeper/c.json.enc sub/skip.tmp.enc", 0, "selects nothing"},
		{"order: exclude after include wins", []string{"--exclude", "*", "--include", "sub/*", "--exclude", "*.tmp"}, "sub/b.json.enc sub/deeper/c.json.enc", 0, ""},
		{"order: include after exclude wins", []string{"--exclude", "*.tmp", "--exclude", "sub/*", "--include", "*.tmp"}, "a.csv.enc empty.txt.enc sub/skip.tmp.enc", 0, ""},
		{"* crosses /", []string{"--exclude", "*", "--include", "sub/*.json"}, "sub/b.json.enc sub/deeper/c.json.enc", 0, ""},
		{"whole path, not base name", []string{"--exclude", "b.json"}, "a.csv.enc empty.txt.enc sub/b.json.enc sub/deeper/c.json.enc sub/skip.tmp.enc", 0, ""},
		{"nothing matched", []string{"--exclude", "*"}, "", 1, "nothing matched: 5 names listed, all filtered out: 5 by --include/--exclude"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "out", string(rune('a'+i)))
			r := run(t, dir, nil, nil, append(append([]string{"encrypt", "--key", key}, tt.filters...), "src", out)...)
			if got := strings.Join(files(t, out), " "); r.code != tt.code || got != tt.want || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d), outputs %q (want %q)\n%s", r.code, tt.code, got, tt.want, r.stderr)
			}
		})
	}
	// On decrypt the filters see the input names, .enc included.
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "src", "enc")
	mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--exclude", "*", "--include", "*.json.enc", "enc", "dec")
	if got := strings.Join(files(t, filepath.Join(dir, "dec")), " "); got != "sub/b.json sub/deeper/c.json" {
		t.Fatalf("decrypt with filters: %s", got)
	}
}

// TestDryRun: --dryrun says what would be read, written and skipped and
// touches nothing: no output, no audit line, no key used (a KMS key at an
// address nothing listens on works).
func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	tree(t, filepath.Join(dir, "src"))
	kms := []string{"--key", "alias/none", "--kms-endpoint-url", "http://127.0.0.1:1", "--region", "us-east-1"}
	args := append([]string{"encrypt", "--dryrun", "--exclude", "*.tmp", "--metadata-output", "audit.log", "src", "out"}, kms...)
	r := mustRun(t, dir, nil, []string{"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y"}, args...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	slices.Sort(lines)
	want := []string{
		"(dryrun) encrypt: src/a.csv to out/a.csv.enc",
		"(dryrun) encrypt: src/empty.txt to out/empty.txt.enc",
		"(dryrun) encrypt: src/sub/b.json to out/sub/b.json.enc",
		"(dryrun) encrypt: src/sub/deeper/c.json to out/sub/deeper/c.json.enc",
	}
	if !slices.Equal(lines, want) || !strings.Contains(r.stderr, "4 would be processed, 0 would fail, 1 skipped (1 filtered out)") {
		t.Fatalf("dry run:\n%s\n%s", r.stdout, r.stderr)
	}
	for _, p := range []string{"out", "audit.log"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was written by a dry run", p)
		}
	}
	// With --skip-existing, the inputs whose outputs exist are named as skipped.
	key := keygen(t, dir, "k.key")
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "src/a.csv", "out/")
	r = mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--dryrun", "--skip-existing", "src", "out")
	if !strings.Contains(r.stdout, "(dryrun) skip: src/a.csv: its output out/a.csv.enc exists\n") || strings.Count(r.stdout, "(dryrun) encrypt:") != 4 {
		t.Fatalf("dry run, skip existing:\n%s", r.stdout)
	}
	// With --json, each input is a JSON line, then the summary.
	r = mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--dryrun", "--skip-existing", "--json", "src", "out")
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	var sum batch.Summary
	if len(lines) != 6 || strings.Contains(r.stdout, "(dryrun)") || r.stderr != "" {
		t.Fatalf("dry run, skip existing, --json:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	if err := json.Unmarshal([]byte(lines[5]), &sum); err != nil || !sum.DryRun || sum.OK != 4 || sum.Skipped != 1 {
		t.Fatalf("dry run, skip existing, --json: summary %v\n%s", err, r.stdout)
	}
	slices.Sort(lines[:5])
	want = []string{
		`{"dry_run":true,"op":"encrypt","input":"src/a.csv","output":"out/a.csv.enc","result":"skipped","reason":"its output exists and is complete (--skip-existing)"}`,
		`{"dry_run":true,"op":"encrypt","input":"src/empty.txt","output":"out/empty.txt.enc","result":"ok"}`,
		`{"dry_run":true,"op":"encrypt","input":"src/sub/b.json","output":"out/sub/b.json.enc","result":"ok"}`,
		`{"dry_run":true,"op":"encrypt","input":"src/sub/deeper/c.json","output":"out/sub/deeper/c.json.enc","result":"ok"}`,
		`{"dry_run":true,"op":"encrypt","input":"src/sub/skip.tmp","output":"out/sub/skip.tmp.enc","result":"ok"}`,
	}
	if !slices.Equal(lines[:5], want) {
		t.Fatalf("dry run, skip existing, --json lines:\n%s\nwant:\n%s", strings.Join(lines[:5], "\n"), strings.Join(want, "\n"))
	}
	if got := files(t, filepath.Join(dir, "out")); strings.Join(got, " ") != "a.csv.enc" {
		t.Fatalf("outputs after a dry run: %v", got)
	}
}

// TestDryRunJSON: with --json, a dry run's stdout is JSON alone, one
// object a line (jq reads it), whatever the names: a name with a newline,
// a quote and a control character comes back exact from its line. Without
// --json the text lines are as before, byte for byte, the name quoted.
func TestDryRunJSON(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	hostile := "d/a\nb\"\x1b[2J.csv" // in d/, for the would-fail case
	writeFile(t, filepath.Join(dir, "src", hostile), []byte("x"))
	writeFile(t, filepath.Join(dir, "src", "plain.csv"), []byte("y"))
	wantLines := []string{
		`(dryrun) encrypt: "src/d/a\nb\"\x1b[2J.csv" to "out/d/a\nb\"\x1b[2J.csv.enc"`,
		"(dryrun) encrypt: src/plain.csv to out/plain.csv.enc",
	}
	sorted := func(s string) []string {
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		slices.Sort(lines)
		return lines
	}
	r := mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--dryrun", "src", "out")
	if got := sorted(r.stdout); !slices.Equal(got, wantLines) {
		t.Fatalf("dry run without --json: stdout\n%q\nwant\n%q", got, wantLines)
	}
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "src", "enc")
	writeFile(t, filepath.Join(dir, "bad", "d"), nil) // bad/d/… cannot be checked: not a directory
	type line struct {
		DryRun                                   bool `json:"dry_run"`
		Op, Input, Output, Result, Reason, Error string
	}
	for _, tt := range []struct {
		args              []string
		op, input, output string
		result            string
	}{
		{[]string{"encrypt", "--dryrun", "--json", "src", "out"}, "encrypt", "src/" + hostile, "out/" + hostile + ".enc", "ok"},
		{[]string{"encrypt", "--dryrun", "--json", "--skip-existing", "src", "enc"}, "encrypt", "src/" + hostile, "enc/" + hostile + ".enc", "skipped"},
		{[]string{"decrypt", "--dryrun", "--json", "enc", "dec"}, "decrypt", "enc/" + hostile + ".enc", "dec/" + hostile, "ok"},
		{[]string{"encrypt", "--dryrun", "--json", "--skip-existing", "src", "bad"}, "encrypt", "src/" + hostile, "bad/" + hostile + ".enc", "failed"},
	} {
		args := append([]string{tt.args[0], "--key", key}, tt.args[1:]...)
		r := run(t, dir, nil, nil, args...)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if r.code > 1 || len(lines) != 3 || strings.Contains(r.stderr, "(dryrun)") {
			t.Fatalf("s3crypt %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		found := false
		for _, s := range lines[:2] {
			var l line
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				t.Fatalf("s3crypt %s: stdout line %q: %v\nstdout: %s", strings.Join(args, " "), s, err, r.stdout)
			}
			if !l.DryRun || l.Op != tt.op {
				t.Fatalf("s3crypt %s: line %q", strings.Join(args, " "), s)
			}
			if l.Input != tt.input {
				continue // plain.csv's
			}
			why := map[string]string{"ok": "", "skipped": l.Reason, "failed": l.Error}[tt.result]
			if found || l.Output != tt.output || l.Result != tt.result || (why == "") != (tt.result == "ok") || l.Reason+l.Error != why {
				t.Fatalf("s3crypt %s: line %q\nread as %+v", strings.Join(args, " "), s, l)
			}
			found = true
		}
		var sum batch.Summary
		if err := json.Unmarshal([]byte(lines[2]), &sum); err != nil || !found || !sum.DryRun || sum.OK+sum.Failed+sum.Skipped != 2 {
			t.Fatalf("s3crypt %s: hostile name found: %v, summary %+v, %v\nstdout: %s", strings.Join(args, " "), found, sum, err, r.stdout)
		}
	}
}

// TestSuffix: --suffix names encrypted files on encrypt and decrypt, so a
// tree written by aws-encryption-cli (.encrypted) decrypts; a decrypt that
// finds no name with the suffix says so and fails.
func TestSuffix(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	want := tree(t, filepath.Join(dir, "src"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--suffix", ".encrypted", "src", "enc")
	if got := files(t, filepath.Join(dir, "enc")); len(got) != 5 || !strings.HasSuffix(got[0], ".csv.encrypted") {
		t.Fatalf("encrypted names: %v", got)
	}
	r := run(t, dir, nil, nil, "decrypt", "--key", key, "enc", "dec")
	if r.code != 1 || !strings.Contains(r.stderr, `nothing matched: 5 names listed, all filtered out: 5 lack the ".enc" suffix (--suffix names another)`) {
		t.Fatalf("decrypt without --suffix: exit %d\n%s", r.code, r.stderr)
	}
	mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--suffix", ".encrypted", "enc", "dec")
	for name, data := range want {
		if got, err := os.ReadFile(filepath.Join(dir, "dec", name)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSkippedNamed: inputs skipped for another reason than the filters are
// named in the summary, text and JSON.
func TestSkippedNamed(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "src", "a.txt"), []byte("a"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "src", "enc")
	writeFile(t, filepath.Join(dir, "enc", "notes.txt"), []byte("plain"))
	os.Symlink("nowhere", filepath.Join(dir, "enc", "dangling.enc"))
	r := mustRun(t, dir, nil, nil, "decrypt", "--key", key, "enc", "dec")
	if !strings.Contains(r.stderr, "1 ok, 0 failed, 2 skipped;") || !strings.Contains(r.stderr, `skipped "notes.txt": no ".enc" suffix`) ||
		!strings.Contains(r.stderr, `skipped "enc/dangling.enc": a symbolic link that leads nowhere`) {
		t.Fatalf("text summary:\n%s", r.stderr)
	}
	r = mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--json", "--exclude", "x", "enc", "dec2")
	var sum batch.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || len(sum.Skips) != 1 || sum.Skips[0].Input != "notes.txt" || sum.Filtered != 0 {
		t.Fatalf("JSON summary %s: %+v, %v", r.stdout, sum, err)
	}
}

// TestExpectContextKey: --expect-context KEY wants the key with any value.
func TestExpectContextKey(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "a.txt"), []byte("a"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--context", "tenant=t1", "a.txt", "a.txt.enc")
	mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--expect-context", "tenant", "a.txt.enc", "ok.txt")
	mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--expect-context", "tenant", "--expect-context", "tenant=t1", "a.txt.enc", "ok2.txt")
	r := run(t, dir, nil, nil, "decrypt", "--key", key, "--expect-context", "site", "a.txt.enc", "no.txt")
	if _, err := os.Stat(filepath.Join(dir, "no.txt")); r.code != 1 || !strings.Contains(r.stderr, `has no key "site"`) || err == nil {
		t.Fatalf("missing key: exit %d\n%s", r.code, r.stderr)
	}
}

// TestCommitmentPolicy: an ESDK 1.x message (suite 0x0178, no key
// commitment) is refused by default and read with
// --commitment-policy require-encrypt-allow-decrypt.
func TestCommitmentPolicy(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	keys, err := batch.LoadKeys(context.Background(), batch.KeyOptions{Specs: []string{key}}, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.NewWithMaterialsManager(keys.CMM, envelope.WithCommitmentPolicy(envelope.ForbidEncryptAllowDecrypt))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := c.Encrypt(context.Background(), []byte("legacy record"), map[string]string{"tenant": "t1"}, envelope.WithSuite(0x0178))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "v1", "a.txt.enc"), msg)
	r := run(t, dir, nil, nil, "decrypt", "--key", key, "v1", "dec")
	if r.code != 1 || !strings.Contains(r.stderr, "not allowed by the commitment policy") {
		t.Fatalf("default policy: exit %d\n%s", r.code, r.stderr)
	}
	for _, p := range []string{"require-encrypt-allow-decrypt", "forbid-encrypt-allow-decrypt"} {
		out := "dec-" + p
		mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--commitment-policy", p, "v1", out)
		if got, _ := os.ReadFile(filepath.Join(dir, out, "a.txt")); string(got) != "legacy record" {
			t.Fatalf("%s: %q", p, got)
		}
	}
	// Reencrypt reads it under the policy and writes a committing message.
	mustRun(t, dir, nil, nil, "reencrypt", "--key", key, "--commitment-policy", "require-encrypt-allow-decrypt", "v1", "v2")
	if r := mustRun(t, dir, nil, nil, "inspect", "--json", "v2/a.txt.enc"); !strings.Contains(r.stdout, `"committing": true`) {
		t.Fatalf("reencrypted: %s", r.stdout)
	}
}

// TestUsageExitCodes: every usage error exits 2, before any input is read
// or output written.
func TestUsageExitCodes(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	tree(t, filepath.Join(dir, "src"))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{"encrypt", "src", "out"}, "no key given"},
		{"unknown suite", []string{"encrypt", "--key", key, "--suite", "0x9999", "src", "out"}, "--suite"},
		{"non-committing suite", []string{"encrypt", "--key", key, "--suite", "0x0178", "src", "out"}, "not key-committing"},
		{"suite checked before SRC", []string{"encrypt", "--key", key, "--suite", "0x0178", "missing", "out"}, "not key-committing"},
		{"audit log inside the source", []string{"encrypt", "--key", key, "--metadata-output", "src/sub/audit.log", "src", "out"}, "inside the source"},
		{"audit log inside the source, dry run", []string{"encrypt", "--key", key, "--dryrun", "--metadata-output", "src/audit.log", "src", "out"}, "inside the source"},
		{"bad commitment policy", []string{"decrypt", "--key", key, "--commitment-policy", "lax", "src", "out"}, "--commitment-policy"},
		{"bad sse", []string{"encrypt", "--key", key, "--sse", "aws:nope", "src", "out"}, "--sse"},
		{"kms key id without sse", []string{"encrypt", "--key", key, "--sse-kms-key-id", "k", "src", "out"}, "--sse-kms-key-id needs --sse aws:kms"},
		{"bad storage class", []string{"encrypt", "--key", key, "--storage-class", "COLD", "src", "out"}, "--storage-class"},
		{"suffix with /", []string{"encrypt", "--key", key, "--suffix", "x/y", "src", "out"}, "suffix"},
		{"empty expect-context", []string{"decrypt", "--key", key, "--expect-context", "", "src", "out"}, "--expect-context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, nil, nil, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d (want 2)\n%s\nwant %q", r.code, r.stderr, tt.want)
			}
			for _, p := range []string{"out", "src/sub/audit.log", "src/audit.log"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Fatalf("%s was written", p)
				}
			}
		})
	}
}

// TestVersion: --version prints the build's version, which each audit
// line records.
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	r := mustRun(t, dir, nil, nil, "--version")
	v, ok := strings.CutPrefix(strings.TrimSpace(r.stdout), "s3crypt ")
	if !ok || v == "" {
		t.Fatalf("--version: %q", r.stdout)
	}
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "a.txt"), []byte("a"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--metadata-output", "audit.log", "a.txt", "a.txt.enc")
	b, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	var rec batch.Record
	if err := json.Unmarshal(b, &rec); err != nil || rec.Version != v {
		t.Fatalf("audit line %s: version %q, want %q (%v)", b, rec.Version, v, err)
	}
}

// TestJSONNames: every field name the CLI prints as JSON is snake_case.
func TestJSONNames(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	tree(t, filepath.Join(dir, "src"))
	snake := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)
	var check func(path string, v any)
	check = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snake.MatchString(k) && !strings.HasSuffix(path, ".encryption_context") {
					t.Errorf("%s: field %q is not snake_case", path, k)
				}
				check(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				check(path+"[]", e)
			}
		}
	}
	for _, args := range [][]string{
		{"encrypt", "--key", key, "--json", "--cache-max-age", "1m", "--context", "Tenant-ID=x", "src", "enc"},
		{"decrypt", "--key", key, "--json", "--exclude", "*.tmp.enc", "enc", "dec"},
		{"inspect", "--json", "enc/a.csv.enc"},
		{"scan", "--json", "enc"},
	} {
		r := run(t, dir, nil, nil, args...)
		for d := json.NewDecoder(strings.NewReader(r.stdout)); d.More(); {
			var v any
			if err := d.Decode(&v); err != nil {
				t.Fatalf("%v: %v: %q", args, err, r.stdout)
			}
			check(args[0], v)
		}
		if !strings.Contains(r.stdout, "_") {
			t.Errorf("%v printed no JSON: %s", args, r.stdout)
		}
		if args[0] == "encrypt" && !strings.Contains(r.stdout, `"underlying_calls":`) {
			t.Errorf("no data key cache statistics: %s", r.stdout)
		}
	}
}

// headerRecorder is a reverse proxy to an S3 server that records the
// x-amz-server-side-encryption* and x-amz-storage-class headers of each
// request that creates an object (PUT without partNumber, POST ?uploads).
type headerRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (h *headerRecorder) proxy(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if (r.Method == http.MethodPut && !q.Has("partNumber")) || (r.Method == http.MethodPost && q.Has("uploads")) {
			h.mu.Lock()
			h.seen = append(h.seen, r.Method+" "+r.URL.Path+" sse="+r.Header.Get("X-Amz-Server-Side-Encryption")+
				" kms="+r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")+" class="+r.Header.Get("X-Amz-Storage-Class"))
			h.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestS3ObjectHeaders: --sse, --sse-kms-key-id and --storage-class reach
// S3 with every object written: encrypted ones (one PUT, and a multipart
// upload for a large one) and decrypted ones.
func TestS3ObjectHeaders(t *testing.T) {
	srv := gofakes3Server(t)
	var rec headerRecorder
	endpoint := rec.proxy(t, srv.Endpoint)
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "src", "small.txt"), []byte("small"))
	writeFile(t, filepath.Join(dir, "src", "big.bin"), randBytes(20<<20))
	headers := []string{"--sse", "aws:kms", "--sse-kms-key-id", "alias/bucket-key", "--storage-class", "STANDARD_IA", "--endpoint-url", endpoint}
	mustRun(t, dir, nil, srv.Env, append([]string{"encrypt", "--key", key, "src", srv.url("enc/")}, headers...)...)
	mustRun(t, dir, nil, srv.Env, append([]string{"decrypt", "--key", key, "--exclude", "*.bin.enc", srv.url("enc/"), srv.url("dec/")}, headers...)...)
	if got, err := srv.get(t, "dec/small.txt"); err != nil || string(got) != "small" {
		t.Fatalf("decrypted: %q, %v", got, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	slices.Sort(rec.seen)
	want := []string{
		"POST /" + srv.bucket + "/enc/big.bin.enc",
		"PUT /" + srv.bucket + "/dec/small.txt",
		"PUT /" + srv.bucket + "/enc/small.txt.enc",
	}
	if len(rec.seen) != len(want) {
		t.Fatalf("object requests: %q", rec.seen)
	}
	for i, w := range want {
		if rec.seen[i] != w+" sse=aws:kms kms=alias/bucket-key class=STANDARD_IA" {
			t.Errorf("request %q, want %q with the headers", rec.seen[i], w)
		}
	}
}
