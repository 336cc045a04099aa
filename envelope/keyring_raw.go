package envelope

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// RawAESKeyring wraps data keys with a local AES-GCM key.
//
// Its encrypted data keys are
//
//	provider ID:   namespace
//	provider info: key name | tag length in bits (4) = 128 | IV length (4) = 12 | IV (12)
//	ciphertext:    AES-GCM(wrapping key, IV, data key, AAD = serialized context) | tag (16)
type RawAESKeyring struct {
	namespace, name string
	aead            cipher.AEAD
}

// NewRawAESKeyring returns a keyring over a 16, 24 or 32-byte wrapping key.
// The keyring keeps only the expanded key; the caller may zero key after.
func NewRawAESKeyring(namespace, name string, key []byte) (*RawAESKeyring, error) {
	if err := checkRawNames(namespace, name); err != nil {
		return nil, err
	}
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("envelope: raw AES wrapping key of %d bytes, want 16, 24 or 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &RawAESKeyring{namespace: namespace, name: name, aead: aead}, nil
}

func checkRawNames(namespace, name string) error {
	if namespace == "" || name == "" {
		return errors.New("envelope: a raw keyring needs a key namespace and a key name")
	}
	if strings.HasPrefix(namespace, "aws-kms") {
		return fmt.Errorf("envelope: raw key namespace %q is reserved for AWS KMS", namespace)
	}
	return nil
}

func (k *RawAESKeyring) String() string { return "raw AES keyring " + k.namespace + "/" + k.name }

// OnEncrypt implements Keyring.
func (k *RawAESKeyring) OnEncrypt(_ context.Context, m *EncryptionMaterials) error {
	if err := generateDataKey(m); err != nil {
		return err
	}
	aad, err := serializeContext(nil, m.EncryptionContext)
	if err != nil {
		return err
	}
	info := make([]byte, 0, len(k.name)+8+ivLen)
	info = append(info, k.name...)
	info = binary.BigEndian.AppendUint32(info, tagLen*8)
	info = binary.BigEndian.AppendUint32(info, ivLen)
	iv := info[len(info) : len(info)+ivLen]
	if _, err := rand.Read(iv); err != nil {
		return err
	}
	info = info[:len(info)+ivLen]
	ct := k.aead.Seal(nil, iv, m.DataKey, aad)
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, EncryptedDataKey{k.namespace, info, ct})
	return nil
}

// OnDecrypt implements Keyring.
func (k *RawAESKeyring) OnDecrypt(_ context.Context, m *DecryptionMaterials, edks []EncryptedDataKey) error {
	aad, err := serializeContext(nil, m.EncryptionContext)
	if err != nil {
		return err
	}
	var errs []error
	for i, e := range edks {
		info := e.ProviderInfo
		if e.ProviderID != k.namespace || len(info) != len(k.name)+8+ivLen || !bytes.HasPrefix(info, []byte(k.name)) {
			continue
		}
		rest := info[len(k.name):]
		if binary.BigEndian.Uint32(rest) != tagLen*8 || binary.BigEndian.Uint32(rest[4:]) != ivLen {
			errs = append(errs, fmt.Errorf("%s: data key %d: unsupported tag or IV length", k, i))
			continue
		}
		want := m.Suite.DataKeyLength()
		if len(e.Ciphertext) != want+tagLen {
			errs = append(errs, fmt.Errorf("%s: data key %d: %d-byte ciphertext, want %d", k, i, len(e.Ciphertext), want+tagLen))
			continue
		}
		dk, err := k.aead.Open(nil, rest[8:], e.Ciphertext, aad)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: data key %d did not decrypt (wrong wrapping key or encryption context)", k, i))
			continue
		}
		m.DataKey = dk
		return nil
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no data key wrapped by this key", k))
	}
	return &NoDecryptionKeyError{EncryptedDataKeys: len(edks), Errs: errs}
}

// generateDataKey fills in m.DataKey if no keyring did yet.
func generateDataKey(m *EncryptionMaterials) error {
	if m.DataKey != nil {
		return nil
	}
	n := m.Suite.DataKeyLength()
	if n == 0 {
		return fmt.Errorf("envelope: suite %s: %w", m.Suite, ErrUnsupportedSuite)
	}
	m.DataKey = make([]byte, n)
	_, err := rand.Read(m.DataKey)
	return err
}

