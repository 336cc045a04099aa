package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha512"
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
		key, commit = deriveCommitting(dataKey, messageID, info[:2])
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

// deriveCommitting is HKDF-SHA512 for the committing suites, written out:
// both outputs are shorter than one SHA-512 block, so each Expand is the
// single HMAC T(1) = HMAC(prk, info | 0x01), and one HMAC serves both.
func deriveCommitting(dataKey, messageID, suiteID []byte) (key, commit []byte) {
	extract := hmac.New(sha512.New, messageID)
	extract.Write(dataKey)
	var prk [sha512.Size]byte
	expand := hmac.New(sha512.New, extract.Sum(prk[:0]))
	clear(prk[:])
	var t [sha512.Size]byte
	expand.Write(suiteID)
	expand.Write([]byte("DERIVEKEY\x01"))
	key = append([]byte(nil), expand.Sum(t[:0])[:32]...)
	expand.Reset()
	expand.Write([]byte("COMMITKEY\x01"))
	commit = append([]byte(nil), expand.Sum(t[:0])[:commitKeyLen]...)
	clear(t[:])
	return key, commit
}

// commitmentMatches compares two commitments in constant time.
func commitmentMatches(a, b []byte) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}
