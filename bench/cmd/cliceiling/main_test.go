package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	src := t.TempDir()
	files := map[string]int{"empty": 0, "one": 1, "chunk": chunk, "more": 2*chunk + 100, "big": 2*readChunk + 100}
	for name, n := range files {
		if err := os.WriteFile(filepath.Join(src, name), bytes.Repeat([]byte{'p'}, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o700); err != nil { // not a file: skipped
		t.Fatal(err)
	}
	for _, mode := range []string{"copy", "gcm", "signed"} {
		t.Run(mode, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out")
			if _, err := run(mode, src, dst); err != nil {
				t.Fatal(err)
			}
			ents, err := os.ReadDir(dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != len(files) {
				t.Fatalf("%d outputs, want %d", len(ents), len(files))
			}
			for name, n := range files {
				in, _ := os.ReadFile(filepath.Join(src, name))
				out, err := os.ReadFile(filepath.Join(dst, name))
				if err != nil {
					t.Fatal(err)
				}
				sealed := n + 16*((n+chunk-1)/chunk) // a tag per chunk
				switch mode {
				case "copy":
					if !bytes.Equal(out, in) {
						t.Errorf("%s: copy differs from its input", name)
					}
				case "gcm":
					if len(out) != sealed || n >= 16 && bytes.Contains(out, in) {
						t.Errorf("%s: %d bytes, want %d sealed", name, len(out), sealed)
					}
				case "signed": // a DER ECDSA P-384 signature: 102 to 104 bytes
					if len(out) < sealed+100 || len(out) > sealed+104 {
						t.Errorf("%s: %d bytes, want %d sealed and a signature", name, len(out), sealed)
					}
				}
			}
			// A second run into the same directory finds every name taken.
			if _, err := run(mode, src, dst); err == nil && refusesExisting {
				t.Error("a run over existing outputs succeeded")
			}
		})
	}
	if _, err := run("zip", src, t.TempDir()); err == nil {
		t.Error("mode zip accepted")
	}
}
