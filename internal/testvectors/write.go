package testvectors

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// Namespace is the raw key provider ID of the official vectors (sic).
const Namespace = "aws-raw-vectors-persistant"

// WriteEncrypted writes to dir a version 2 awses-decrypt manifest of
// messages written by phicrypt, with its keys manifest (version 3), for
// other SDKs to decrypt: every writable suite, frame lengths 1, 512, 4096
// and 65536, an empty and a multi-pair context, plaintexts of 0 B to 1 MiB,
// one key and two. Frame length 1 skips the 1 MiB plaintext (a million
// frames). It returns the number of tests written.
func WriteEncrypted(ctx context.Context, dir, clientVersion string) (int, error) {
	for _, sub := range []string{"ciphertexts", "plaintexts"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return 0, err
		}
	}
	aesKey, rsaKey, err := writeRawKeys(dir)
	if err != nil {
		return 0, err
	}
	keySets, err := rawKeySets(aesKey, rsaKey)
	if err != nil {
		return 0, err
	}
	plaintexts := []plaintext{{"empty", 0}, {"one", 1}, {"small", 10240}, {"large", 1 << 20}}
	if err := writePlaintexts(dir, plaintexts); err != nil {
		return 0, err
	}
	contexts := map[string]map[string]string{
		"ec0": {},
		"ec3": {"purpose": "interop", "record-type": "lab-result", "unicode-ключ": "значение 🩺"},
	}

	m := &DecryptManifest{Keys: "file://keys.json", Tests: map[string]*DecryptTest{}, dir: dir}
	m.Manifest.Type, m.Manifest.Version = "awses-decrypt", 2
	m.Client.Name, m.Client.Version = "phicrypt/phicrypt", clientVersion
	if err := m.addRaw(ctx, plaintexts, contexts, keySets); err != nil {
		return 0, err
	}
	if err := addNegative(m); err != nil {
		return 0, err
	}
	if err := writeJSON(filepath.Join(dir, "manifest.json"), m); err != nil {
		return 0, err
	}
	return len(m.Tests), nil
}

// keySet is a set of keys messages are encrypted to: as a keyring, and as
// the manifest's master keys that decrypt them.
type keySet struct {
	name string
	kr   envelope.Keyring
	mks  []MasterKey
}

// plaintext is a random plaintext of size bytes in plaintexts/<name>.
type plaintext struct {
	name string
	size int
}

// writeRawKeys makes a random AES-256 key and an RSA-2048 key and writes
// them to dir/keys.json, a version 3 keys manifest.
func writeRawKeys(dir string) ([]byte, *rsa.PrivateKey, error) {
	aesKey := make([]byte, 32)
	if _, err := rand.Read(aesKey); err != nil {
		return nil, nil, err
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		return nil, nil, err
	}
	keys := &KeysManifest{}
	keys.Manifest.Type, keys.Manifest.Version = "keys", 3
	keys.Keys = map[string]*Key{
		"aes-256": {Encrypt: true, Decrypt: true, Type: "symmetric", KeyID: "aes-256", Algorithm: "aes", Bits: 256,
			Encoding: "base64", Material: base64.StdEncoding.EncodeToString(aesKey)},
		"rsa-2048-private": {Encrypt: true, Decrypt: true, Type: "private", KeyID: "rsa-2048-private", Algorithm: "rsa", Bits: 2048,
			Encoding: "pem", Material: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))},
	}
	if err := writeJSON(filepath.Join(dir, "keys.json"), keys); err != nil {
		return nil, nil, err
	}
	return aesKey, rsaKey, nil
}

