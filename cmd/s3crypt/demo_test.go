package main_test

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoCommands runs the CLI commands the demo prints, as printed, against
// a kmslocal process built here on the demo's key directory: they work, and
// the audit log they extend verifies with the KMS HMAC key.
func TestDemoCommands(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, dir, nil, nil, "demo").stdout
	_, block, ok := strings.Cut(out, "The same with the CLI")
	if !ok {
		t.Fatalf("demo printed no commands:\n%s", out)
	}
	var kmslocalArgs, env []string
	var cmds [][]string
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		f := strings.Fields(line)
		switch f[0] {
		case "kmslocal":
			kmslocalArgs = f[1:]
		case "export":
			env = f[1:]
		case "s3crypt":
			cmds = append(cmds, f[1:])
		}
	}
	if len(kmslocalArgs) == 0 || len(env) == 0 || len(cmds) != 4 {
		t.Fatalf("demo commands: kmslocal %q, env %q, %d s3crypt commands:\n%s", kmslocalArgs, env, len(cmds), block)
	}
	// Start kmslocal as printed, but on a free port and in the foreground.
	const printed = "127.0.0.1:4599"
	for i, a := range kmslocalArgs {
		switch {
		case a == printed:
			kmslocalArgs[i] = "127.0.0.1:0"
		case a == "&":
			kmslocalArgs = kmslocalArgs[:i]
		}
	}
	kmsBin := filepath.Join(t.TempDir(), "kmslocal")
	if b, err := exec.Command("go", "build", "-o", kmsBin, "github.com/phicrypt/phicrypt/cmd/kmslocal").CombinedOutput(); err != nil {
		t.Fatalf("go build kmslocal: %v\n%s", err, b)
	}
	k := exec.Command(kmsBin, kmslocalArgs...)
	k.Dir = dir
	stdout, err := k.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Process.Kill(); k.Wait() })
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`http://(127\.0\.0\.1:[0-9]+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		for sc.Scan() { // drain
		}
	}()
	var got string
	select {
	case got = <-addr:
	case <-time.After(10 * time.Second):
		t.Fatal("kmslocal printed no address")
	}
	var r result
	for _, c := range cmds {
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], printed, got)
		}
		r = mustRun(t, dir, nil, env, c...)
	}
	if !strings.Contains(r.stdout, "chain verified, 52 lines, all signed (4 digests verified") {
		t.Fatalf("verify-log: %s", r.stdout)
	}
}
