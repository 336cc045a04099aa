package keyring

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/phicrypt/phicrypt/envelope"
)

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
	return 0, fmt.Errorf("keyring: unknown RSA padding %q", s)
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

// RawRSA wraps data keys with a local RSA key pair. A public key
// alone can encrypt; decrypting needs the private key.
//
//	provider ID:   namespace
//	provider info: key name
//	ciphertext:    RSA(data key) under the padding scheme; the context is not bound
type RawRSA struct {
	namespace, name string
	padding         RSAPadding
	pub             *rsa.PublicKey
	priv            *rsa.PrivateKey
}

// NewRawRSA returns a raw RSA keyring. Either key may be nil, not both.
func NewRawRSA(namespace, name string, padding RSAPadding, pub *rsa.PublicKey, priv *rsa.PrivateKey) (*RawRSA, error) {
	if err := checkRawNames(namespace, name); err != nil {
		return nil, err
	}
	if pub == nil && priv == nil {
		return nil, errors.New("keyring: a raw RSA keyring needs a public or a private key")
	}
	if padding > PKCS1v15 {
		return nil, fmt.Errorf("keyring: unknown RSA padding %d", padding)
	}
	return &RawRSA{namespace, name, padding, pub, priv}, nil
}

func (k *RawRSA) String() string { return "raw RSA keyring " + k.namespace + "/" + k.name }

// OnEncrypt implements envelope.Keyring.
func (k *RawRSA) OnEncrypt(_ context.Context, m *envelope.EncryptionMaterials) error {
	if k.pub == nil {
		return fmt.Errorf("keyring: %s has no public key to encrypt with", k)
	}
	generated := m.DataKey == nil
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
		if generated {
			clear(m.DataKey)
			m.DataKey = nil
		}
		return fmt.Errorf("keyring: %s: %w", k, err)
	}
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, envelope.EncryptedDataKey{ProviderID: k.namespace, ProviderInfo: []byte(k.name), Ciphertext: ct})
	return nil
}

// OnDecrypt implements envelope.Keyring.
func (k *RawRSA) OnDecrypt(_ context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	n := m.Suite.DataKeyLength()
	return unwrapFirst(k, m, edks, func(e envelope.EncryptedDataKey) ([]byte, error) {
		if e.ProviderID != k.namespace || string(e.ProviderInfo) != k.name {
			return nil, errNotWrappedHere
		}
		if k.priv == nil {
			return nil, errors.New("no private key")
		}
		var dk []byte
		var err error
		if k.padding == PKCS1v15 {
			dk, err = decryptPKCS1v15(k.priv, e.Ciphertext, n)
		} else {
			dk, err = rsa.DecryptOAEP(k.padding.hash(), nil, k.priv, e.Ciphertext, nil)
		}
		if err != nil || len(dk) != n {
			return nil, errors.New("did not decrypt (wrong key or padding)")
		}
		return dk, nil
	})
}

// decryptPKCS1v15 unwraps an n-byte data key with implicit rejection: a
// bad padding, or a valid padding of a key of another length, yields a
// random key in constant time rather than an error, so the failure shows
// only later, as the key commitment or header tag failing exactly as for a
// wrong key. A padding oracle (Bleichenbacher) learns nothing. Only a
// ciphertext of the wrong size, which is public, is an error.
func decryptPKCS1v15(priv *rsa.PrivateKey, ct []byte, n int) ([]byte, error) {
	if n == 0 {
		return nil, envelope.ErrUnsupportedSuite
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
