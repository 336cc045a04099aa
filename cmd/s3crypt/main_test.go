package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// bin is the s3crypt binary built once for all tests, run as a user would.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "s3crypt-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755) // others may run it (the read-only test runs it as nobody)
	bin = filepath.Join(dir, "s3crypt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs s3crypt with args in dir, stdin from in (nil: empty), and the
// AWS environment of env added to a clean one.
func run(t *testing.T, dir string, in io.Reader, env []string, args ...string) result {
	t.Helper()
	return runWith(t, dir, in, append(baseEnv(dir), env...), args...)
}

// runEnv runs s3crypt in dir with exactly the environment env.
func runEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return runWith(t, dir, nil, env, args...)
}

func runWith(t *testing.T, dir string, in io.Reader, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdin, cmd.Env = dir, in, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func baseEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials")}
}

func mustRun(t *testing.T, dir string, in io.Reader, env []string, args ...string) result {
	t.Helper()
	r := run(t, dir, in, env, args...)
	if r.code != 0 {
		t.Fatalf("s3crypt %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// tree writes a small directory of records and returns name -> content.
func tree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"a.csv":             randBytes(1000),
		"empty.txt":         {},
		"sub/b.json":        randBytes(70 << 10), // more than one 64 KiB frame
		"sub/deeper/c.json": randBytes(5),
		"sub/skip.tmp":      randBytes(10),
	}
	for name, data := range files {
		writeFile(t, filepath.Join(root, name), data)
	}
	return files
}

// files lists the regular files below root, slash-separated, temp files included.
func files(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	return names
}

// waitOutput waits up to 10 s for process pid to have written at least
// `least` bytes to a temporary output in dir: a file there, or (Linux) an
// unnamed file of dir open in the process. It reports whether it did.
func waitOutput(t *testing.T, pid int, dir string, least int64) bool {
	t.Helper()
	real, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	real = filepath.Join(real, filepath.Base(dir))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		for _, name := range files(t, dir) {
			if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Size() >= least {
				return true
			}
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			p := fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())
			if l, _ := os.Readlink(p); strings.HasPrefix(l, real+"/") {
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() >= least {
					return true
				}
			}
		}
	}
	return false
}

func keygen(t *testing.T, dir, name string) string {
	t.Helper()
	mustRun(t, dir, nil, nil, "keygen", name)
	return "aes:" + filepath.Join(dir, name)
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, nil, nil, "keygen", "k.key")
	fi, err := os.Stat(filepath.Join(dir, "k.key"))
	if err != nil || fi.Size() != 32 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "k.key"))
	r := run(t, dir, nil, nil, "keygen", "k.key")
	after, _ := os.ReadFile(filepath.Join(dir, "k.key"))
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to overwrite") || !bytes.Equal(before, after) {
		t.Fatalf("keygen over an existing key: exit %d, %q", r.code, r.stderr)
	}
}

