package official

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// masterKeyJSON is a master key of a manifest test.
type masterKeyJSON struct {
	Type                string `json:"type"`
	Key                 string `json:"key"`
	ProviderID          string `json:"provider-id"`
	EncryptionAlgorithm string `json:"encryption-algorithm"`
	PaddingAlgorithm    string `json:"padding-algorithm"`
	PaddingHash         string `json:"padding-hash"`
}

// RunDecryptManifest decrypts every raw-key test of an awses-decrypt
// manifest with the official SDK and returns how many passed; any failure
// is an error naming every failed test.
func RunDecryptManifest(ctx context.Context, path string) (int, error) {
	dir := filepath.Dir(path)
	read := func(uri string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, strings.TrimPrefix(uri, "file://")))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var m struct {
		Keys  string `json:"keys"`
		Tests map[string]struct {
			Ciphertext string          `json:"ciphertext"`
			MasterKeys []masterKeyJSON `json:"master-keys"`
			Result     struct {
				Output *struct {
					Plaintext string `json:"plaintext"`
				} `json:"output"`
				Error *json.RawMessage `json:"error"`
			} `json:"result"`
			EncryptionContext map[string]string `json:"encryption-context"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, err
	}
	kraw, err := read(m.Keys)
	if err != nil {
		return 0, err
	}
	var keys struct {
		Keys map[string]struct {
			KeyID    string `json:"key-id"`
			Encoding string `json:"encoding"`
			Material string `json:"material"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(kraw, &keys); err != nil {
		return 0, err
	}
	passed := 0
	var failures []error
	for name, t := range m.Tests {
		in := DecryptInput{Context: t.EncryptionContext}
		for _, mk := range t.MasterKeys {
			k, ok := keys.Keys[mk.Key]
			if !ok || mk.Type != "raw" {
				failures = append(failures, fmt.Errorf("%s: unsupported master key %q", name, mk.Key))
				continue
			}
			switch mk.EncryptionAlgorithm {
			case "aes":
				b, err := base64.StdEncoding.DecodeString(k.Material)
				if err != nil {
					return 0, err
				}
				in.AES = append(in.AES, RawAESKey{Namespace: mk.ProviderID, Name: k.KeyID, Key: b})
			case "rsa":
				padding := PaddingPKCS1
				if mk.PaddingAlgorithm == "oaep-mgf1" {
					padding = "oaep-" + mk.PaddingHash
				}
				in.RSA = append(in.RSA, RawRSAKey{Namespace: mk.ProviderID, Name: k.KeyID, PrivatePEM: []byte(k.Material), Padding: padding})
			}
		}
		ct, err := read(t.Ciphertext)
		if err != nil {
			return 0, err
		}
		in.Ciphertext = ct
		got, _, _, err := Decrypt(ctx, in)
		switch {
		case t.Result.Error != nil && err == nil:
			failures = append(failures, fmt.Errorf("%s: decrypted a message that must fail", name))
		case t.Result.Error != nil:
			passed++
		case err != nil:
			failures = append(failures, fmt.Errorf("%s: %v", name, err))
		default:
			want, err := read(t.Result.Output.Plaintext)
			if err != nil {
				return 0, err
			}
			if !bytes.Equal(got, want) {
				failures = append(failures, fmt.Errorf("%s: plaintext differs", name))
				continue
			}
			passed++
		}
	}
	return passed, errors.Join(failures...)
}
