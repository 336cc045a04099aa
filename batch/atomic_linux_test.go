package batch

import (
	"os"
	"sync/atomic"
	"testing"
)

func TestKernelVersion(t *testing.T) {
	for release, want := range map[string][2]int{
		"6.1.0-18-amd64":      {6, 1},
		"5.8.0":               {5, 8},
		"5.10-rc1":            {5, 10},
		"4.19.0-generic":      {4, 19},
		"6.18.44-fc-v657":     {6, 18},
		"3.10.0-1160.el7.x86": {3, 10},
	} {
		major, minor, ok := kernelVersion(release)
		if !ok || major != want[0] || minor != want[1] {
			t.Errorf("kernelVersion(%q) = %d, %d, %v", release, major, minor, ok)
		}
	}
	for _, release := range []string{"", "6", "x.y", "6.x"} {
		if _, _, ok := kernelVersion(release); ok {
			t.Errorf("kernelVersion(%q) ok", release)
		}
	}
}

// TestStartWriteback: sync_file_range starts the write-back of a range of
// a regular file; its errors would go unseen in Write, so they are
// checked here.
func TestStartWriteback(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "wb")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := startWriteback(f, 0, 1<<20); err != nil {
		t.Fatalf("startWriteback: %v", err)
	}
	if err := startWriteback(f, 4096, 1<<20); err != nil { // past the end
		t.Fatalf("startWriteback past the end: %v", err)
	}
}

// TestHostileGroupOnOtherFileSystem: an output below a mount point inside
// the destination (a directory of the tree on another file system) was
// made "durable" by the syncfs of the destination's file system, which
// does not write it back: linked, reported done and logged with its data
// still in the page cache. Each such file is fsync'd itself.
func TestHostileGroupOnOtherFileSystem(t *testing.T) {
	other, err := os.Open("/dev/shm")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	defer other.Close()
	_, root := tempRoot(t)
	probe, err := root.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if sameFileSystem(other, probe) {
		t.Skip("/dev/shm and the test's temporary directory are one file system")
	}
	g := &groupCommit{fs: other} // the destination's file system, not the outputs'
	var synced atomic.Int32
	g.fsync = func(f *os.File) error { synced.Add(1); return f.Sync() }
	const n = 3
	g.step = holdFirstGroup(g, n) // a first group of one, then one of two
	for _, err := range commitGroup(t, g, root, n, false) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := synced.Load(); got != n {
		t.Fatalf("%d of %d outputs fsync'd; the rest were left to a syncfs of another file system", got, n)
	}
}