// TestLocalRoundTrips encrypts and decrypts through every local source and
// destination kind: file, directory, stdin and stdout.
func TestLocalRoundTrips(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	data := randBytes(200 << 10)
	writeFile(t, filepath.Join(dir, "in.bin"), data)
	ctx := []string{"--context", "tenant=clinic-7", "--context", "purpose=test"}
	expect := []string{"--expect-context", "tenant=clinic-7"}

	t.Run("file to file", func(t *testing.T) {
		mustRun(t, dir, nil, nil, append([]string{"encrypt", "--key", key, "in.bin", "out/in.bin.enc"}, ctx...)...)
		mustRun(t, dir, nil, nil, append([]string{"decrypt", "--key", key, "out/in.bin.enc", "back/"}, expect...)...)
		if got, _ := os.ReadFile(filepath.Join(dir, "back/in.bin")); !bytes.Equal(got, data) {
			t.Fatal("round trip differs")
		}
	})
	t.Run("file into directory", func(t *testing.T) {
		os.Mkdir(filepath.Join(dir, "d"), 0o755)
		mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--suite", "0x0478", "--frame-size", "4KiB", "in.bin", "d")
		info := mustRun(t, dir, nil, nil, "inspect", "--json", "d/in.bin.enc")
		var got struct {
			Suite       string `json:"suite"`
			FrameLength int    `json:"frame_length"`
			FrameCount  int    `json:"frame_count"`
			Plaintext   int    `json:"plaintext_length"`
		}
		if err := json.Unmarshal([]byte(info.stdout), &got); err != nil {
			t.Fatal(err)
		}
		if got.Suite != "0x0478" || got.FrameLength != 4096 || got.FrameCount != 50 || got.Plaintext != len(data) {
			t.Fatalf("inspect: %+v", got)
		}
	})
	t.Run("stdin to stdout", func(t *testing.T) {
		ct := mustRun(t, dir, bytes.NewReader(data), nil, append([]string{"encrypt", "--key", key, "-", "-"}, ctx...)...)
		pt := mustRun(t, dir, strings.NewReader(ct.stdout), nil, "decrypt", "--key", key, "-", "-")
		if pt.stdout != string(data) {
			t.Fatal("stdin/stdout round trip differs")
		}
		// inspect reads stdin too
		info := mustRun(t, dir, strings.NewReader(ct.stdout), nil, "inspect", "-")
		for _, want := range []string{"suite:            0x0578", `"tenant" = "clinic-7"`, "phicrypt  k.key", "frames:           4"} {
			if !strings.Contains(info.stdout, want) {
				t.Errorf("inspect output lacks %q:\n%s", want, info.stdout)
			}
		}
	})
	t.Run("stdin to file and file to stdout", func(t *testing.T) {
		mustRun(t, dir, bytes.NewReader(data), nil, "encrypt", "--key", key, "-", "from-stdin.enc")
		pt := mustRun(t, dir, nil, nil, "decrypt", "--key", key, "from-stdin.enc", "-")
		if pt.stdout != string(data) {
			t.Fatal("round trip differs")
		}
	})
	t.Run("directory tree", func(t *testing.T) {
		src := filepath.Join(dir, "tree")
		want := tree(t, src)
		r := mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--exclude", "*.tmp", "--json", "--concurrency", "3", "tree", "enc")
		var sum struct{ Files, OK, Failed, Skipped int }
		if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.OK != 4 || sum.Skipped != 1 {
			t.Fatalf("summary %q: %+v, %v", r.stdout, sum, err)
		}
		enc := files(t, filepath.Join(dir, "enc"))
		if strings.Join(enc, " ") != "a.csv.enc empty.txt.enc sub/b.json.enc sub/deeper/c.json.enc" {
			t.Fatalf("encrypted tree: %v", enc)
		}
		mustRun(t, dir, nil, nil, "decrypt", "--key", key, "enc", "dec")
		for name, data := range want {
			got, err := os.ReadFile(filepath.Join(dir, "dec", name))
			if name == "sub/skip.tmp" {
				if err == nil {
					t.Errorf("excluded %s was written", name)
				}
				continue
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%s differs after the round trip (%v)", name, err)
			}
		}
		// Only .enc names are decrypted from a tree; filters narrow, as aws s3's.
		writeFile(t, filepath.Join(dir, "enc", "notes.txt"), []byte("plain"))
		r = mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--exclude", "*", "--include", "*.csv.enc", "--json", "enc", "dec2")
		if got := files(t, filepath.Join(dir, "dec2")); strings.Join(got, " ") != "a.csv" {
			t.Fatalf("--include: %v (%s)", got, r.stdout)
		}
	})
	t.Run("a tree to stdout is refused", func(t *testing.T) {
		r := run(t, dir, nil, nil, "encrypt", "--key", key, "tree", "-")
		if r.code != 2 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("destination inside the source is refused", func(t *testing.T) {
		r := run(t, dir, nil, nil, "encrypt", "--key", key, "tree", "tree/enc")
		if r.code != 2 || !strings.Contains(r.stderr, "inside source") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
}

func TestRSAKeys(t *testing.T) {
	dir := t.TempDir()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	spki, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	os.WriteFile(filepath.Join(dir, "priv.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)
	os.WriteFile(filepath.Join(dir, "pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o644)
	data := randBytes(3000)
	writeFile(t, filepath.Join(dir, "x"), data)
	// The public key alone encrypts; an AES key is added as a second recipient.
	aes := keygen(t, dir, "k.key")
	mustRun(t, dir, nil, nil, "encrypt", "--key", "rsa:pub.pem", "--key", aes, "x", "x.enc")
	for _, key := range []string{"rsa:priv.pem", aes} {
		mustRun(t, dir, nil, nil, "decrypt", "--overwrite", "--key", key, "x.enc", "y")
		if got, _ := os.ReadFile(filepath.Join(dir, "y")); !bytes.Equal(got, data) {
			t.Fatalf("decrypt with %s differs", key)
		}
	}
	r := run(t, dir, nil, nil, "decrypt", "--key", "rsa:pub.pem", "x.enc", "z")
	if r.code != 1 || !strings.Contains(r.stderr, "public key cannot decrypt") {
		t.Fatalf("decrypt with a public key: exit %d, %s", r.code, r.stderr)
	}
}

// TestFailures checks that each failure leaves no output, names the input
// and the cause, and sets the exit status, while the batch goes on.
func TestFailures(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	other := keygen(t, dir, "other.key")
	tree(t, filepath.Join(dir, "src"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--context", "tenant=a", "src", "enc")

	// Tamper with one file of the tree: flip a byte in its body.
	victim := filepath.Join(dir, "enc", "sub", "b.json.enc")
	ct, _ := os.ReadFile(victim)
	ct[len(ct)/2] ^= 1
	os.WriteFile(victim, ct, 0o644)
	inputBefore, _ := os.ReadFile(victim)

	r := run(t, dir, nil, nil, "decrypt", "--key", key, "enc", "dec")
	if r.code != 1 || !strings.Contains(r.stderr, `FAILED "enc/sub/b.json.enc": `) || !strings.Contains(r.stderr, "4 ok, 1 failed") {
		t.Fatalf("tampered file in a batch: exit %d\n%s", r.code, r.stderr)
	}
	if got := files(t, filepath.Join(dir, "dec")); strings.Join(got, " ") != "a.csv empty.txt sub/deeper/c.json sub/skip.tmp" {
		t.Fatalf("outputs after a tampered input: %v (no b.json and no temp file expected)", got)
	}
	if after, _ := os.ReadFile(victim); !bytes.Equal(after, inputBefore) {
		t.Fatal("the input was modified")
	}

	// A tampered signed message to stdout writes nothing at all.
	r = run(t, dir, nil, nil, "decrypt", "--key", key, victim, "-")
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("tampered to stdout: exit %d, %d bytes out", r.code, len(r.stdout))
	}

	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"wrong key", []string{"decrypt", "--key", other, "enc/a.csv.enc", "out"}, "no keyring could decrypt any of the 1 data keys", 1},
		{"wrong key names the message's key", []string{"decrypt", "--key", other, "enc/a.csv.enc", "out"}, "the message's data keys are wrapped by: phicrypt/k.key", 1},
		{"wrong expected context", []string{"decrypt", "--key", key, "--expect-context", "tenant=b", "enc/a.csv.enc", "out"}, `has another value for "tenant"`, 1},
		{"missing expected context key", []string{"decrypt", "--key", key, "--expect-context", "site=x", "enc/a.csv.enc", "out"}, `has no key "site"`, 1},
		{"missing key file", []string{"encrypt", "--key", "aes:nokey.key", "src/a.csv", "out"}, "s3crypt keygen nokey.key", 1},
		{"no key", []string{"encrypt", "src/a.csv", "out"}, "no key given", 2},
		{"bad key spec", []string{"encrypt", "--key", "gpg:x", "src/a.csv", "out"}, "invalid key", 1},
		{"not a message", []string{"decrypt", "--key", key, "src/a.csv", "out"}, "malformed message header", 1},
		{"insecure KMS endpoint", []string{"encrypt", "--key", "alias/x", "--kms-endpoint-url", "http://kms.example.com", "src/a.csv", "out"}, "", 1},
		{"bad suite", []string{"encrypt", "--key", key, "--suite", "0x9999", "src/a.csv", "out"}, "--suite", 2},
		{"bad context flag", []string{"encrypt", "--key", key, "--context", "novalue", "src/a.csv", "out"}, "want key=value", 2},
		{"unknown flag", []string{"encrypt", "--nope", "src/a.csv", "out"}, "unknown flag", 2},
		{"missing argument", []string{"encrypt", "--key", key, "src/a.csv"}, "want 2 arguments", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, nil, []string{"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_REGION=us-east-1"}, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", r.code, tt.code, r.stderr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Fatal("an output was left")
			}
		})
	}
	// The key file must not be readable by others.
	os.Chmod(filepath.Join(dir, "k.key"), 0o644)
	r = run(t, dir, nil, nil, "encrypt", "--key", key, "src/a.csv", "out")
	if r.code != 1 || !strings.Contains(r.stderr, "chmod 600") {
		t.Fatalf("world-readable key: exit %d, %s", r.code, r.stderr)
	}
}

func TestOverwrite(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "a"), []byte("one"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "a", "a.enc")
	first, _ := os.ReadFile(filepath.Join(dir, "a.enc"))
	r := run(t, dir, nil, nil, "encrypt", "--key", key, "a", "a.enc")
	if r.code != 1 || !strings.Contains(r.stderr, "--overwrite") {
		t.Fatalf("second encrypt: exit %d, %s", r.code, r.stderr)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "a.enc")); !bytes.Equal(now, first) {
		t.Fatal("existing output changed without --overwrite")
	}
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--overwrite", "a", "a.enc")
	if now, _ := os.ReadFile(filepath.Join(dir, "a.enc")); bytes.Equal(now, first) {
		t.Fatal("--overwrite did not replace the output")
	}
	// Even with --overwrite, the input itself is never the output.
	r = run(t, dir, nil, nil, "decrypt", "--key", key, "--overwrite", "a.enc", "a.enc")
	if r.code != 1 || !strings.Contains(r.stderr, "output is the input") {
		t.Fatalf("output = input: exit %d, %s", r.code, r.stderr)
	}
	if got := files(t, dir); strings.Join(got, " ") != "a a.enc k.key" {
		t.Fatalf("files left: %v", got)
	}
}

func TestReadOnlyOutput(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "a"), []byte("data"))
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	cmd := exec.Command(bin, "encrypt", "--key", key, "a", "ro/")
	cmd.Dir = dir
	cmd.Env = baseEnv(dir)
	if os.Geteuid() == 0 {
		// root ignores permissions: run as nobody, who may read the inputs.
		for _, p := range []string{filepath.Dir(dir), dir} {
			os.Chmod(p, 0o755)
		}
		os.Chmod(filepath.Join(dir, "a"), 0o644)
		os.Chmod(filepath.Join(dir, "k.key"), 0o600)
		os.Chown(filepath.Join(dir, "k.key"), 65534, 65534)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "permission denied") || !strings.Contains(string(out), `FAILED "a"`) {
		t.Fatalf("read-only output directory: %v\n%s", err, out)
	}
	if got := files(t, ro); len(got) != 0 {
		t.Fatalf("files in the read-only directory: %v", got)
	}
}

// TestInterrupt sends SIGINT while a large input is half read: the run
// stops, exits 130, and leaves neither the output nor a temporary file.
func TestInterrupt(t *testing.T) {
	for _, op := range []string{"encrypt", "decrypt"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			key := keygen(t, dir, "k.key")
			input := randBytes(8 << 20)
			if op == "decrypt" {
				writeFile(t, filepath.Join(dir, "p"), input)
				mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--suite", "0x0478", "p", "p.enc")
				input, _ = os.ReadFile(filepath.Join(dir, "p.enc"))
			}
			// The input is stdin, fed half-way and held open, so the
			// signal surely arrives mid-file.
			pr, pw := io.Pipe()
			cmd := exec.Command(bin, op, "--key", key, "-", "out/big")
			cmd.Dir, cmd.Env, cmd.Stdin = dir, baseEnv(dir), pr
			// The process may read all of stdin before it sees the signal;
			// exec's stdin copier then waits on pr, which is closed only
			// after Wait: WaitDelay ends that wait once the process exited.
			cmd.WaitDelay = 5 * time.Second
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if _, err := pw.Write(input[:len(input)/2]); err != nil {
				t.Fatal(err)
			}
			// Wait for the temporary output to exist, then interrupt.
			if !waitOutput(t, cmd.Process.Pid, filepath.Join(dir, "out"), 1) {
				t.Fatal("no temporary output appeared")
			}
			cmd.Process.Signal(os.Interrupt)
			go io.Copy(pw, bytes.NewReader(input[len(input)/2:])) // unblock a pending read; never closed
			err := cmd.Wait()
			pw.Close()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 130 {
				t.Fatalf("after SIGINT: %v\n%s", err, stderr.String())
			}
			if got := files(t, filepath.Join(dir, "out")); len(got) != 0 {
				t.Fatalf("left after SIGINT: %v", got)
			}
		})
	}
}

