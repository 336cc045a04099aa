package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests of this file were found by probing the runs of a local tree
// into itself, into a tree around it and through symbolic links; each
// failed before its fix.

func putFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// staleName is a name of s3crypt's named temporary files, of a process
// that is not running.
const staleName = ".x.s3crypt-p999999999-1.tmp"

// TestInPlaceKeepsTmpNamedInputs: a tree encrypted into itself holding a
// file named as a stale temporary file is: the file is an input, and the
// run neither reads nor removes it (it reports it skipped). Before, the
// stale-file cleanup deleted it, with only a notice.
func TestInPlaceKeepsTmpNamedInputs(t *testing.T) {
	dir := t.TempDir()
	hostile := filepath.Join(dir, staleName)
	putFile(t, hostile, []byte("an input"))
	putFile(t, filepath.Join(dir, "a"), []byte("a"))
	old := time.Now().Add(-time.Hour)
	os.Chtimes(hostile, old, old)
	sum, err := Run(context.Background(), Encrypt, dir, dir, Options{Keys: testKey(t)})
	if err != nil || sum.OK != 1 || len(sum.Skips) != 1 || sum.Skips[0].Input != staleName {
		t.Fatalf("%+v, %v: want a.enc written and %s skipped", sum, err, staleName)
	}
	if b, err := os.ReadFile(hostile); err != nil || string(b) != "an input" {
		t.Fatalf("the input %s: %q, %v", staleName, b, err)
	}
}

// TestReservedOutputName: an output named as s3crypt's temporary files
// (from a hostile input name) fails with ErrReservedName and is not
// written. Before, it was written and reported done, and the next run
// writing into its directory removed it as a stale temporary file.
func TestReservedOutputName(t *testing.T) {
	d := t.TempDir()
	keys := testKey(t)
	plain, enc, out := filepath.Join(d, "plain"), filepath.Join(d, "enc"), filepath.Join(d, "out")
	putFile(t, filepath.Join(plain, staleName), []byte("named so"))
	if _, err := Run(context.Background(), Encrypt, plain, enc, Options{Keys: keys}); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), Decrypt, enc, out, Options{Keys: keys})
	if err == nil || sum.Failed != 1 || !strings.Contains(sum.Failures[0].Error, ErrReservedName.Error()) {
		t.Fatalf("%+v, %v: want the input failed with ErrReservedName", sum, err)
	}
	if _, err := os.Lstat(filepath.Join(out, staleName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the output was written: %v", err)
	}
}

// TestOverlappingTrees: a source inside the destination, and a
// destination inside the source given through a symbolic link, are
// refused with ErrUsage before anything is written. Before, the first let
// the output of src/src/x (src/x.enc) replace the input src/x.enc under
// --overwrite, and the second fed the run's own outputs back to it as
// inputs (hundreds of *.enc.enc of 1,500 files).
func TestOverlappingTrees(t *testing.T) {
	d := t.TempDir()
	src := filepath.Join(d, "src")
	putFile(t, filepath.Join(src, "x.enc"), []byte("an input"))
	putFile(t, filepath.Join(src, "src", "x"), []byte("plain"))
	if err := os.MkdirAll(filepath.Join(src, "z"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(src, "z"), filepath.Join(d, "toz")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(d, filepath.Join(t.TempDir(), "tod")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, src, dst string }{
		{"source inside destination", src, d},
		{"destination inside source", src, filepath.Join(src, "z")},
		{"destination inside source through a link", src, filepath.Join(d, "toz")},
		{"a new destination below a link into the source", src, filepath.Join(d, "toz", "new", "dir")},
	} {
		sum, err := Run(context.Background(), Encrypt, c.src, c.dst, Options{Keys: testKey(t), Overwrite: true})
		if !errors.Is(err, ErrUsage) || sum != nil && sum.OK > 0 {
			t.Errorf("%s: %v, want ErrUsage", c.name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(src, "x.enc")); string(b) != "an input" {
		t.Fatalf("the input x.enc changed: %q", b)
	}
	if names := fmt.Sprint(os.ReadDir(filepath.Join(src, "z"))); names != "[] <nil>" {
		t.Fatalf("written into src/z: %s", names)
	}
}

// TestInPlaceThroughLink: a destination that is a symbolic link to the
// source is the source: names ending in the suffix are skipped as inputs,
// as when the source is named twice. Before, they were read as inputs.
func TestInPlaceThroughLink(t *testing.T) {
	d := t.TempDir()
	src := filepath.Join(d, "src")
	putFile(t, filepath.Join(src, "a"), []byte("A"))
	putFile(t, filepath.Join(src, "b.enc"), []byte("not a message"))
	link := filepath.Join(d, "link")
	if err := os.Symlink("src", link); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), Encrypt, src, link, Options{Keys: testKey(t)})
	if err != nil || sum.OK != 1 || len(sum.Skips) != 1 || sum.Skips[0].Input != "b.enc" {
		t.Fatalf("%+v, %v: want a encrypted and b.enc skipped", sum, err)
	}
}

// TestDecryptInPlaceSkipsInputOutputs: decrypting a directory into itself
// skips an input whose output would be another input (a.enc.enc → a.enc).
// Before, under --overwrite, a.enc was replaced with the plaintext of
// a.enc.enc.
func TestDecryptInPlaceSkipsInputOutputs(t *testing.T) {
	keys := testKey(t)
	work, dir := t.TempDir(), t.TempDir()
	putFile(t, filepath.Join(work, "p", "a"), []byte("A"))
	putFile(t, filepath.Join(work, "p", "b"), []byte("B"))
	if _, err := Run(context.Background(), Encrypt, filepath.Join(work, "p"), filepath.Join(work, "o"), Options{Keys: keys}); err != nil {
		t.Fatal(err)
	}
	aenc, _ := os.ReadFile(filepath.Join(work, "o", "a.enc"))
	benc, _ := os.ReadFile(filepath.Join(work, "o", "b.enc"))
	putFile(t, filepath.Join(dir, "a.enc"), aenc)
	putFile(t, filepath.Join(dir, "a.enc.enc"), benc)
	sum, err := Run(context.Background(), Decrypt, dir, dir, Options{Keys: keys, Overwrite: true})
	if err != nil || sum.OK != 1 || len(sum.Skips) != 1 || sum.Skips[0].Input != "a.enc.enc" {
		t.Fatalf("%+v, %v: want a.enc decrypted and a.enc.enc skipped", sum, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.enc")); !bytes.Equal(b, aenc) {
		t.Fatalf("the input a.enc changed: %q", b)
	}
}
