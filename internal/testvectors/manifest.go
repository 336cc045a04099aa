// Package testvectors reads and writes the AWS Crypto Tools test-vector
// manifests (awses-decrypt versions 1 to 4, keys versions 1 to 4) and runs
// their tests against phicrypt, as the official SDKs' vector runners do.
// A key's material is a string, or (keys version 1, as in the Python
// ESDK's published sets) a list of lines joined by its line-separator.
package testvectors

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DecryptManifest is an awses-decrypt manifest.
type DecryptManifest struct {
	Manifest struct {
		Type    string `json:"type"`
		Version int    `json:"version"`
	} `json:"manifest"`
	Client struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"client"`
	Keys  string                  `json:"keys"`
	Tests map[string]*DecryptTest `json:"tests"`

	dir  string
	keys *KeysManifest
}

// DecryptTest is one test of a decrypt manifest.
type DecryptTest struct {
	Description       string            `json:"description,omitempty"`
	Ciphertext        string            `json:"ciphertext"`
	Plaintext         string            `json:"plaintext,omitempty"` // version 1
	MasterKeys        []MasterKey       `json:"master-keys"`
	Result            *Outcome          `json:"result,omitempty"`
	DecryptionMethod  string            `json:"decryption-method,omitempty"` // "streaming-unsigned-only"
	CMM               string            `json:"cmm,omitempty"`               // "Default" or "RequiredEncryptionContext"
	EncryptionContext map[string]string `json:"encryption-context,omitempty"`
}

// Outcome is what a test expects: a plaintext or an error.
type Outcome struct {
	Output *struct {
		Plaintext string `json:"plaintext"`
	} `json:"output,omitempty"`
	Error *struct {
		Description string `json:"error-description"`
	} `json:"error,omitempty"`
}

// MasterKey describes one master key (keyring) of a test.
type MasterKey struct {
	Type                string `json:"type"` // raw, aws-kms, aws-kms-mrk-aware, aws-kms-mrk-aware-discovery
	Key                 string `json:"key,omitempty"`
	KeyID               string `json:"key-id,omitempty"`
	ProviderID          string `json:"provider-id,omitempty"`
	EncryptionAlgorithm string `json:"encryption-algorithm,omitempty"` // aes or rsa
	PaddingAlgorithm    string `json:"padding-algorithm,omitempty"`    // pkcs1 or oaep-mgf1
	PaddingHash         string `json:"padding-hash,omitempty"`         // sha1, sha256, sha384, sha512
	// DefaultMRKRegion is the region of an aws-kms-mrk-aware-discovery
	// master key's client; such a master key names no key.
	DefaultMRKRegion string           `json:"default-mrk-region,omitempty"`
	DiscoveryFilter  *DiscoveryFilter `json:"aws-kms-discovery-filter,omitempty"`
}

// DiscoveryFilter limits an aws-kms-mrk-aware-discovery master key to the
// keys of some accounts in one partition.
type DiscoveryFilter struct {
	Partition  string   `json:"partition"`
	AccountIDs []string `json:"account-ids"`
}

// KeysManifest is a keys manifest.
type KeysManifest struct {
	Manifest struct {
		Type    string `json:"type"`
		Version int    `json:"version"`
	} `json:"manifest"`
	Keys map[string]*Key `json:"keys"`
}

// Key is one key of a keys manifest.
type Key struct {
	Encrypt   bool   `json:"encrypt"`
	Decrypt   bool   `json:"decrypt"`
	Type      string `json:"type"` // symmetric, private, public, aws-kms
	KeyID     string `json:"key-id"`
	Algorithm string `json:"algorithm,omitempty"`
	Bits      int    `json:"bits,omitempty"`
	Encoding  string `json:"encoding,omitempty"` // base64 or pem
	Material  string `json:"material,omitempty"`
}

// UnmarshalJSON reads a key whose material is a string or a list of
// strings; a list is joined with the key's "line-separator" (default "").
func (k *Key) UnmarshalJSON(b []byte) error {
	type plain Key
	var v struct {
		*plain
		Material      json.RawMessage `json:"material"`
		LineSeparator string          `json:"line-separator"`
	}
	v.plain = (*plain)(k)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	k.Material = ""
	switch m := bytes.TrimSpace(v.Material); {
	case len(m) == 0 || string(m) == "null":
	case m[0] == '[':
		var lines []string
		if err := json.Unmarshal(m, &lines); err != nil {
			return fmt.Errorf("key material: %w", err)
		}
		k.Material = strings.Join(lines, v.LineSeparator)
	default:
		if err := json.Unmarshal(m, &k.Material); err != nil {
			return fmt.Errorf("key material: %w", err)
		}
	}
	return nil
}

// Bytes returns the key material: decoded base64, or the PEM text.
func (k *Key) Bytes() ([]byte, error) {
	if k.Encoding == "base64" {
		return base64.StdEncoding.DecodeString(k.Material)
	}
	return []byte(k.Material), nil
}

// LoadDecryptManifest reads the manifest at path (a file, or a directory
// holding manifest.json) and its keys manifest.
func LoadDecryptManifest(path string) (*DecryptManifest, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "manifest.json")
	}
	m := &DecryptManifest{dir: filepath.Dir(path)}
	if err := readJSON(path, m); err != nil {
		return nil, err
	}
	if m.Manifest.Type != "awses-decrypt" || m.Manifest.Version < 1 || m.Manifest.Version > 4 {
		return nil, fmt.Errorf("%s: manifest %s version %d, want awses-decrypt 1..4", path, m.Manifest.Type, m.Manifest.Version)
	}
	kp, err := m.resolve(m.Keys)
	if err != nil {
		return nil, err
	}
	m.keys = &KeysManifest{}
	if err := readJSON(kp, m.keys); err != nil {
		return nil, err
	}
	if m.keys.Manifest.Type != "keys" || m.keys.Manifest.Version < 1 || m.keys.Manifest.Version > 4 {
		return nil, fmt.Errorf("%s: keys manifest %s version %d, want keys 1..4", kp, m.keys.Manifest.Type, m.keys.Manifest.Version)
	}
	return m, nil
}

// resolve turns a file:// URI into a path relative to the manifest.
func (m *DecryptManifest) resolve(uri string) (string, error) {
	p, ok := strings.CutPrefix(uri, "file://")
	if !ok {
		return "", fmt.Errorf("unsupported URI %q", uri)
	}
	if filepath.IsAbs(p) {
		return p, nil
	}
	return filepath.Join(m.dir, filepath.FromSlash(p)), nil
}

func (m *DecryptManifest) read(uri string) ([]byte, error) {
	p, err := m.resolve(uri)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
