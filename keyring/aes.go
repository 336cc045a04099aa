package keyring

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/wire"
)

// AES-GCM parameters of the raw AES keyring's encrypted data keys.
const (
	tagLen = 16
	ivLen  = 12
)

// RawAES wraps data keys with a local AES-GCM key.
//
// Its encrypted data keys are
//
//	provider ID:   namespace
//	provider info: key name | tag length in bits (4) = 128 | IV length (4) = 12 | IV (12)
//	ciphertext:    AES-GCM(wrapping key, IV, data key, AAD = serialized context) | tag (16)
type RawAES struct {
	namespace, name string
	aead            cipher.AEAD
}

// NewRawAES returns a keyring over a 16, 24 or 32-byte wrapping key.
// The keyring keeps only the expanded key; the caller may zero key after.
func NewRawAES(namespace, name string, key []byte) (*RawAES, error) {
	if err := checkRawNames(namespace, name); err != nil {
		return nil, err
	}
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("keyring: raw AES wrapping key of %d bytes, want 16, 24 or 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &RawAES{namespace: namespace, name: name, aead: aead}, nil
}

func checkRawNames(namespace, name string) error {
	if namespace == "" || name == "" {
		return errors.New("keyring: a raw keyring needs a key namespace and a key name")
	}
	if strings.HasPrefix(namespace, "aws-kms") {
		return fmt.Errorf("keyring: raw key namespace %q is reserved for AWS KMS", namespace)
	}
	return nil
}

func (k *RawAES) String() string { return "raw AES keyring " + k.namespace + "/" + k.name }

// OnEncrypt implements envelope.Keyring.
func (k *RawAES) OnEncrypt(_ context.Context, m *envelope.EncryptionMaterials) error {
	var pbuf [16]wire.Pair
	pairs, size, err := wire.SortedPairs(m.EncryptionContext, pbuf[:0])
	if err != nil {
		return err
	}
	keyLen := len(m.DataKey)
	if m.DataKey == nil {
		if keyLen = m.Suite.DataKeyLength(); keyLen == 0 {
			return fmt.Errorf("keyring: suite %s: %w", m.Suite, envelope.ErrUnsupportedSuite)
		}
	}
	// One allocation: provider info (ending in the IV), the data key if
	// this keyring generates it, ciphertext and the AAD (the context,
	// public: it is in the header). The IV and a generated data key are
	// adjacent, drawn in one read of crypto/rand. Each part is capped at
	// its length: the client zeroes the data key, and nothing appended to
	// one part reaches another.
	infoLen, ctLen := len(k.name)+8+ivLen, keyLen+tagLen
	dkLen := 0
	if m.DataKey == nil {
		dkLen = keyLen
	}
	ctAt := infoLen + dkLen
	buf := make([]byte, 0, ctAt+ctLen+size)
	info := buf[:0:infoLen]
	info = append(info, k.name...)
	info = binary.BigEndian.AppendUint32(info, tagLen*8)
	info = binary.BigEndian.AppendUint32(info, ivLen)
	iv := info[len(info) : len(info)+ivLen]
	if _, err := rand.Read(buf[len(info):ctAt]); err != nil {
		return err
	}
	info = info[:len(info)+ivLen]
	if m.DataKey == nil {
		m.DataKey = buf[infoLen:ctAt:ctAt]
	}
	aad := wire.AppendPairs(buf[ctAt+ctLen:ctAt+ctLen:ctAt+ctLen+size], pairs)
	ct := k.aead.Seal(buf[ctAt:ctAt:ctAt+ctLen], iv, m.DataKey, aad)
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, envelope.EncryptedDataKey{ProviderID: k.namespace, ProviderInfo: info, Ciphertext: ct})
	return nil
}

// OnDecrypt implements envelope.Keyring.
func (k *RawAES) OnDecrypt(_ context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	var pbuf [16]wire.Pair
	pairs, size, err := wire.SortedPairs(m.EncryptionContext, pbuf[:0])
	if err != nil {
		return err
	}
	want := m.Suite.DataKeyLength()
	// One allocation: the AAD, then room for the data key.
	buf := make([]byte, 0, size+want)
	aad := wire.AppendPairs(buf[:0:size], pairs)
	return unwrapFirst(k, m, edks, func(e envelope.EncryptedDataKey) ([]byte, error) {
		info := e.ProviderInfo
		if e.ProviderID != k.namespace || len(info) != len(k.name)+8+ivLen || !bytes.HasPrefix(info, []byte(k.name)) {
			return nil, errNotWrappedHere
		}
		rest := info[len(k.name):]
		if binary.BigEndian.Uint32(rest) != tagLen*8 || binary.BigEndian.Uint32(rest[4:]) != ivLen {
			return nil, errors.New("unsupported tag or IV length")
		}
		if len(e.Ciphertext) != want+tagLen {
			return nil, fmt.Errorf("%d-byte ciphertext, want %d", len(e.Ciphertext), want+tagLen)
		}
		dk, err := k.aead.Open(buf[size:size:size+want], rest[8:], e.Ciphertext, aad)
		if err != nil {
			return nil, errors.New("did not decrypt (wrong wrapping key or encryption context)")
		}
		return dk, nil
	})
}

// generateDataKey fills in m.DataKey if no keyring did yet.
func generateDataKey(m *envelope.EncryptionMaterials) error {
	if m.DataKey != nil {
		return nil
	}
	n := m.Suite.DataKeyLength()
	if n == 0 {
		return fmt.Errorf("keyring: suite %s: %w", m.Suite, envelope.ErrUnsupportedSuite)
	}
	m.DataKey = make([]byte, n)
	_, err := rand.Read(m.DataKey)
	return err
}
