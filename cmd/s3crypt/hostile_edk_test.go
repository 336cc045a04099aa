package main_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/internal/testkit"
)

// TestHostileManyEncryptedDataKeys: a file whose header carries 65,535
// data keys naming the user's key, so that decrypting it makes 65,535 key
// attempts (KMS calls for a KMS key).
func TestHostileManyEncryptedDataKeys(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "many.enc"), testkit.EDKHeader(65535, func(int) string { return "k.key" }))

	r := run(t, dir, nil, nil, "decrypt", "--key", key, "many.enc", "out")
	if r.code != 1 || !strings.Contains(r.stderr, "too many encrypted data keys") || len(r.stderr) >= 4096 {
		t.Fatalf("exit %d, %d bytes of stderr %.300q, want the message refused for its data keys", r.code, len(r.stderr), r.stderr)
	}
	r = run(t, dir, nil, nil, "decrypt", "--key", key, "--max-encrypted-data-keys", "65535", "many.enc", "out")
	if r.code != 1 || strings.Contains(r.stderr, "too many encrypted data keys") {
		t.Fatalf("with a limit of 65535: exit %d, %.300q", r.code, r.stderr)
	}
}

// TestHostileManyKeyNames: with the data key limit lifted, a header whose
// 2,000 data keys each name another key must not make the "wrapped by"
// hint on stderr 2,000 names long.
func TestHostileManyKeyNames(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	writeFile(t, filepath.Join(dir, "names.enc"), testkit.EDKHeader(2000, func(i int) string { return fmt.Sprintf("key-%04d", i) }))

	r := run(t, dir, nil, nil, "decrypt", "--key", key, "--max-encrypted-data-keys", "0", "names.enc", "out")
	if r.code != 1 || !strings.Contains(r.stderr, "wrapped by") || !strings.Contains(r.stderr, "and 1984 more data keys") || len(r.stderr) >= 4096 {
		t.Fatalf("exit %d, %d bytes of stderr %.600q; want a hint naming 16 keys and the count of the rest", r.code, len(r.stderr), r.stderr)
	}
}
