package phicrypt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/interop/esdk/jsesdk"
	"github.com/phicrypt/phicrypt/interop/esdk/official"
	"github.com/phicrypt/phicrypt/keyring"
)

const ns = "phicrypt-interop"

var ctx = context.Background()

type keys struct {
	aes     []byte
	rsaPriv *rsa.PrivateKey
	pubPEM  []byte
	privPEM []byte
}

var (
	keysOnce sync.Once
	testKeys keys
)

func getKeys(t *testing.T) keys {
	t.Helper()
	keysOnce.Do(func() {
		testKeys.aes = make([]byte, 32)
		rand.Read(testKeys.aes)
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		pkcs8, _ := x509.MarshalPKCS8PrivateKey(k)
		testKeys.rsaPriv = k
		testKeys.pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
		testKeys.privPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	})
	return testKeys
}

// keyConfig is one key configuration built for both implementations.
type keyConfig struct {
	name string
	ours envelope.Keyring
	aes  []official.RawAESKey
	rsa  []official.RawRSAKey
}

func keyrings(t *testing.T) []keyConfig {
	k := getKeys(t)
	aesKR, err := keyring.NewRawAES(ns, "aes-256", k.aes)
	if err != nil {
		t.Fatal(err)
	}
	oAES := official.RawAESKey{Namespace: ns, Name: "aes-256", Key: k.aes}
	var out []keyConfig
	out = append(out, keyConfig{"aes", aesKR, []official.RawAESKey{oAES}, nil})
	for _, p := range []struct {
		ours   keyring.RSAPadding
		theirs string
	}{
		{keyring.OAEPSHA256, official.PaddingOAEPSHA256},
		{keyring.OAEPSHA1, official.PaddingOAEPSHA1},
		{keyring.OAEPSHA512, official.PaddingOAEPSHA512},
		{keyring.PKCS1v15, official.PaddingPKCS1},
	} {
		kr, err := keyring.NewRawRSA(ns, "rsa-2048", p.ours, &k.rsaPriv.PublicKey, k.rsaPriv)
		if err != nil {
			t.Fatal(err)
		}
		o := official.RawRSAKey{Namespace: ns, Name: "rsa-2048", PublicPEM: k.pubPEM, PrivatePEM: k.privPEM, Padding: p.theirs}
		out = append(out, keyConfig{"rsa-" + p.theirs, kr, nil, []official.RawRSAKey{o}})
	}
	rsaKR, _ := keyring.NewRawRSA(ns, "rsa-2048", keyring.OAEPSHA256, &k.rsaPriv.PublicKey, k.rsaPriv)
	multi, err := keyring.NewMulti(aesKR, rsaKR)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, keyConfig{"aes+rsa", multi, []official.RawAESKey{oAES},
		[]official.RawRSAKey{{Namespace: ns, Name: "rsa-2048", PublicPEM: k.pubPEM, PrivatePEM: k.privPEM, Padding: official.PaddingOAEPSHA256}}})
	return out
}

func pt(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

var contexts = []map[string]string{
	{},
	{"purpose": "interop", "unicode-ключ": "значение 🩺", "a": ""},
}

// TestPhicryptToOfficial: the official Go ESDK decrypts what phicrypt writes.
func TestPhicryptToOfficial(t *testing.T) {
	for _, kr := range keyrings(t) {
		for _, suite := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
			for _, frame := range []int{1, 512, envelope.DefaultFrameLength} {
				for _, size := range []int{0, 1, 511, 512, 513, 4096, 70000} {
					if frame == 1 && size > 4096 {
						continue
					}
					for i, ec := range contexts {
						name := fmt.Sprintf("%s/%s/f%d/%d/ec%d", kr.name, suite, frame, size, i)
						c, err := envelope.New(kr.ours, envelope.WithSuite(suite), envelope.WithFrameLength(frame))
						if err != nil {
							t.Fatal(err)
						}
						p := pt(size)
						ct, err := c.Encrypt(ctx, p, ec)
						if err != nil {
							t.Fatalf("%s: encrypt: %v", name, err)
						}
						got, gotEC, gotSuite, err := official.Decrypt(ctx, official.DecryptInput{AES: kr.aes, RSA: kr.rsa, Context: ec, Ciphertext: ct})
						if err != nil {
							t.Fatalf("%s: official decrypt: %v", name, err)
						}
						if !bytes.Equal(got, p) || gotSuite != uint16(suite) {
							t.Fatalf("%s: official decrypt gave %d bytes, suite %04x", name, len(got), gotSuite)
						}
						for k, v := range ec {
							if gotEC[k] != v {
								t.Fatalf("%s: context %q = %q, want %q", name, k, gotEC[k], v)
							}
						}
					}
				}
			}
		}
	}
}