// TestInterruptLargeFile interrupts the encryption of a 1 GiB (sparse)
// file shortly after its temporary output appeared.
func TestInterruptLargeFile(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30)
	f.Close()
	cmd := exec.Command(bin, "encrypt", "--key", key, "--concurrency", "1", "big.bin", "out/")
	cmd.Dir, cmd.Env = dir, baseEnv(dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	waitOutput(t, cmd.Process.Pid, out, 1)
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("after SIGINT: %v (the run may have finished first)\n%s", err, stderr.String())
	}
	if got := files(t, out); len(got) != 0 {
		t.Fatalf("left after SIGINT: %v", got)
	}
	if !strings.Contains(stderr.String(), `FAILED "big.bin": interrupted`) {
		t.Fatalf("summary: %s", stderr.String())
	}
}

func TestAuditLog(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	tree(t, filepath.Join(dir, "src"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--context", "tenant=secret-value", "--metadata-output", "audit.jsonl", "src", "enc")
	mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--metadata-output", "audit.jsonl", "enc", "dec")
	r := mustRun(t, dir, nil, nil, "verify-log", "audit.jsonl")
	if !strings.Contains(r.stdout, "chain verified, 10 lines") {
		t.Fatalf("verify-log: %s", r.stdout)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if bytes.Contains(raw, []byte("secret-value")) {
		t.Fatal("the audit log holds an encryption context value")
	}
	lines := strings.SplitAfter(string(raw), "\n")
	var rec struct {
		Prev, Op, Input, Output, MessageID, Suite, Result string
		Keys, ContextKeys                                 []string
		BytesIn                                           int64
	}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(strings.ReplaceAll(lines[0], "message_id", "messageid"), "context_keys", "contextkeys")), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Prev != strings.Repeat("0", 64) || rec.Op != "encrypt" || rec.Result != "ok" || len(rec.MessageID) != 64 ||
		rec.Suite != "0x0578" || strings.Join(rec.Keys, ",") != "phicrypt/k.key" || !strings.Contains(strings.Join(rec.ContextKeys, ","), "tenant") {
		t.Fatalf("first record: %+v", rec)
	}

	check := func(name string, content string, wantLine int) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		r := run(t, dir, nil, nil, "verify-log", name)
		if r.code != 1 || !regexp.MustCompile(fmt.Sprintf(`\bline %d\b`, wantLine)).MatchString(r.stderr) {
			t.Fatalf("%s: exit %d, %s (want line %d named)", name, r.code, r.stderr, wantLine)
		}
	}
	edited := append([]string(nil), lines...)
	edited[4] = strings.Replace(edited[4], `"result":"ok"`, `"result":"failed"`, 1)
	check("edited.jsonl", strings.Join(edited, ""), 6)
	deleted := append(append([]string(nil), lines[:4]...), lines[5:]...)
	check("deleted.jsonl", strings.Join(deleted, ""), 5)

	// A broken log is never extended.
	r = run(t, dir, nil, nil, "encrypt", "--key", key, "--metadata-output", "edited.jsonl", "src/a.csv", "x.enc")
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to append") {
		t.Fatalf("append to a broken log: exit %d, %s", r.code, r.stderr)
	}
	// --metadata-output - writes a new chain to stdout.
	r = mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--metadata-output", "-", "src/a.csv", "y.enc")
	if res := mustVerify(t, r.stdout); res != 1 {
		t.Fatalf("stdout log: %d lines", res)
	}
}

