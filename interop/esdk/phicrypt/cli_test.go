package phicrypt

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/phicrypt/phicrypt/interop/esdk/official"
)

// buildCLI builds cmd/s3crypt in the main module (whose go.mod has the
// CLI's dependencies) and returns the binary's path.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "s3crypt")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/s3crypt")
	cmd.Dir = filepath.Join("..", "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/s3crypt: %v\n%s", err, out)
	}
	return bin
}

func cli(t *testing.T, bin, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("s3crypt %v: %v\n%s", args, err, out)
	}
}

// TestCLIWithOfficialSDK: files encrypted by the s3crypt command decrypt
// with the official AWS Encryption SDK for Go, and its messages decrypt
// with the command, for raw AES keys (from s3crypt keygen) and raw RSA keys.
func TestCLIWithOfficialSDK(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	cli(t, bin, dir, "keygen", "lab.key")
	aesKey, err := os.ReadFile(filepath.Join(dir, "lab.key"))
	if err != nil {
		t.Fatal(err)
	}
	k := getKeys(t)
	os.WriteFile(filepath.Join(dir, "pub.pem"), k.pubPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "priv.pem"), k.privPEM, 0o600)
	spki, _ := x509.MarshalPKIXPublicKey(&k.rsaPriv.PublicKey)
	sum := sha256.Sum256(spki)
	rsaName := "rsa-" + hex.EncodeToString(sum[:8]) // the CLI's default RSA key name

	// The CLI's raw keyrings have namespace "phicrypt" and, by default,
	// the key file's base name (AES) or rsa-<SPKI SHA-256 prefix> (RSA).
	theirAES := []official.RawAESKey{{Namespace: "phicrypt", Name: "lab.key", Key: aesKey}}
	theirRSA := []official.RawRSAKey{{Namespace: "phicrypt", Name: rsaName, PublicPEM: k.pubPEM, PrivatePEM: k.privPEM, Padding: official.PaddingOAEPSHA256}}
	ec := map[string]string{"tenant": "clinic-7", "record-type": "lab-result"}

	cases := []struct {
		name     string
		key      string
		aes      []official.RawAESKey
		rsa      []official.RawRSAKey
		suite    string
		frame    string
		size     int
		theirsFL int64
	}{
		{"aes 0x0578", "aes:lab.key", theirAES, nil, "0x0578", "64KiB", 300 << 10, 0},
		{"aes 0x0478 small frames", "aes:lab.key", theirAES, nil, "0x0478", "1000", 10_001, 1000},
		{"aes empty", "aes:lab.key", theirAES, nil, "0x0578", "4096", 0, 4096},
		{"rsa 0x0578", "rsa:pub.pem", nil, theirRSA, "0x0578", "4096", 9000, 4096},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pt := make([]byte, c.size)
			rand.Read(pt)
			in := filepath.Join(dir, "in.bin")
			os.WriteFile(in, pt, 0o600)

			// s3crypt -> official
			cli(t, bin, dir, "encrypt", "--overwrite", "--key", c.key, "--suite", c.suite, "--frame-size", c.frame,
				"--context", "tenant=clinic-7", "--context", "record-type=lab-result", "in.bin", "ours.enc")
			ct, _ := os.ReadFile(filepath.Join(dir, "ours.enc"))
			got, gotEC, suite, err := official.Decrypt(ctx, official.DecryptInput{AES: c.aes, RSA: c.rsa, Context: ec, Ciphertext: ct})
			if err != nil {
				t.Fatalf("official SDK decrypting s3crypt's message: %v", err)
			}
			if !bytes.Equal(got, pt) || gotEC["tenant"] != "clinic-7" || fmt.Sprintf("0x%04X", suite) != c.suite {
				t.Fatalf("official SDK: plaintext equal %v, context %v, suite %#04x", bytes.Equal(got, pt), gotEC, suite)
			}

			// official -> s3crypt
			var s uint16
			fmt.Sscanf(c.suite, "0x%x", &s)
			theirs, err := official.Encrypt(ctx, official.EncryptInput{AES: c.aes, RSA: c.rsa, Suite: s, FrameLength: c.theirsFL, Context: ec, Plaintext: pt})
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "theirs.enc"), theirs, 0o600)
			key := c.key
			if c.rsa != nil {
				key = "rsa:priv.pem"
			}
			cli(t, bin, dir, "decrypt", "--overwrite", "--key", key, "--expect-context", "tenant=clinic-7", "theirs.enc", "theirs.out")
			if back, _ := os.ReadFile(filepath.Join(dir, "theirs.out")); !bytes.Equal(back, pt) {
				t.Fatal("s3crypt decrypting the official SDK's message: plaintext differs")
			}
		})
	}
}