// RSAPadding is a raw RSA keyring's padding scheme. OAEP uses the same
// hash for MGF1 and an empty label.
type RSAPadding uint8

const (
	OAEPSHA256 RSAPadding = iota // the recommended scheme
	OAEPSHA1
	OAEPSHA384
	OAEPSHA512
	PKCS1v15 // legacy; for reading old messages and writing to old readers; unwrapped with implicit rejection
)

func (p RSAPadding) String() string {
	switch p {
	case OAEPSHA1:
		return "OAEP_SHA1_MGF1"
	case OAEPSHA256:
		return "OAEP_SHA256_MGF1"
	case OAEPSHA384:
		return "OAEP_SHA384_MGF1"
	case OAEPSHA512:
		return "OAEP_SHA512_MGF1"
	case PKCS1v15:
		return "PKCS1"
	}
	return fmt.Sprintf("RSAPadding(%d)", uint8(p))
}

// ParseRSAPadding accepts the MPL names ("OAEP_SHA256_MGF1", "PKCS1") and
// the short forms "oaep-sha256" and "pkcs1".
func ParseRSAPadding(s string) (RSAPadding, error) {
	for p := OAEPSHA256; p <= PKCS1v15; p++ {
		short := strings.ToLower(strings.TrimSuffix(strings.ReplaceAll(p.String(), "_", "-"), "-MGF1"))
		if strings.EqualFold(s, p.String()) || strings.EqualFold(s, short) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("envelope: unknown RSA padding %q", s)
}

func (p RSAPadding) hash() hash.Hash {
	switch p {
	case OAEPSHA1:
		return sha1.New()
	case OAEPSHA384:
		return sha512.New384()
	case OAEPSHA512:
		return sha512.New()
	}
	return sha256.New()
}

// RawRSAKeyring wraps data keys with a local RSA key pair. A public key
// alone can encrypt; decrypting needs the private key.
//
//	provider ID:   namespace
//	provider info: key name
//	ciphertext:    RSA(data key) under the padding scheme; the context is not bound
type RawRSAKeyring struct {
	namespace, name string
	padding         RSAPadding
	pub             *rsa.PublicKey
	priv            *rsa.PrivateKey
}

// NewRawRSAKeyring returns a raw RSA keyring. Either key may be nil, not both.
func NewRawRSAKeyring(namespace, name string, padding RSAPadding, pub *rsa.PublicKey, priv *rsa.PrivateKey) (*RawRSAKeyring, error) {
	if err := checkRawNames(namespace, name); err != nil {
		return nil, err
	}
	if pub == nil && priv == nil {
		return nil, errors.New("envelope: a raw RSA keyring needs a public or a private key")
	}
	if padding > PKCS1v15 {
		return nil, fmt.Errorf("envelope: unknown RSA padding %d", padding)
	}
	return &RawRSAKeyring{namespace, name, padding, pub, priv}, nil
}

func (k *RawRSAKeyring) String() string { return "raw RSA keyring " + k.namespace + "/" + k.name }

// OnEncrypt implements Keyring.
func (k *RawRSAKeyring) OnEncrypt(_ context.Context, m *EncryptionMaterials) error {
	if k.pub == nil {
		return fmt.Errorf("envelope: %s has no public key to encrypt with", k)
	}
	if err := generateDataKey(m); err != nil {
		return err
	}
	var ct []byte
	var err error
	if k.padding == PKCS1v15 {
		//lint:ignore SA1019 the ESDK specification lists PKCS #1 v1.5; it is never the default.
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, k.pub, m.DataKey)
	} else {
		ct, err = rsa.EncryptOAEP(k.padding.hash(), rand.Reader, k.pub, m.DataKey, nil)
	}
	if err != nil {
		return fmt.Errorf("envelope: %s: %w", k, err)
	}
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, EncryptedDataKey{k.namespace, []byte(k.name), ct})
	return nil
}