func mustVerify(t *testing.T, log string) int {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "l"), []byte(log), 0o600)
	r := mustRun(t, dir, nil, nil, "verify-log", "l")
	var n int
	fmt.Sscanf(r.stdout[strings.Index(r.stdout, "verified, ")+len("verified, "):], "%d", &n)
	return n
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	for range 2 { // a second run reuses the key and extends the audit log
		r := mustRun(t, dir, nil, nil, "demo")
		for _, want := range []string{"hold the same bytes", "KMS calls: 1 GenerateDataKey, 1 GenerateMac", "served 11 of 12 files: 1 KMS call for data keys, not 12",
			"all signed (", "s3crypt encrypt --kms-endpoint-url http://127.0.0.1:4599 --key alias/phicrypt-demo "} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("demo output lacks %q:\n%s", want, r.stdout)
			}
		}
	}
	r := mustRun(t, dir, nil, nil, "verify-log", "phicrypt-demo/audit-log.jsonl")
	if !strings.Contains(r.stdout, "52 lines") {
		t.Fatalf("demo audit log: %s", r.stdout)
	}
}

// kmsServer returns kmslocal (the process at PHICRYPT_KMS_ENDPOINT if
// external and that is set, else one in this process) and the environment
// the CLI needs for it: placeholder credentials, which kmslocal accepts.
func kmsServer(t *testing.T, external bool) (*kmstest.Env, []string) {
	t.Helper()
	var e *kmstest.Env
	if external {
		e = kmstest.New(t)
	} else {
		e = kmstest.Start(t, kmslocal.Options{})
	}
	return e, []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=" + kmslocal.DefaultRegion}
}

