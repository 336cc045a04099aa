package main_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHostileS3KeyTraversal: an object key with ".." (or an absolute or
// empty segment) below the source prefix makes its output land outside the
// destination, replacing a file there with --overwrite.
func TestHostileS3KeyTraversal(t *testing.T) {
	srv := gofakes3Server(t)
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o700)
	key := keygen(t, work, "k.key")
	writeFile(t, filepath.Join(work, "p"), []byte("payload"))
	mustRun(t, work, nil, nil, "encrypt", "--key", key, "p", "p.enc")
	ct, _ := os.ReadFile(filepath.Join(work, "p.enc"))
	bad := []string{"records/../../escaped.sh.enc", "records/./dot.enc", "records/a//b.enc", "records//abs.enc"}
	for _, k := range append([]string{"records/ok.enc", "records/sub/ok2.enc"}, bad...) {
		srv.put(t, k, ct)
	}
	if got := srv.keys(t, "records/"); len(got) != 6 {
		t.Fatalf("the server changed the keys: %q", got)
	}
	// restored/../../escaped.sh from work is dir/escaped.sh.
	escaped := filepath.Join(dir, "escaped.sh")
	for _, overwrite := range []bool{false, true} {
		t.Run(fmt.Sprintf("overwrite=%v", overwrite), func(t *testing.T) {
			args := []string{"decrypt", "--key", key, "--endpoint-url", srv.Endpoint, srv.url("records/"), "restored"}
			if overwrite {
				args = append(args, "--overwrite")
				writeFile(t, escaped, []byte("original"))
			}
			r := run(t, work, nil, srv.Env, args...)
			if r.code != 1 || !strings.Contains(r.stderr, "2 ok, 4 failed") {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			for _, k := range bad {
				if !strings.Contains(r.stderr, "FAILED "+strconv.Quote(srv.url(k))+": name is not a plain relative path") {
					t.Errorf("no named failure for %q:\n%s", k, r.stderr)
				}
			}
			if b, err := os.ReadFile(escaped); overwrite && string(b) != "original" || !overwrite && err == nil {
				t.Fatalf("%s written outside the destination: %q", escaped, b)
			}
			if got := files(t, dir); strings.Join(got, " ") != strings.TrimSpace(map[bool]string{true: "escaped.sh ", false: ""}[overwrite]+
				"work/k.key work/p work/p.enc work/restored/ok work/restored/sub/ok2") {
				t.Fatalf("files: %v", got)
			}
			for _, name := range []string{"ok", "sub/ok2"} {
				if b, _ := os.ReadFile(filepath.Join(work, "restored", name)); string(b) != "payload" {
					t.Fatalf("%s: %q", name, b)
				}
			}
			os.RemoveAll(filepath.Join(work, "restored"))
		})
	}
	// Encrypting S3 to local maps names the same way.
	srv.put(t, "plain/../../escaped.sh", []byte("x"))
	r := run(t, work, nil, srv.Env, "encrypt", "--key", key, "--endpoint-url", srv.Endpoint, srv.url("plain/"), "enc")
	if r.code != 1 || !strings.Contains(r.stderr, "not a plain relative path") {
		t.Fatalf("encrypt: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(escaped + ".enc"); err == nil {
		t.Fatal("encrypt wrote outside the destination")
	}
}

// TestHostileSymlinkOutside: a link inside a source directory that points
// out of it makes s3crypt encrypt (and so disclose) a file outside it.
func TestHostileSymlinkOutside(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "secret"), []byte("outside"))
	writeFile(t, filepath.Join(dir, "src", "sub", "a"), []byte("inside"))
	for link, to := range map[string]string{
		"leak":        "../secret",                            // relative, out
		"absleak":     filepath.Join(dir, "secret"),           // absolute, out
		"sub/inner":   "a",                                    // relative, in
		"absinner":    filepath.Join(dir, "src", "sub", "a"),  // absolute, in
		"sub/dirlink": "..",                                   // a directory: skipped as before
		"dangling":    "nothing",                              // skipped as before
		"sub/updown":  "../../src/sub/a",                      // leaves and re-enters: in
		"sub/far":     filepath.Join("..", "..", "..", "etc"), // out, not a file
	} {
		if err := os.Symlink(to, filepath.Join(dir, "src", link)); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, dir, nil, nil, "encrypt", "--key", key, "src", "enc")
	if r.code != 0 || !strings.Contains(r.stderr, "4 ok, 0 failed, 5 skipped") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, l := range []string{"leak", "absleak"} {
		if !strings.Contains(r.stderr, "notice: skipped "+strconv.Quote(filepath.Join("src", l))+": a symbolic link to") {
			t.Errorf("no notice for %s:\n%s", l, r.stderr)
		}
	}
	if got := strings.Join(files(t, filepath.Join(dir, "enc")), " "); got != "absinner.enc sub/a.enc sub/inner.enc sub/updown.enc" {
		t.Fatalf("encrypted: %s", got)
	}
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--follow-symlinks", "src", "enc2")
	if got := strings.Join(files(t, filepath.Join(dir, "enc2")), " "); got != "absinner.enc absleak.enc leak.enc sub/a.enc sub/inner.enc sub/updown.enc" {
		t.Fatalf("with --follow-symlinks: %s", got)
	}
	mustRun(t, dir, nil, nil, "decrypt", "--key", key, "enc2/leak.enc", "leak.out")
	if b, _ := os.ReadFile(filepath.Join(dir, "leak.out")); string(b) != "outside" {
		t.Fatalf("followed link: %q", b)
	}
}

