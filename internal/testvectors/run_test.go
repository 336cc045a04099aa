package testvectors

import (
	"context"
	"path/filepath"
	"testing"
)

// TestOfficialVectors decrypts the official .NET vectors committed in
// testdata/vectors: every one must pass, none may be skipped.
func TestOfficialVectors(t *testing.T) {
	dirs, _ := filepath.Glob("../../testdata/vectors/*/manifest.json")
	if len(dirs) == 0 {
		t.Fatal("no vectors found under testdata/vectors")
	}
	for _, d := range dirs {
		m, err := LoadDecryptManifest(d)
		if err != nil {
			t.Fatal(err)
		}
		rs := m.Run(context.Background(), Options{})
		for _, r := range rs {
			if r.Status != Passed {
				t.Errorf("%s: %s: status %d: %v", filepath.Base(filepath.Dir(d)), r.Name, r.Status, r.Err)
			}
		}
		p, f, s := Summary(rs)
		t.Logf("%s: %d passed, %d failed, %d skipped", filepath.Base(filepath.Dir(d)), p, f, s)
	}
}

// TestWriteEncrypted writes a manifest of phicrypt messages and decrypts it.
func TestWriteEncrypted(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 120 messages; skipped in -short")
	}
	dir := t.TempDir()
	n, err := WriteEncrypted(context.Background(), dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("wrote %d tests, want the full matrix", n)
	}
	m, err := LoadDecryptManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	rs := m.Run(context.Background(), Options{})
	if p, f, s := Summary(rs); p != n || f != 0 || s != 0 {
		for _, r := range rs {
			if r.Status != Passed {
				t.Errorf("%s: %v", r.Name, r.Err)
			}
		}
		t.Fatalf("%d passed, %d failed, %d skipped of %d", p, f, s, n)
	}
}