func TestKMS(t *testing.T) {
	kmsEnv, env := kmsServer(t, true)
	endpoint, c := kmsEnv.Endpoint, kmsEnv.Client
	alias := fmt.Sprintf("alias/s3crypt-test-%d", time.Now().UnixNano())
	arn1 := kmsEnv.CreateKey(t, alias)
	arn2 := kmsEnv.CreateKey(t)
	dir := t.TempDir()
	tree(t, filepath.Join(dir, "src"))
	kmsFlags := []string{"--kms-endpoint-url", endpoint}

	t.Run("two keys, then each alone decrypts", func(t *testing.T) {
		mustRun(t, dir, nil, env, append([]string{"encrypt", "--key", alias, "--key", arn2, "--metadata-output", "kms.jsonl", "src", "enc"}, kmsFlags...)...)
		raw, _ := os.ReadFile(filepath.Join(dir, "kms.jsonl"))
		if !strings.Contains(string(raw), `"aws-kms `+arn1+`","aws-kms `+arn2+`"`) {
			t.Fatalf("audit log lacks the key ARNs:\n%s", raw)
		}
		for i, key := range []string{arn1, arn2, alias} {
			out := fmt.Sprintf("dec%d", i)
			mustRun(t, dir, nil, env, append([]string{"decrypt", "--key", key, "enc", out}, kmsFlags...)...)
			if got, _ := os.ReadFile(filepath.Join(dir, out, "sub/b.json")); len(got) != 70<<10 {
				t.Fatalf("decrypt with %s: %d bytes", key, len(got))
			}
		}
	})
	t.Run("data key cache", func(t *testing.T) {
		// Always an in-process kmslocal: a shared process's counters move
		// with other packages' tests.
		local, env := kmsServer(t, false)
		arn := local.CreateKey(t)
		calls := func(args ...string) int64 {
			t.Helper()
			before := local.Counts(t)["GenerateDataKey"]
			mustRun(t, dir, nil, env, append([]string{"encrypt", "--key", arn, "--kms-endpoint-url", local.Endpoint}, args...)...)
			return local.Counts(t)["GenerateDataKey"] - before
		}
		if n := calls("--cache-max-age", "1m", "src", "cached"); n != 1 {
			t.Fatalf("GenerateDataKey calls with the cache: %d, want 1 for 5 files", n)
		}
		if n := calls("--cache-max-age", "1m", "--cache-max-messages", "2", "src", "cached2"); n != 3 {
			t.Fatalf("GenerateDataKey calls with 2 messages per key: %d, want 3 for 5 files", n)
		}
		if n := calls("--cache-max-age", "0", "src", "uncached"); n != 5 {
			t.Fatalf("GenerateDataKey calls without the cache: %d, want 5", n)
		}
		// A batch run with a KMS key caches data keys by default, says so
		// before it starts, and counts its KMS requests.
		if n := calls("src", "default"); n != 1 {
			t.Fatalf("GenerateDataKey calls by default: %d, want 1 for 5 files", n)
		}
		r := run(t, dir, nil, env, "encrypt", "--key", arn, "--kms-endpoint-url", local.Endpoint, "src", "default2")
		if r.code != 0 || !strings.Contains(r.stderr, "KMS: data keys cached, one request per 1000 files or 5m0s") ||
			!strings.Contains(r.stderr, "KMS: 1 requests") {
			t.Fatalf("default cache: exit %d, stderr:\n%s", r.code, r.stderr)
		}
		r = run(t, dir, nil, env, "encrypt", "--json", "--cache-max-age", "0", "--key", arn, "--kms-endpoint-url", local.Endpoint, "src", "uncached2")
		if r.code != 0 || !strings.Contains(r.stderr, "one request per file (no data key cache)") || !strings.Contains(r.stdout, `"kms_requests":5`) {
			t.Fatalf("no cache: exit %d, stdout %s, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("disabled key names its ARN", func(t *testing.T) {
		arn3 := kmsEnv.CreateKey(t)
		mustRun(t, dir, nil, env, append([]string{"encrypt", "--key", arn3, "src/a.csv", "k3.enc"}, kmsFlags...)...)
		if _, err := c.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: &arn3}); err != nil {
			t.Fatal(err)
		}
		r := run(t, dir, nil, env, append([]string{"decrypt", "--key", arn3, "k3.enc", "k3"}, kmsFlags...)...)
		if r.code != 1 || !strings.Contains(r.stderr, arn3) || !strings.Contains(r.stderr, "DisabledException") {
			t.Fatalf("disabled key: exit %d, %s", r.code, r.stderr)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		r := run(t, dir, nil, []string{"AWS_REGION=us-east-1"}, append([]string{"encrypt", "--key", arn1, "src/a.csv", "nocred.enc"}, kmsFlags...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "no AWS credentials") {
			t.Fatalf("no credentials: exit %d, %s", r.code, r.stderr)
		}
	})
	t.Run("non-TLS endpoint", func(t *testing.T) {
		r := run(t, dir, nil, env, "encrypt", "--key", arn1, "--kms-endpoint-url", "http://kms.example.com", "src/a.csv", "insecure.enc")
		if r.code != 1 || !strings.Contains(r.stderr, "kms-endpoint-url") {
			t.Fatalf("plain http endpoint: exit %d, %s", r.code, r.stderr)
		}
	})
}
