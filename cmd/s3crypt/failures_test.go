package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManyFailures: a run with more failures than a summary names prints
// those it names and how many more failed. (Creating the 1,003 inputs is
// most of its time.)
func TestManyFailures(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 1003 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("%04d.enc", i)), []byte("not a message"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, dir, nil, nil, "decrypt", "--key", key, "src", "out")
	if r.code != 1 || !strings.Contains(r.stderr, "0 ok, 1003 failed") || strings.Count(r.stderr, "\nFAILED ") != 1000 ||
		!strings.Contains(r.stderr, "\n... and 3 more failed inputs") {
		t.Fatalf("exit %d\n%.2000s", r.code, r.stderr)
	}
}
