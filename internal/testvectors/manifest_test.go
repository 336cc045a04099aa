package testvectors

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// TestKeysManifestV1 reads a keys manifest of version 1, the form of the
// Python ESDK's published vector sets: key material as a list of lines
// joined by "line-separator" (absent: ""), and raw keys with no key-id,
// named by their manifest name. The awses-decrypt manifest is version 1
// (a plaintext per test).
func TestKeysManifestV1(t *testing.T) {
	dir := t.TempDir()
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	pemLines := strings.Split(strings.TrimSuffix(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "\n"), "\n")
	b64 := base64.StdEncoding.EncodeToString(aesKey)
	keys := map[string]any{
		"manifest": map[string]any{"type": "keys", "version": 1},
		"keys": map[string]any{
			// base64 split in two lines, no line-separator: joined with "".
			"aes-256": map[string]any{"encrypt": true, "decrypt": true, "algorithm": "aes", "type": "symmetric", "bits": 256,
				"encoding": "base64", "material": []string{b64[:20], b64[20:]}},
			"rsa-2048-private": map[string]any{"encrypt": true, "decrypt": true, "algorithm": "rsa", "type": "private", "bits": 2048,
				"encoding": "pem", "line-separator": "\n", "material": pemLines},
		},
	}
	writeTestJSON(t, filepath.Join(dir, "keys.json"), keys)

	const provider = "aws-raw-vectors-persistant"
	aesKR, err := keyring.NewRawAES(provider, "aes-256", aesKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKR, err := keyring.NewRawRSA(provider, "rsa-2048-private", keyring.OAEPSHA256, &rsaKey.PublicKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("keys manifest version 1")
	if err := os.WriteFile(filepath.Join(dir, "plaintext"), pt, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]any{}
	for name, tc := range map[string]struct {
		kr envelope.Keyring
		mk map[string]string
	}{
		"aes": {aesKR, map[string]string{"type": "raw", "key": "aes-256", "provider-id": provider, "encryption-algorithm": "aes"}},
		"rsa": {rsaKR, map[string]string{"type": "raw", "key": "rsa-2048-private", "provider-id": provider, "encryption-algorithm": "rsa",
			"padding-algorithm": "oaep-mgf1", "padding-hash": "sha256"}},
	} {
		c, err := envelope.New(tc.kr)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := c.Encrypt(context.Background(), pt, map[string]string{"k": "v"})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".ct"), ct, 0o644); err != nil {
			t.Fatal(err)
		}
		tests[name] = map[string]any{"plaintext": "file://plaintext", "ciphertext": "file://" + name + ".ct", "master-keys": []any{tc.mk}}
	}
	writeTestJSON(t, filepath.Join(dir, "manifest.json"), map[string]any{
		"manifest": map[string]any{"type": "awses-decrypt", "version": 1},
		"client":   map[string]any{"name": "aws/aws-encryption-sdk-python", "version": "1.3.8"},
		"keys":     "file://keys.json",
		"tests":    tests,
	})

	m, err := LoadDecryptManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.keys.Keys["rsa-2048-private"].Material; !strings.HasPrefix(got, "-----BEGIN PRIVATE KEY-----\nMII") {
		t.Errorf("PEM lines not joined with the line-separator: %.40q", got)
	}
	rs := m.Run(context.Background(), Options{})
	if p, f, s := Summary(rs); p != 2 || f != 0 || s != 0 {
		for _, r := range rs {
			t.Errorf("%s: status %d: %v", r.Name, r.Status, r.Err)
		}
		t.Fatalf("%d passed, %d failed, %d skipped, want 2 passed", p, f, s)
	}
}

// TestKeyMaterialForms: the forms "material" takes, and the ones refused.
func TestKeyMaterialForms(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
		wantErr          bool
	}{
		{"string", `{"material":"abc"}`, "abc", false},
		{"list, no separator", `{"material":["ab","c"]}`, "abc", false},
		{"list, separator", `{"material":["a","b"],"line-separator":"\n"}`, "a\nb", false},
		{"absent", `{"type":"aws-kms"}`, "", false},
		{"null", `{"material":null}`, "", false},
		{"number", `{"material":7}`, "", true},
		{"list of numbers", `{"material":[1,2]}`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k Key
			err := json.Unmarshal([]byte(tc.json), &k)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if k.Material != tc.want {
				t.Errorf("material = %q, want %q", k.Material, tc.want)
			}
		})
	}
}

func writeTestJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