// rawKeySets are the key sets of the raw keys writeRawKeys wrote: the AES
// key alone, and the AES key with the RSA key (OAEP SHA-256).
func rawKeySets(aesKey []byte, rsaKey *rsa.PrivateKey) ([]keySet, error) {
	aesMK := MasterKey{Type: "raw", Key: "aes-256", ProviderID: Namespace, EncryptionAlgorithm: "aes"}
	rsaMK := MasterKey{Type: "raw", Key: "rsa-2048-private", ProviderID: Namespace, EncryptionAlgorithm: "rsa",
		PaddingAlgorithm: "oaep-mgf1", PaddingHash: "sha256"}
	aesKR, err := keyring.NewRawAES(Namespace, "aes-256", aesKey)
	if err != nil {
		return nil, err
	}
	rsaKR, err := keyring.NewRawRSA(Namespace, "rsa-2048-private", keyring.OAEPSHA256, &rsaKey.PublicKey, nil)
	if err != nil {
		return nil, err
	}
	twoKR, err := keyring.NewMulti(aesKR, rsaKR)
	if err != nil {
		return nil, err
	}
	return []keySet{
		{"aes", aesKR, []MasterKey{aesMK}},
		{"aes+rsa", twoKR, []MasterKey{aesMK, rsaMK}},
	}, nil
}

// writePlaintexts writes each plaintext's random bytes to dir/plaintexts.
func writePlaintexts(dir string, plaintexts []plaintext) error {
	for _, p := range plaintexts {
		b := make([]byte, p.size)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "plaintexts", p.name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// addRaw adds a test for every writable suite, frame length, context,
// plaintext and key set, but none of frame length 1 with a plaintext over
// 64 KiB.
func (m *DecryptManifest) addRaw(ctx context.Context, plaintexts []plaintext, contexts map[string]map[string]string, keySets []keySet) error {
	for _, suite := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		for _, frame := range []int{1, 512, 4096, 65536} {
			for ecName, ec := range contexts {
				for _, p := range plaintexts {
					if frame == 1 && p.size > 1<<16 {
						continue
					}
					pt, err := os.ReadFile(filepath.Join(m.dir, "plaintexts", p.name))
					if err != nil {
						return err
					}
					for _, ks := range keySets {
						name := fmt.Sprintf("phicrypt-%04x-f%d-%s-%s-%s", uint16(suite), frame, ecName, p.name, ks.name)
						desc := fmt.Sprintf("phicrypt suite %s, frame %d, %d-pair context, %d-byte plaintext, keys %s", suite, frame, len(ec), p.size, ks.name)
						if err := m.addEncrypted(ctx, name, desc, ks, pt, p.name, ec, envelope.WithSuite(suite), envelope.WithFrameLength(frame)); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

// addEncrypted encrypts pt (plaintexts/<ptName>) with context ec to ks.kr
// with a client of opts, and adds test name that decrypts it with ks.mks.
func (m *DecryptManifest) addEncrypted(ctx context.Context, name, desc string, ks keySet, pt []byte, ptName string, ec map[string]string, opts ...envelope.ClientOption) error {
	c, err := envelope.New(ks.kr, opts...)
	if err != nil {
		return err
	}
	ct, err := c.Encrypt(ctx, pt, ec)
	if err != nil {
		return err
	}
	return m.addTest(name, desc, ct, ks.mks, ptName)
}

// addNegative adds tests that must fail, each a changed copy of a valid
// multi-frame message: a flipped body bit, a flipped commitment bit, a
// missing final frame, and trailing data.
func addNegative(m *DecryptManifest) error {
	const base = "phicrypt-0478-f512-ec3-small-aes"
	ct, err := os.ReadFile(filepath.Join(m.dir, "ciphertexts", base))
	if err != nil {
		return err
	}
	h, err := envelope.ParseHeader(bytes.NewReader(ct))
	if err != nil {
		return err
	}
	flip := func(i int) []byte { c := bytes.Clone(ct); c[i] ^= 0x01; return c }
	cases := []struct {
		name, why string
		ct        []byte
	}{
		{"bitflip-body", "a bit of the first frame's ciphertext flipped", flip(h.Len() + 4 + 12 + 3)},
		{"bitflip-commitment", "a bit of the key commitment flipped", flip(h.Len() - 16 - 1)},
		{"truncated", "the final frame removed", ct[:len(ct)-(512+40)]}, // 10240 = 20 full frames: the final one is full
		{"trailing", "a byte after the end of the message", append(bytes.Clone(ct), 0)},
	}
	for _, c := range cases {
		if err := m.addTest("phicrypt-negative-"+c.name, c.why, c.ct, m.Tests[base].MasterKeys, ""); err != nil {
			return err
		}
	}
	return nil
}
