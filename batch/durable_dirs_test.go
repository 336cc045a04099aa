package batch

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestNewDirParents: outDirs notes the parent of each directory it
// creates, and only those, until syncNewParents syncs them.
func TestNewDirParents(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a"), 0o700); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	o := newOutDirs(root)
	for _, rel := range []string{"a/b/c", "a/b/d", "a", "e"} {
		d, err := o.open(rel)
		if err != nil {
			t.Fatal(err)
		}
		d.release()
	}
	if got, want := slices.Sorted(maps.Keys(o.newParents)), []string{".", "a", "a/b"}; !slices.Equal(got, want) {
		t.Fatalf("parents to sync %q, want %q", got, want)
	}
	o.syncNewParents()
	if len(o.newParents) != 0 {
		t.Fatalf("parents left after the sync: %q", slices.Sorted(maps.Keys(o.newParents)))
	}
}

// TestNewDirsSyncedHelper is the run TestNewDirsSynced traces; it skips
// unless DURABLE_DIR is set.
func TestNewDirsSyncedHelper(t *testing.T) {
	d := os.Getenv("DURABLE_DIR")
	if d == "" {
		t.Skip("run by TestNewDirsSynced")
	}
	putFile(t, filepath.Join(d, "src", "s1", "s2", "x"), []byte("x"))
	putFile(t, filepath.Join(d, "src", "s1", "s2", "y"), []byte("y"))
	if _, err := Run(context.Background(), Encrypt, filepath.Join(d, "src"), filepath.Join(d, "out", "new"), Options{Keys: testKey(t)}); err != nil {
		t.Fatal(err)
	}
}

// TestNewDirsSynced: traced with strace, a run whose outputs go into
// directories it creates (the destination out/new and new/s1/s2 below
// it) syncs the parent of every directory it created, as it does each
// output's own directory, before reporting them done. Before, only the
// outputs' own directories were synced: after a power loss a new
// directory's entry, and with it outputs reported done and audited, could
// be gone.
func TestNewDirsSynced(t *testing.T) {
	st, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace not installed (bash scripts/test.sh installs it)")
	}
	d := t.TempDir()
	log := filepath.Join(t.TempDir(), "strace.log")
	cmd := exec.Command(st, "-f", "-y", "-qq", "-e", "trace=mkdir,mkdirat,fsync,fdatasync,syncfs", "-o", log,
		os.Args[0], "-test.run", "^TestNewDirsSyncedHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DURABLE_DIR="+d)
	if out, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "PTRACE") || strings.Contains(string(out), "ptrace") {
			t.Skipf("strace cannot trace here: %s", out)
		}
		t.Fatalf("traced run: %v\n%s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	mk := regexp.MustCompile(`mkdir(?:at)?\((?:(AT_FDCWD)(?:<[^>]*>)?|\d+<([^>]*)>), "([^"]*)", [0-7]+\) = 0`)
	// A call may be split across lines ("<unfinished ...>", then
	// "<... fsync resumed>) = 0"): the call is what counts.
	fsync := regexp.MustCompile(`(?:fsync|fdatasync|syncfs)\(\d+<([^>]*)>`)
	synced := map[string]bool{}
	for _, m := range fsync.FindAllStringSubmatch(string(b), -1) {
		synced[m[1]] = true
	}
	out := filepath.Join(d, "out")
	var created, unsynced []string
	for _, m := range mk.FindAllStringSubmatch(string(b), -1) {
		p := m[3]
		if m[1] == "" {
			p = filepath.Join(m[2], p)
		}
		if p == out || strings.HasPrefix(p, out+"/") {
			created = append(created, p)
			if !synced[filepath.Dir(p)] {
				unsynced = append(unsynced, filepath.Dir(p))
			}
		}
	}
	if len(created) < 4 { // out, out/new, out/new/s1, out/new/s1/s2
		t.Fatalf("created %q in the trace, want the 4 directories\n%s", created, b)
	}
	if len(unsynced) > 0 {
		t.Fatalf("parents of new directories never synced: %q (created %q)\n%s", unsynced, created, b)
	}
}
