package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha512"
	"crypto/subtle"
	"encoding"
	"encoding/binary"
	"fmt"
)

// deriveKey returns the AES-GCM of the message key derived from the data
// key, and for committing suites the commitment (zero for the others), by
// value so that it costs no allocation. The derived key bytes are zeroed
// before it returns; the data key is not touched.
//
//	identity:     key = data key
//	v1 HKDF:      key = HKDF(hash, salt = none, ikm = data key, info = suite ID | message ID)
//	v2 HKDF-512:  prk    = HKDF-Extract(SHA-512, salt = message ID, ikm = data key)
//	              key    = HKDF-Expand(prk, suite ID | "DERIVEKEY", 32)
//	              commit = HKDF-Expand(prk, "COMMITKEY", 32)
//
// netV400 derives as ESDK-NET 4.0.0 wrongly did for v1 HKDF suites, with
// info = suite ID alone.
func deriveKey(s *suite, dataKey, messageID []byte, netV400 bool) (aead cipher.AEAD, commit [commitKeyLen]byte, err error) {
	var key []byte
	var kbuf [32]byte // holds the key unless HKDF returned it
	var info [2 + 16 + 9]byte
	binary.BigEndian.PutUint16(info[:], uint16(s.id))
	switch {
	case s.kdf == kdfIdentity:
		key = kbuf[:copy(kbuf[:], dataKey)]
	case s.committing:
		kbuf, commit = deriveCommitting(dataKey, messageID, info[:2])
		key = kbuf[:]
	default:
		in := append(info[:2], messageID...)
		if netV400 {
			in = info[:2]
		}
		if key, err = hkdf.Key(s.hash(), dataKey, nil, string(in), s.keyLen); err != nil {
			return nil, commit, err
		}
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, commit, fmt.Errorf("envelope: %w", err)
	}
	aead, err = cipher.NewGCM(block)
	if err != nil {
		return nil, commit, err
	}
	return aead, commit, nil
}

// deriveCommitting is HKDF-SHA512 for the committing suites, written out:
// both outputs are shorter than one SHA-512 output, so each Expand is the
// single HMAC T(1) = HMAC(prk, info | 0x01). The two Expands share prk,
// so the hash states after its inner and outer pad blocks are computed
// once and restored for each: 10 SHA-512 blocks, not 12. Written as one
// function so that the compiler keeps the hash and its states on the
// stack (TestSmallMessageAllocs).
func deriveCommitting(dataKey, messageID, suiteID []byte) (key, commit [32]byte) {
	const bs = sha512.BlockSize
	prk := hmacSHA512(messageID, dataKey)
	var pad [bs]byte
	copy(pad[:], prk[:])
	clear(prk[:])
	for i := range pad {
		pad[i] ^= 0x36
	}
	var st struct {
		inner, outer [sha512State]byte // after the pad blocks
		sum, t       [sha512.Size]byte
	}
	d := sha512.New()
	m, u := d.(encoding.BinaryAppender), d.(encoding.BinaryUnmarshaler)
	d.Write(pad[:])
	inner, _ := m.AppendBinary(st.inner[:0])
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	d.Reset()
	d.Write(pad[:])
	outer, _ := m.AppendBinary(st.outer[:0])
	clear(pad[:])
	expand := func(out []byte, info ...[]byte) {
		if u.UnmarshalBinary(inner) != nil {
			panic("envelope: SHA-512 state not restored")
		}
		for _, b := range info {
			d.Write(b)
		}
		d.Sum(st.sum[:0])
		if u.UnmarshalBinary(outer) != nil {
			panic("envelope: SHA-512 state not restored")
		}
		d.Write(st.sum[:])
		copy(out, d.Sum(st.t[:0]))
	}
	expand(key[:], suiteID, []byte("DERIVEKEY\x01"))
	expand(commit[:], []byte("COMMITKEY\x01"))
	d.Reset()
	clear(st.inner[:])
	clear(st.outer[:])
	clear(st.sum[:])
	clear(st.t[:])
	return key, commit
}

// sha512State is the size of a SHA-512 state as crypto/sha512 marshals it.
const sha512State = 4 + sha512.Size + sha512.BlockSize + 8

// hmacSHA512 is HMAC-SHA512 (RFC 2104) of the concatenated msg under key,
// computed with sha512.Sum512 in stack buffers, for the sizes HKDF needs
// here: a key of at most one block and a message of at most one digest.
// It is checked against crypto/hmac in TestHMACSHA512.
func hmacSHA512(key []byte, msg ...[]byte) [sha512.Size]byte {
	const bs = sha512.BlockSize
	if len(key) > bs {
		panic("envelope: hmacSHA512 key longer than a block")
	}
	var buf [bs + sha512.Size]byte
	n := bs
	for _, m := range msg {
		if len(m) > len(buf)-n {
			panic("envelope: hmacSHA512 message longer than a digest")
		}
		n += copy(buf[n:], m)
	}
	copy(buf[:], key)
	for i := range bs {
		buf[i] ^= 0x36
	}
	inner := sha512.Sum512(buf[:n])
	for i := range bs {
		buf[i] ^= 0x36 ^ 0x5c
	}
	copy(buf[bs:], inner[:])
	out := sha512.Sum512(buf[:])
	clear(buf[:])
	clear(inner[:])
	return out
}

// commitmentMatches compares two commitments in constant time.
func commitmentMatches(a, b []byte) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}
