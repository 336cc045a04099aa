package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/interop/esdk/official"
)

func runCLI(t *testing.T, in []byte, args ...string) ([]byte, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(in), &out, &errb)
	return out.Bytes(), errb.String(), code
}

func TestCLIRoundTripAES(t *testing.T) {
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	hexFile := filepath.Join(dir, "key.hex")
	rawFile := filepath.Join(dir, "key.bin")
	os.WriteFile(hexFile, []byte(hex.EncodeToString(key)+"\n"), 0o600)
	os.WriteFile(rawFile, key, 0o600)

	pt := bytes.Repeat([]byte("esdkgo "), 1000)
	ct, stderr, code := runCLI(t, pt, "encrypt", "--aes-key-file", hexFile, "--aes-namespace", "ns", "--aes-name", "k",
		"--suite", "0x0478", "--frame", "512", "--context", "a=1", "--context", "t=secret", "--required-key", "t")
	if code != 0 {
		t.Fatalf("encrypt: %d %s", code, stderr)
	}
	if ct[0] != 2 || ct[1] != 0x04 || ct[2] != 0x78 {
		t.Fatalf("header % x", ct[:3])
	}
	// Decrypt with the raw key file and the required pair reproduced.
	out, stderr, code := runCLI(t, ct, "decrypt", "--aes-key-file", rawFile, "--aes-namespace", "ns", "--aes-name", "k",
		"--context", "t=secret", "--verbose")
	if code != 0 || !bytes.Equal(out, pt) {
		t.Fatalf("decrypt: %d %s", code, stderr)
	}
	if !strings.Contains(stderr, "suite 0x0478") || !strings.Contains(stderr, `"a"="1"`) {
		t.Errorf("verbose output: %s", stderr)
	}
	// Without it: failure, exit 1.
	if _, stderr, code := runCLI(t, ct, "decrypt", "--aes-key-hex", hex.EncodeToString(key),
		"--aes-namespace", "ns", "--aes-name", "k"); code != 1 {
		t.Fatalf("decrypt without required EC: %d %s", code, stderr)
	}
	// The library wrapper reads it too.
	got, _, suite, err := official.Decrypt(context.Background(), official.DecryptInput{
		AES:     []official.RawAESKey{{Namespace: "ns", Name: "k", Key: key}},
		Context: map[string]string{"t": "secret"}, Ciphertext: ct,
	})
	if err != nil || !bytes.Equal(got, pt) || suite != 0x0478 {
		t.Fatalf("official.Decrypt: %v", err)
	}
}

func TestCLIRoundTripRSA(t *testing.T) {
	dir := t.TempDir()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(k)
	pub := filepath.Join(dir, "pub.pem")
	priv := filepath.Join(dir, "priv.pem")
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o600)
	os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)

	pt := []byte("rsa via the CLI")
	ct, stderr, code := runCLI(t, pt, "encrypt", "--rsa-public", pub, "--rsa-namespace", "ns", "--rsa-name", "rsa",
		"--rsa-padding", "oaep-sha512")
	if code != 0 {
		t.Fatalf("encrypt: %d %s", code, stderr)
	}
	out, stderr, code := runCLI(t, ct, "decrypt", "--rsa-private", priv, "--rsa-namespace", "ns", "--rsa-name", "rsa",
		"--rsa-padding", "oaep-sha512")
	if code != 0 || !bytes.Equal(out, pt) {
		t.Fatalf("decrypt: %d %s", code, stderr)
	}
}

func TestCLIUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"encrypt"},
		{"encrypt", "--aes-key-hex", "00"},
		{"encrypt", "--aes-key-hex", "zz", "--aes-namespace", "n", "--aes-name", "k"},
		{"encrypt", "--context", "novalue", "--aes-key-hex", strings.Repeat("00", 32), "--aes-namespace", "n", "--aes-name", "k"},
		{"decrypt", "--suite", "0x0478", "--aes-key-hex", strings.Repeat("00", 32), "--aes-namespace", "n", "--aes-name", "k"},
		{"encrypt", "extra-arg"},
	} {
		if _, _, code := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
