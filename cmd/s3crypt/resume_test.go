package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// summaryOf parses the --json summary a run printed on stdout.
func summaryOf(t *testing.T, r result) (s struct{ Files, OK, Failed, Skipped int }) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("summary %q: %v\nstderr: %s", r.stdout, err, r.stderr)
	}
	return s
}

// TestSkipExisting: a rerun after a lost output writes only that output and
// counts the rest as skipped; without the flag they are "output exists".
func TestSkipExisting(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	tree(t, filepath.Join(dir, "src"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "src", "enc")
	before := map[string][]byte{}
	for _, n := range files(t, filepath.Join(dir, "enc")) {
		b, err := os.ReadFile(filepath.Join(dir, "enc", n))
		if err != nil {
			t.Fatal(err)
		}
		before[n] = b
	}
	if len(before) != 5 {
		t.Fatalf("outputs: %v", before)
	}
	if err := os.Remove(filepath.Join(dir, "enc", "sub", "b.json.enc")); err != nil {
		t.Fatal(err)
	}

	r := run(t, dir, nil, nil, "encrypt", "--json", "--key", key, "src", "enc")
	if s := summaryOf(t, r); r.code != 1 || s.Failed != 4 || s.OK != 1 || !strings.Contains(r.stdout, "output exists") {
		t.Fatalf("rerun without --skip-existing: exit %d, %+v\n%s", r.code, s, r.stdout)
	}
	os.Remove(filepath.Join(dir, "enc", "sub", "b.json.enc"))

	r = mustRun(t, dir, nil, nil, "encrypt", "--json", "--skip-existing", "--key", key, "src", "enc")
	if s := summaryOf(t, r); s.OK != 1 || s.Skipped != 4 || s.Failed != 0 || s.Files != 5 {
		t.Fatalf("rerun with --skip-existing: %+v", s)
	}
	// Each encryption has its own data key: only a rewritten output differs.
	for n, b := range before {
		now, err := os.ReadFile(filepath.Join(dir, "enc", n))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if same := bytes.Equal(b, now); same != (n != "sub/b.json.enc") {
			t.Errorf("%s: same bytes as before = %v", n, same)
		}
	}
	mustRun(t, dir, nil, nil, "decrypt", "--key", key, "enc", "dec")
	r = mustRun(t, dir, nil, nil, "decrypt", "--json", "--skip-existing", "--key", key, "enc", "dec")
	if s := summaryOf(t, r); s.OK != 0 || s.Skipped != 5 {
		t.Fatalf("decrypt rerun: %+v", s)
	}

	if r := run(t, dir, nil, nil, "encrypt", "--skip-existing", "--overwrite", "--key", key, "src", "enc"); r.code != 2 {
		t.Fatalf("--skip-existing --overwrite: exit %d, want 2\n%s", r.code, r.stderr)
	}
}

// TestSkipExistingS3: on S3 an encrypt output counts as complete only when
// its metadata marks a message; a decrypt output when it exists.
func TestSkipExistingS3(t *testing.T) {
	srv := gofakes3Server(t)
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	tree(t, filepath.Join(dir, "src"))
	s3run := func(args ...string) result {
		t.Helper()
		return run(t, dir, nil, srv.Env, append(args, "--json", "--endpoint-url", srv.Endpoint)...)
	}
	del := func(k string) {
		t.Helper()
		if _, err := srv.Client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &srv.bucket, Key: &k}); err != nil {
			t.Fatal(err)
		}
	}
	if r := s3run("encrypt", "--key", key, "src", srv.url("enc/")); r.code != 0 {
		t.Fatalf("encrypt: %s", r.stderr)
	}
	del("enc/a.csv.enc")
	r := s3run("encrypt", "--skip-existing", "--key", key, "src", srv.url("enc/"))
	if s := summaryOf(t, r); r.code != 0 || s.OK != 1 || s.Skipped != 4 {
		t.Fatalf("encrypt rerun: exit %d, %+v", r.code, s)
	}
	// A plaintext object under an output's name is no finished output.
	del("enc/empty.txt.enc")
	srv.put(t, "enc/empty.txt.enc", []byte("not a message"))
	r = s3run("encrypt", "--skip-existing", "--key", key, "src", srv.url("enc/"))
	if s := summaryOf(t, r); r.code != 1 || s.Failed != 1 || s.Skipped != 4 || !strings.Contains(r.stdout, "output exists") {
		t.Fatalf("encrypt over a plaintext object: exit %d, %+v\n%s", r.code, s, r.stdout)
	}
	del("enc/empty.txt.enc")
	if r := s3run("encrypt", "--skip-existing", "--key", key, "src", srv.url("enc/")); r.code != 0 {
		t.Fatalf("encrypt: %s", r.stderr)
	}

	if r := s3run("decrypt", "--key", key, srv.url("enc/"), srv.url("plain/")); r.code != 0 {
		t.Fatalf("decrypt: %s", r.stderr)
	}
	del("plain/sub/deeper/c.json")
	r = s3run("decrypt", "--skip-existing", "--key", key, srv.url("enc/"), srv.url("plain/"))
	if s := summaryOf(t, r); r.code != 0 || s.OK != 1 || s.Skipped != 4 {
		t.Fatalf("decrypt rerun: exit %d, %+v", r.code, s)
	}
	if got, err := srv.get(t, "plain/sub/deeper/c.json"); err != nil || len(got) != 5 {
		t.Fatalf("rewritten object: %d bytes, %v", len(got), err)
	}
}
