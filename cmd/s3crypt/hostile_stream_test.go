package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileMaxFrameLength: decrypt refuses a message whose frames are
// longer than --max-frame-length (16 MiB by default), naming the flag,
// and reads it once the flag allows.
func TestHostileMaxFrameLength(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	data := []byte("short plaintext, long declared frames")
	writeFile(t, filepath.Join(dir, "in.bin"), data)
	mustRun(t, dir, nil, nil, "encrypt", "--key", key, "--frame-size", "17MiB", "in.bin", "in.enc")
	r := run(t, dir, nil, nil, "decrypt", "--key", key, "in.enc", "out.bin")
	if r.code == 0 || !strings.Contains(r.stderr, "--max-frame-length") {
		t.Fatalf("decrypt of 17 MiB frames: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.bin")); !os.IsNotExist(err) {
		t.Fatalf("refused decrypt left an output: %v", err)
	}
	mustRun(t, dir, nil, nil, "decrypt", "--key", key, "--max-frame-length", "17MiB", "in.enc", "out.bin")
	if got, _ := os.ReadFile(filepath.Join(dir, "out.bin")); !bytes.Equal(got, data) {
		t.Fatal("round trip differs")
	}
	if r := run(t, dir, nil, nil, "decrypt", "--key", key, "--max-frame-length", "0", "in.enc", "out2.bin"); r.code == 0 {
		t.Fatal("--max-frame-length 0 accepted")
	}
}