// TestOfficialToPhicrypt: phicrypt decrypts what the official Go ESDK writes,
// including legacy suites (under RequireEncryptAllowDecrypt) and its
// full-length final frames at exact multiples of the frame length.
func TestOfficialToPhicrypt(t *testing.T) {
	suites := []struct {
		id     uint16
		policy string
	}{
		{0, ""}, {0x0478, ""}, {0x0578, ""},
		{0x0014, official.PolicyForbidEncryptAllowDecrypt},
		{0x0078, official.PolicyForbidEncryptAllowDecrypt},
		{0x0178, official.PolicyForbidEncryptAllowDecrypt},
		{0x0214, official.PolicyForbidEncryptAllowDecrypt},
		{0x0378, official.PolicyForbidEncryptAllowDecrypt},
	}
	for _, kr := range keyrings(t) {
		for _, s := range suites {
			for _, frame := range []int64{1, 512, 4096} {
				for _, size := range []int{0, 1, 512, 1024, 5000} {
					if frame == 1 && size > 1024 {
						continue
					}
					for i, ec := range contexts {
						name := fmt.Sprintf("%s/%04x/f%d/%d/ec%d", kr.name, s.id, frame, size, i)
						p := pt(size)
						ct, err := official.Encrypt(ctx, official.EncryptInput{AES: kr.aes, RSA: kr.rsa, Suite: s.id, FrameLength: frame,
							Context: ec, CommitmentPolicy: s.policy, Plaintext: p})
						if err != nil {
							t.Fatalf("%s: official encrypt: %v", name, err)
						}
						c, err := envelope.New(kr.ours, envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt))
						if err != nil {
							t.Fatal(err)
						}
						got, h, err := c.Decrypt(ctx, ct, envelope.WithExpectedContext(ec))
						if err != nil {
							t.Fatalf("%s: decrypt: %v", name, err)
						}
						if !bytes.Equal(got, p) {
							t.Fatalf("%s: plaintext differs", name)
						}
						if s.id == 0 && h.Suite != envelope.AES256GCMHKDFSHA512CommitP384 {
							t.Fatalf("%s: official default suite %s, want 0x0578", name, h.Suite)
						}
						// The streaming reader agrees with one-shot.
						r, err := c.NewDecryptReader(ctx, bytes.NewReader(ct))
						if err != nil {
							t.Fatalf("%s: reader: %v", name, err)
						}
						var buf bytes.Buffer
						if _, err := buf.ReadFrom(r); err != nil || !bytes.Equal(buf.Bytes(), p) {
							t.Fatalf("%s: streaming decrypt: %v", name, err)
						}
					}
				}
			}
		}
	}
}

// TestRequiredContextInterop: the required-encryption-context materials
// manager, both directions.
func TestRequiredContextInterop(t *testing.T) {
	k := getKeys(t)
	aesKR, _ := keyring.NewRawAES(ns, "aes-256", k.aes)
	oAES := []official.RawAESKey{{Namespace: ns, Name: "aes-256", Key: k.aes}}
	ec := map[string]string{"tenant": "clinic-7", "record": "lab"}
	req := []string{"tenant"}
	cmm := envelope.NewRequiredContextMaterialsManager(envelope.NewDefaultMaterialsManager(aesKR), req...)
	c, err := envelope.NewWithMaterialsManager(cmm)
	if err != nil {
		t.Fatal(err)
	}
	p := pt(3000)
	for _, suite := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		ct, err := c.Encrypt(ctx, p, ec, envelope.WithSuite(suite))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(ct, []byte("clinic-7")) {
			t.Fatal("required pair stored in the header")
		}
		got, _, _, err := official.Decrypt(ctx, official.DecryptInput{AES: oAES, Context: maps.Clone(ec), RequiredContextKeys: req, Ciphertext: ct})
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%s: official decrypt of phicrypt required-context message: %v", suite, err)
		}
		if _, _, _, err := official.Decrypt(ctx, official.DecryptInput{AES: oAES, Ciphertext: ct}); err == nil {
			t.Fatalf("%s: official decrypted without the required pair", suite)
		}
		oct, err := official.Encrypt(ctx, official.EncryptInput{AES: oAES, Suite: uint16(suite), Context: ec, RequiredContextKeys: req, Plaintext: p})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err = c.Decrypt(ctx, oct, envelope.WithExpectedContext(map[string]string{"tenant": "clinic-7"}))
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%s: phicrypt decrypt of official required-context message: %v", suite, err)
		}
		if _, _, err := c.Decrypt(ctx, oct, envelope.WithExpectedContext(map[string]string{"tenant": "clinic-8"})); err == nil {
			t.Fatalf("%s: decrypted with a wrong required pair", suite)
		}
	}
}

// TestPhicryptVectorsWithOfficial decrypts every test of the manifest that
// `go run ./cmd/vectors encrypt` writes, with the official SDK.
func TestPhicryptVectorsWithOfficial(t *testing.T) {
	dir := os.Getenv("PHICRYPT_VECTORS_DIR")
	if dir == "" {
		dir = t.TempDir()
		cmd := exec.Command("go", "run", "./cmd/vectors", "encrypt", dir)
		cmd.Dir = filepath.Join("..", "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("vectors encrypt: %v\n%s", err, out)
		}
	}
	n, err := official.RunDecryptManifest(ctx, filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("official Go ESDK decrypted %d phicrypt vectors", n)
}

// TestJavaScriptInterop: the JS ESDK 5.0.2 decrypts phicrypt messages and
// phicrypt decrypts JS messages (with their empty final frames).
func TestJavaScriptInterop(t *testing.T) {
	if !jsesdk.Available() {
		t.Skip("JavaScript ESDK not installed: " + jsesdk.SetupHint)
	}
	k := getKeys(t)
	kr, _ := keyring.NewRawAES(ns, "aes-256", k.aes)
	c, _ := envelope.New(kr)
	hexKey := hex.EncodeToString(k.aes)
	ec := map[string]string{"purpose": "js", "ключ": "🩺"}
	for _, size := range []int{0, 1, 4096, 8192, 10000} {
		p := pt(size)
		ct, err := c.Encrypt(ctx, p, ec, envelope.WithFrameLength(4096))
		if err != nil {
			t.Fatal(err)
		}
		got, err := jsesdk.Decrypt(ctx, hexKey, ns, "aes-256", 0, ec, ct)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%d: JS decrypt of phicrypt: %v", size, err)
		}
		jct, err := jsesdk.Encrypt(ctx, hexKey, ns, "aes-256", 4096, ec, p)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err = c.Decrypt(ctx, jct, envelope.WithExpectedContext(ec))
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%d: phicrypt decrypt of JS: %v", size, err)
		}
	}
}
