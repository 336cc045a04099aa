package main_test

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// edkFile writes a message header whose n data keys are wrapped, by name,
// by the raw AES keys name(i) (names are public in every header, so no key
// is needed to make one), and nothing after the header.
func edkFile(t *testing.T, path string, n int, name func(i int) string) {
	t.Helper()
	b := []byte{2, 0x04, 0x78}
	b = append(b, make([]byte, 32)...) // message ID
	b = append(b, 0, 0)                // empty context
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for i := range n {
		b = append(b, 0, 8)
		b = append(b, "phicrypt"...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(name(i))))
		b = append(b, name(i)...)
		b = append(b, 0, 1, 9)
	}
	b = append(b, 2, 0, 0, 16, 0)         // framed, 4096-byte frames
	b = append(b, make([]byte, 32+16)...) // commit key, auth tag
	writeFile(t, path, b)
}

// TestHostileManyEncryptedDataKeys: a file whose header carries 65,535
// data keys naming the user's key, so that decrypting it makes 65,535 key
// attempts (KMS calls for a KMS key).
func TestHostileManyEncryptedDataKeys(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	edkFile(t, filepath.Join(dir, "many.enc"), 65535, func(int) string { return "k.key" })

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
	edkFile(t, filepath.Join(dir, "names.enc"), 2000, func(i int) string { return fmt.Sprintf("key-%04d", i) })

	r := run(t, dir, nil, nil, "decrypt", "--key", key, "--max-encrypted-data-keys", "0", "names.enc", "out")
	if r.code != 1 || !strings.Contains(r.stderr, "wrapped by") || !strings.Contains(r.stderr, "and 1984 more data keys") || len(r.stderr) >= 4096 {
		t.Fatalf("exit %d, %d bytes of stderr %.600q; want a hint naming 16 keys and the count of the rest", r.code, len(r.stderr), r.stderr)
	}
}
