package main_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSignedAuditLog: runs sign their audit lines with --audit-key and copy
// the latest digest to --audit-head; verify-log checks both, and detects
// an edited line (chain recomputed) and a cut tail.
func TestSignedAuditLog(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	keygen(t, dir, "audit.key") // 32 random bytes: an HMAC key
	tree(t, filepath.Join(dir, "src"))
	sign := []string{"--metadata-output", "audit.jsonl", "--audit-key", "hmac:audit.key", "--audit-head", "head.json", "--digest-every", "2"}
	mustRun(t, dir, nil, nil, append([]string{"encrypt", "--key", key, "src", "enc"}, sign...)...)
	mustRun(t, dir, nil, nil, append([]string{"decrypt", "--key", key, "enc", "dec"}, sign...)...)
	check := []string{"verify-log", "--audit-key", "hmac:audit.key", "--expect-digest", "head.json"}
	r := mustRun(t, dir, nil, nil, append(check, "audit.jsonl")...)
	// 10 records, a digest after every 2 and at the end of each run: 16 lines.
	if !strings.Contains(r.stdout, "chain verified, 16 lines, all signed") || !strings.Contains(r.stdout, "holds the expected digest") {
		t.Fatalf("verify-log: %s", r.stdout)
	}
	r = mustRun(t, dir, nil, nil, "verify-log", "audit.jsonl")
	if !strings.Contains(r.stdout, "signatures NOT checked") {
		t.Fatalf("verify-log without a key: %s", r.stdout)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	lines := strings.SplitAfter(string(raw), "\n")
	lines = lines[:len(lines)-1]

	bad := func(name string, content []string, want string) {
		t.Helper()
		os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(content, "")), 0o600)
		r := run(t, dir, nil, nil, append(check, name)...)
		if r.code != 1 || !regexp.MustCompile(want).MatchString(r.stderr) {
			t.Fatalf("%s: exit %d, %s (want %q)", name, r.code, r.stderr, want)
		}
	}
	// Line 1 edited and the unkeyed chain recomputed: the digest at line 3
	// does not verify.
	edited := append([]string(nil), lines...)
	edited[0] = strings.Replace(edited[0], `"result":"ok"`, `"result":"failed"`, 1)
	bad("edited.jsonl", rechain(edited), `line 3: digest over lines 1-2: signature does not verify`)
	// The last run's last record and digest cut: the head copy detects it.
	bad("cut.jsonl", lines[:len(lines)-2], `lines were cut from its end`)
	// A line appended after the last digest is unverified.
	added := rechain(append(append([]string(nil), lines...), `{"prev":"","op":"encrypt","input":"forged","result":"ok"}`+"\n"))
	os.WriteFile(filepath.Join(dir, "added.jsonl"), []byte(strings.Join(added, "")), 0o600)
	r = run(t, dir, nil, nil, "verify-log", "--audit-key", "hmac:audit.key", "added.jsonl")
	if r.code != 1 || !strings.Contains(r.stderr, "lines 17-17 follow the last signed digest") {
		t.Fatalf("added line: exit %d, %s", r.code, r.stderr)
	}
	// A signed log is not extended without its key.
	r = run(t, dir, nil, nil, "encrypt", "--key", key, "--metadata-output", "audit.jsonl", "src/a.csv", "x.enc")
	if r.code != 1 || !strings.Contains(r.stderr, "signing key") {
		t.Fatalf("append without the key: exit %d, %s", r.code, r.stderr)
	}
}

// rechain recomputes the prev of every line, as one can without a key.
func rechain(lines []string) []string {
	out := make([]string, len(lines))
	prev := strings.Repeat("0", 64)
	re := regexp.MustCompile(`^\{"prev":"[0-9a-f]*"`)
	for i, l := range lines {
		l = re.ReplaceAllString(l, `{"prev":"`+prev+`"`)
		out[i] = l
		prev = sha256Hex(strings.TrimSuffix(l, "\n"))
	}
	return out
}

func sha256Hex(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }
