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
	DefaultMRKRegion    string `json:"default-mrk-region"`
	DiscoveryFilter     *struct {
		Partition  string   `json:"partition"`
		AccountIDs []string `json:"account-ids"`
	} `json:"aws-kms-discovery-filter"`
}

// RunDecryptManifest decrypts every raw-key test of an awses-decrypt
// manifest with the official SDK and returns how many passed; any failure
// is an error naming every failed test.
func RunDecryptManifest(ctx context.Context, path string) (int, error) {
	return RunDecryptManifestKMS(ctx, path, "")
}

// RunDecryptManifestKMS is RunDecryptManifest with AWS KMS master keys too
// (aws-kms, aws-kms-mrk-aware, aws-kms-mrk-aware-discovery), through
// clients of kmsEndpoint in the region of each key's ARN (the discovery
// keyring: its default-mrk-region). With an empty kmsEndpoint, tests with
// AWS KMS master keys fail.
func RunDecryptManifestKMS(ctx context.Context, path, kmsEndpoint string) (int, error) {
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
			Type     string `json:"type"`
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
			if kmsEndpoint != "" && (mk.Type == "aws-kms-mrk-aware-discovery" || ok && k.Type == "aws-kms") {
				in.KMS = append(in.KMS, manifestKMSKey(mk, k.KeyID, kmsEndpoint))
				continue
			}
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

// manifestKMSKey is the KMS keyring of an AWS KMS master key.
func manifestKMSKey(mk masterKeyJSON, arn, endpoint string) KMSKey {
	k := KMSKey{KeyID: arn, Endpoint: endpoint}
	if parts := strings.Split(arn, ":"); len(parts) == 6 {
		k.Region = parts[3]
	}
	switch mk.Type {
	case "aws-kms-mrk-aware":
		k.Kind = KMSMRK
	case "aws-kms-mrk-aware-discovery":
		k.Kind, k.KeyID, k.Region = KMSMRKDiscovery, "", mk.DefaultMRKRegion
		if f := mk.DiscoveryFilter; f != nil {
			k.Filter = &KMSDiscoveryFilter{Partition: f.Partition, Accounts: f.AccountIDs}
		}
	}
	return k
}
