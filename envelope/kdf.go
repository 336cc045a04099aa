package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// deriveKey returns the AES-GCM of the message key derived from the data
// key, and for committing suites the commitment. The derived key bytes are
// zeroed before it returns; the data key is not touched.
//
//	identity:     key = data key
//	v1 HKDF:      key = HKDF(hash, salt = none, ikm = data key, info = suite ID | message ID)
//	v2 HKDF-512:  prk    = HKDF-Extract(SHA-512, salt = message ID, ikm = data key)
//	              key    = HKDF-Expand(prk, suite ID | "DERIVEKEY", 32)
//	              commit = HKDF-Expand(prk, "COMMITKEY", 32)
//
// netV400 derives as ESDK-NET 4.0.0 wrongly did for v1 HKDF suites, with
// info = suite ID alone.
func deriveKey(s *suite, dataKey, messageID []byte, netV400 bool) (cipher.AEAD, []byte, error) {
	var key, commit []byte
	var err error
	var info [2 + 16 + 9]byte
	binary.BigEndian.PutUint16(info[:], uint16(s.id))
	switch {
	case s.kdf == kdfIdentity:
		key = append([]byte(nil), dataKey...)
	case s.committing:
		var prk []byte
		if prk, err = hkdf.Extract(s.hash(), dataKey, messageID); err != nil {
			return nil, nil, err
		}
		defer clear(prk)
		if key, err = hkdf.Expand(s.hash(), prk, string(append(info[:2], "DERIVEKEY"...)), s.keyLen); err != nil {
			return nil, nil, err
		}
		if commit, err = hkdf.Expand(s.hash(), prk, "COMMITKEY", commitKeyLen); err != nil {
			return nil, nil, err
		}
	default:
		in := append(info[:2], messageID...)
		if netV400 {
			in = info[:2]
		}
		if key, err = hkdf.Key(s.hash(), dataKey, nil, string(in), s.keyLen); err != nil {
			return nil, nil, err
		}
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return aead, commit, nil
}

// commitmentMatches compares two commitments in constant time.
func commitmentMatches(a, b []byte) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}
