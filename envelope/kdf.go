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

// deriveCommitting is HKDF-SHA512 for the committing suites, written out
// as its 10 SHA-512 blocks:
//
//	prk    = HMAC(messageID, dataKey)                  4 blocks
//	key    = HMAC(prk, suiteID | "DERIVEKEY" | 0x01)   2 blocks
//	commit = HMAC(prk, "COMMITKEY" | 0x01)             2 blocks
//
// plus prk's inner and outer pad blocks, hashed once for both Expands
// (both outputs are shorter than one SHA-512 output, so each Expand is
// the single HMAC T(1)). Every message is padded here and written to the
// digest in whole blocks, which it hashes in place; a hash is read from
// the state the digest marshals: no Sum, no copy of the digest, and
// nothing secret left in its buffer. Written as one function so that the
// compiler keeps the digest and its states on the stack
// (TestSmallMessageAllocs). dataKey and messageID must be at most 64
// bytes, suiteID at most 2.
func deriveCommitting(dataKey, messageID, suiteID []byte) (key, commit [32]byte) {
	const bs = sha512.BlockSize
	if len(dataKey) > sha512.Size || len(messageID) > sha512.Size || len(suiteID) > 2 {
		panic("envelope: deriveCommitting input too long")
	}
	var st struct {
		blk          [2 * bs]byte      // a pad block and the message's padded block
		inner, outer [sha512State]byte // prk's states after its pad blocks
		out          [sha512State]byte // the state after the last hash
	}
	d := sha512.New()
	m, u := d.(encoding.BinaryAppender), d.(encoding.BinaryUnmarshaler)
	// hashInto hashes blk[:n] (whole blocks) from the initial state into
	// state and returns its hash, state[4:68].
	hashInto := func(state *[sha512State]byte, n int) []byte {
		d.Reset()
		d.Write(st.blk[:n])
		b, _ := m.AppendBinary(state[:0])
		return b[4 : 4+sha512.Size]
	}
	// continueFrom hashes blk[bs:2*bs] after the state from into out and
	// returns its hash.
	continueFrom := func(from *[sha512State]byte) []byte {
		if u.UnmarshalBinary(from[:]) != nil {
			panic("envelope: SHA-512 state not restored")
		}
		d.Write(st.blk[bs:])
		b, _ := m.AppendBinary(st.out[:0])
		return b[4 : 4+sha512.Size]
	}
	// expand is HKDF-Expand's T(1) for info, into out.
	expand := func(out []byte, info []byte) {
		padMessage(&st.blk, bs, info)
		padMessage(&st.blk, bs, continueFrom(&st.inner))
		copy(out, continueFrom(&st.outer))
	}

	// Extract: prk = HMAC(messageID, dataKey).
	padKey(&st.blk, messageID, 0x36)
	padMessage(&st.blk, bs, dataKey)
	inner := hashInto(&st.out, 2*bs)
	padKey(&st.blk, messageID, 0x5c)
	padMessage(&st.blk, bs, inner)
	prk := hashInto(&st.out, 2*bs)

	// Expand: prk's pad blocks once, then an inner and outer hash each.
	padKey(&st.blk, prk, 0x36)
	hashInto(&st.inner, bs)
	padKey(&st.blk, prk, 0x5c)
	hashInto(&st.outer, bs)
	var info [2 + 10]byte
	n := copy(info[:], suiteID)
	n += copy(info[n:], "DERIVEKEY\x01")
	expand(key[:], info[:n])
	expand(commit[:], []byte("COMMITKEY\x01"))

	d.Reset()
	clear(st.blk[:])
	clear(st.inner[:])
	clear(st.outer[:])
	clear(st.out[:])
	return key, commit
}

// padKey writes to blk[:128] the HMAC-SHA512 pad block of key (at most
// 128 bytes) for pad 0x36 (inner) or 0x5c (outer).
func padKey(blk *[2 * sha512.BlockSize]byte, key []byte, pad byte) {
	b := blk[:sha512.BlockSize]
	clear(b[copy(b, key):])
	p := uint64(pad) * 0x0101010101010101
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^p)
	}
}

// padMessage writes to blk[128:] the last block of a message of one
// block (the pad block) and msg, at most 111 bytes, with SHA-512's
// padding: 0x80, zeros and the length in bits.
func padMessage(blk *[2 * sha512.BlockSize]byte, prefix int, msg []byte) {
	b := blk[sha512.BlockSize:]
	n := copy(b, msg)
	b[n] = 0x80
	clear(b[n+1:])
	binary.BigEndian.PutUint64(b[len(b)-8:], uint64(prefix+len(msg))*8)
}

// sha512State is the size of a SHA-512 state as crypto/sha512 marshals it:
// "sha\x07", the chaining value (the hash, once the message is padded),
// the buffer and the length.
const sha512State = 4 + sha512.Size + sha512.BlockSize + 8

// commitmentMatches compares two commitments in constant time: the XOR of
// their 8-byte words accumulates with no branch on the bytes, and only
// whether it is zero is looked at. Anything but two commitKeyLen-byte
// commitments does not match.
func commitmentMatches(a, b []byte) bool {
	if len(a) != commitKeyLen || len(b) != commitKeyLen {
		return false
	}
	var v uint64
	for i := 0; i < commitKeyLen; i += 8 {
		v |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	return subtle.ConstantTimeEq(int32(uint32(v>>32)|uint32(v)), 0) == 1
}
