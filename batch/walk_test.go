package batch

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// deepTree makes below dir a chain of depth directories named "a" with a
// file f at the bottom, each made relative to the one above (a path from
// the root may be longer than PATH_MAX).
func deepTree(t *testing.T, dir string, depth int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range depth {
		if err := syscall.Mkdirat(fd, "a", 0o700); err != nil {
			t.Fatal(err)
		}
		next, err := syscall.Openat(fd, "a", syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		syscall.Close(fd)
		fd = next
	}
	defer syscall.Close(fd)
	f, err := syscall.Openat(fd, "f", syscall.O_WRONLY|syscall.O_CREAT, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Write(f, []byte("deep"))
	syscall.Close(f)
}

// TestTreeTooDeep: a source directory more than maxTreeDepth levels deep
// fails the listing with ErrTreeTooDeep at once; one at the limit is
// encrypted. Before, a chain of 2,500 directories holding one 4-byte file
// took 13-22 s to list (each directory opened from the root: n²/2 opens),
// 4,000 took 70 s.
func TestTreeTooDeep(t *testing.T) {
	d := t.TempDir()
	deepTree(t, filepath.Join(d, "ok"), maxTreeDepth)
	if sum, err := Run(context.Background(), Encrypt, filepath.Join(d, "ok"), filepath.Join(d, "out-ok"), Options{Keys: testKey(t)}); err != nil || sum.OK != 1 {
		t.Fatalf("a tree %d deep: %+v, %v", maxTreeDepth, sum, err)
	}
	deepTree(t, filepath.Join(d, "deep"), 2500)
	start := time.Now()
	_, err := Run(context.Background(), Encrypt, filepath.Join(d, "deep"), filepath.Join(d, "out"), Options{Keys: testKey(t)})
	if !errors.Is(err, ErrTreeTooDeep) {
		t.Fatalf("a tree 2,500 deep: %v, want ErrTreeTooDeep", err)
	}
	if el := time.Since(start); el > 30*time.Second { // the error comes after 256 levels: ~1 s, more under -race
		t.Fatalf("refused after %v", el)
	}
}

// TestInterruptStopsWalk: cancelling a run stops the walk of a local
// source at once, also where it yields nothing (here: deep chains whose
// files the filter drops). Before, only a kept input checked the context,
// and Run returned when the walk ended, seconds later.
func TestInterruptStopsWalk(t *testing.T) {
	d := t.TempDir()
	src := filepath.Join(d, "src")
	for i := range 30 {
		deepTree(t, filepath.Join(src, "c"+string(rune('a'+i%26))+string(rune('a'+i/26))), 200)
	}
	putFile(t, filepath.Join(src, "a"), []byte("first"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	var cancelled time.Time
	pr := &hookProgress{onAdd: func(int64) { once.Do(func() { cancelled = time.Now(); cancel() }) }}
	start := time.Now()
	Run(ctx, Encrypt, src, filepath.Join(d, "out"), Options{Keys: testKey(t), Progress: pr, Notices: io.Discard, Exclude: []string{"f"}})
	if cancelled.IsZero() {
		t.Fatalf("not cancelled: the walk never read an input (%v)", time.Since(start))
	}
	if el := time.Since(cancelled); el > time.Second {
		t.Fatalf("Run returned %v after the interrupt", el)
	}
}

// TestSkipExistingThroughOutsideLink: --skip-existing looks for an output
// as it would write one, through the destination's root: where a link in
// the destination leads out of it, the input fails as it does without the
// flag. Before, the file outside counted as its complete output and the
// input was skipped, exit 0.
func TestSkipExistingThroughOutsideLink(t *testing.T) {
	d := t.TempDir()
	src, out, outside := filepath.Join(d, "src"), filepath.Join(d, "out"), filepath.Join(d, "outside")
	putFile(t, filepath.Join(src, "sub", "x"), []byte("x"))
	putFile(t, filepath.Join(outside, "x.enc"), []byte("not an output of this run"))
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(out, "sub")); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), Encrypt, src, out, Options{Keys: testKey(t), SkipExisting: true})
	if err == nil || sum.Failed != 1 || sum.Skipped != 0 {
		t.Fatalf("%+v, %v: want the input failed, not skipped", sum, err)
	}
}

// TestDeepLinkRead: a symbolic link to a file beside it, in a directory
// whose absolute path is longer than PATH_MAX, is read through the root
// as the file is. Before, resolving it by its absolute path failed
// (ENAMETOOLONG) and it was skipped as a link that leads nowhere, exit 0.
func TestDeepLinkRead(t *testing.T) {
	d := t.TempDir()
	rel := "src"
	for range 25 {
		rel = filepath.Join(rel, strings.Repeat("d", 200))
	}
	root, err := os.OpenRoot(d)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.MkdirAll(rel, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := root.WriteFile(filepath.Join(rel, "f"), []byte("deep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := root.Symlink("f", filepath.Join(rel, "l")); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), Encrypt, filepath.Join(d, "src"), filepath.Join(d, "out"), Options{Keys: testKey(t), Notices: io.Discard})
	if err != nil || sum.OK != 2 {
		t.Fatalf("%+v, %v: want f and l encrypted", sum, err)
	}
}
