package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// tempFile writes b to a new file in the benchmark's temporary
// directory and returns its name.
func tempFile(b *testing.B, data []byte) string {
	name := filepath.Join(b.TempDir(), "input")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return name
}

// openFile opens name or fails b.
func openFile(b *testing.B, name string) *os.File {
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	return f
}