// OnDecrypt implements Keyring.
func (k *RawRSAKeyring) OnDecrypt(_ context.Context, m *DecryptionMaterials, edks []EncryptedDataKey) error {
	var errs []error
	for i, e := range edks {
		if e.ProviderID != k.namespace || string(e.ProviderInfo) != k.name {
			continue
		}
		if k.priv == nil {
			errs = append(errs, fmt.Errorf("%s: data key %d: no private key", k, i))
			continue
		}
		var dk []byte
		var err error
		if k.padding == PKCS1v15 {
			dk, err = decryptPKCS1v15(k.priv, e.Ciphertext, m.Suite.DataKeyLength())
		} else {
			dk, err = rsa.DecryptOAEP(k.padding.hash(), nil, k.priv, e.Ciphertext, nil)
		}
		if err != nil || len(dk) != m.Suite.DataKeyLength() {
			errs = append(errs, fmt.Errorf("%s: data key %d did not decrypt (wrong key or padding)", k, i))
			continue
		}
		m.DataKey = dk
		return nil
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no data key wrapped by this key", k))
	}
	return &NoDecryptionKeyError{EncryptedDataKeys: len(edks), Errs: errs}
}

// decryptPKCS1v15 unwraps an n-byte data key with implicit rejection: a
// bad padding, or a valid padding of a key of another length, yields a
// random key in constant time rather than an error, so the failure shows
// only later, as the key commitment or header tag failing exactly as for a
// wrong key. A padding oracle (Bleichenbacher) learns nothing. Only a
// ciphertext of the wrong size, which is public, is an error.
func decryptPKCS1v15(priv *rsa.PrivateKey, ct []byte, n int) ([]byte, error) {
	if n == 0 {
		return nil, ErrUnsupportedSuite
	}
	dk := make([]byte, n)
	if _, err := rand.Read(dk); err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the ESDK specification lists PKCS #1 v1.5; it is never the default.
	if err := rsa.DecryptPKCS1v15SessionKey(nil, priv, ct, dk); err != nil {
		return nil, err
	}
	return dk, nil
}

// ParseRSAPublicKeyPEM parses a PEM "PUBLIC KEY" (X.509 SubjectPublicKeyInfo)
// or "RSA PUBLIC KEY" (PKCS #1) block.
func ParseRSAPublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("envelope: no PEM block in RSA public key")
	}
	if b.Type == "RSA PUBLIC KEY" {
		return x509.ParsePKCS1PublicKey(b.Bytes)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("envelope: RSA public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("envelope: public key is not RSA")
	}
	return pub, nil
}

// ParseRSAPrivateKeyPEM parses a PEM "PRIVATE KEY" (PKCS #8) or
// "RSA PRIVATE KEY" (PKCS #1) block.
func ParseRSAPrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("envelope: no PEM block in RSA private key")
	}
	if b.Type == "RSA PRIVATE KEY" {
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, errors.New("envelope: RSA private key: not PKCS #8 or PKCS #1")
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("envelope: private key is not RSA")
	}
	return priv, nil
}

// MultiKeyring combines keyrings: the generator makes the data key and
// every child wraps it too; on decrypt the first keyring that can decrypt
// a data key wins.
type MultiKeyring struct {
	generator Keyring
	children  []Keyring
}

// NewMultiKeyring returns a multi-keyring. generator may be nil for a
// keyring that only decrypts, or encrypts data keys generated elsewhere.
func NewMultiKeyring(generator Keyring, children ...Keyring) (*MultiKeyring, error) {
	if generator == nil && len(children) == 0 {
		return nil, errors.New("envelope: a multi-keyring needs a generator or children")
	}
	return &MultiKeyring{generator, children}, nil
}

// OnEncrypt implements Keyring.
func (k *MultiKeyring) OnEncrypt(ctx context.Context, m *EncryptionMaterials) error {
	if k.generator != nil {
		if err := k.generator.OnEncrypt(ctx, m); err != nil {
			return err
		}
	} else if m.DataKey == nil {
		return errors.New("envelope: multi-keyring without a generator has no data key to wrap")
	}
	for _, c := range k.children {
		if err := c.OnEncrypt(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// OnDecrypt implements Keyring.
func (k *MultiKeyring) OnDecrypt(ctx context.Context, m *DecryptionMaterials, edks []EncryptedDataKey) error {
	all := &NoDecryptionKeyError{EncryptedDataKeys: len(edks)}
	for _, kr := range append([]Keyring{k.generator}, k.children...) {
		if kr == nil {
			continue
		}
		err := kr.OnDecrypt(ctx, m, edks)
		if err == nil {
			return nil
		}
		var nk *NoDecryptionKeyError
		if errors.As(err, &nk) {
			all.Errs = append(all.Errs, nk.Errs...)
		} else {
			all.Errs = append(all.Errs, err)
		}
	}
	return all
}