// TestHostileKillLeavesNoPlaintext: SIGKILL while decrypting leaves the
// plaintext written so far, never verified, in a temporary file.
func TestHostileKillLeavesNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "p"), randBytes(8<<20))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--suite", "0x0478", "p", "p.enc")
	input, _ := os.ReadFile(filepath.Join(dir, "p.enc"))
	os.Mkdir(filepath.Join(dir, "out"), 0o700)
	pr, pw := io.Pipe()
	defer pw.Close()
	cmd := exec.Command(bin, "decrypt", "--key", key, "-", "out/x")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, baseEnv(dir), pr
	cmd.WaitDelay = 5 * time.Second // stdin's copier may wait on pr, closed only after Wait
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go pw.Write(input[:len(input)/2]) // held open: the run waits mid-message
	if !waitOutput(t, cmd.Process.Pid, filepath.Join(dir, "out"), 1<<20) {
		cmd.Process.Kill()
		t.Fatal("no plaintext was written")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got := files(t, filepath.Join(dir, "out")); len(got) != 0 {
		t.Fatalf("left after SIGKILL: %v", got)
	}
}

// TestHostileStaleTempRemoved: where outputs need named temporary files,
// those of a killed run stay; the next run into the directory removes
// them, and says so, but not those of a live process.
func TestHostileStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "a"), []byte("data"))
	ended := exec.Command(bin, "--help")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf(".x.s3crypt-p%d-42.tmp", ended.Process.Pid)
	live := fmt.Sprintf(".y.s3crypt-p%d-42.tmp", os.Getpid())
	locked := fmt.Sprintf(".w.s3crypt-p%d-7.tmp", ended.Process.Pid) // as if by a process in another PID namespace
	old := time.Now().Add(-time.Hour)
	for _, name := range []string{stale, live, locked, ".z.s3crypt-123.tmp"} {
		p := filepath.Join(dir, "out", name)
		writeFile(t, p, []byte("plaintext"))
		os.Chtimes(p, old, old)
	}
	f, err := os.Open(filepath.Join(dir, "out", locked))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, dir, nil, nil, "encrypt", "--key", key, "a", "out/")
	want := "notice: removed " + strconv.Quote(filepath.Join("out", stale)) + fmt.Sprintf(", a temporary file left by process %d, which has ended", ended.Process.Pid)
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("no notice %q:\n%s", want, r.stderr)
	}
	if got := strings.Join(files(t, filepath.Join(dir, "out")), " "); got != locked+" "+live+" .z.s3crypt-123.tmp a.enc" {
		t.Fatalf("files: %s", got)
	}
}

// TestHostileNameInjection: a file name with a newline and terminal escape
// codes, printed raw in the summary, forges summary lines.
func TestHostileNameInjection(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	evil := "evil\n\x1b[2Kdecrypt: 9 ok, 0 failed.enc"
	writeFile(t, filepath.Join(dir, "enc", evil), []byte("not a message"))
	r := run(t, dir, nil, nil, "decrypt", "--key", key, "enc", "dec")
	if r.code != 1 || strings.ContainsRune(r.stderr, 0x1b) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "decrypt: 0 ok, 1 failed") ||
		!strings.HasPrefix(lines[1], "FAILED "+strconv.Quote(filepath.Join("enc", evil))+": ") {
		t.Fatalf("summary lines %q", lines)
	}
}

// TestHostileInspectEscapes: inspect prints the unauthenticated context
// raw, so escape codes in it erase lines and draw a fake context.
func TestHostileInspectEscapes(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "p"), []byte("x"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--context", "\x1b[2K\rtenant=a\x1b]0;title\x07\nfake = pair", "p", "p.enc")
	for _, args := range [][]string{{"inspect", "p.enc"}, {"inspect", "--json", "p.enc"}} {
		r := mustRun(t, dir, nil, nil, args...)
		if strings.ContainsAny(r.stdout, "\x1b\r\x07") {
			t.Fatalf("%v printed control characters: %q", args, r.stdout)
		}
		if args[1] != "--json" && !strings.Contains(r.stdout, `  "\x1b[2K\rtenant" = "a\x1b]0;title\a\nfake = pair"`+"\n") {
			t.Fatalf("%v: %s", args, r.stdout)
		}
	}
}

// TestHostileDestinationSymlink: a symbolic link planted in the
// destination tree redirects outputs out of it.
func TestHostileDestinationSymlink(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	tree(t, filepath.Join(dir, "src"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "src", "enc")
	os.Mkdir(filepath.Join(dir, "elsewhere"), 0o700)
	os.Mkdir(filepath.Join(dir, "dec"), 0o700)
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "dec", "sub")); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, nil, nil, "decrypt", "--key", key, "enc", "dec")
	if r.code != 1 || !strings.Contains(r.stderr, "2 ok, 3 failed") || !regexp.MustCompile(`FAILED "enc/sub/b\.json\.enc": [^\n]*sub[^\n]*: path escapes from parent`).MatchString(r.stderr) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if got := files(t, filepath.Join(dir, "elsewhere")); len(got) != 0 {
		t.Fatalf("written through the link: %v", got)
	}
}
