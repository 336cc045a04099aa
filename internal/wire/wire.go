// Package wire holds the serializations of the AWS Encryption SDK message
// format that packages besides envelope need: the encryption context,
// which keyrings and the caching materials manager bind to, and an
// encrypted data key. Package envelope re-exports ErrInvalidContext, and
// reports the errors, which therefore read "envelope: ...".
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrInvalidContext reports an encryption context that cannot be written:
// a caller's key in the reserved "aws-crypto-" namespace, invalid UTF-8,
// or longer than 65,535 bytes.
var ErrInvalidContext = errors.New("invalid encryption context")

// maxContextLen is the largest serialized encryption context: its
// length is written in a u16.
const maxContextLen = 1<<16 - 1

// AppendContext appends the canonical serialization of ec to b, as a
// message header, the raw AES keyring and the caching materials manager
// use it:
//
//	count (2) | { keyLen (2) | key | valueLen (2) | value } sorted by key bytes
//
// An empty context serializes to no bytes at all.
func AppendContext(b []byte, ec map[string]string) ([]byte, error) {
	var buf [16]Pair // most contexts are small: sort their pairs on the stack
	pairs, size, err := SortedPairs(ec, buf[:0])
	if err != nil || size == 0 {
		return b, err
	}
	return AppendPairs(slices.Grow(b, size), pairs), nil
}

// A Pair is a key and its value in an encryption context.
type Pair struct{ Key, Value string }

// SortedPairs checks that ec can be serialized (every key and value
// UTF-8, at most 2^16-1 pairs and bytes) and returns its pairs sorted by
// key bytes, appended to pairs[:0], and the length of ec serialized, in
// one pass over the map.
func SortedPairs(ec map[string]string, pairs []Pair) ([]Pair, int, error) {
	pairs = pairs[:0]
	if len(ec) == 0 {
		return pairs, 0, nil
	}
	if len(ec) > 1<<16-1 {
		return nil, 0, fmt.Errorf("envelope: %d encryption context pairs: %w", len(ec), ErrInvalidContext)
	}
	size := 2
	for k, v := range ec {
		if !ValidUTF8(k) || !ValidUTF8(v) {
			return nil, 0, fmt.Errorf("envelope: encryption context key %q: not UTF-8: %w", k, ErrInvalidContext)
		}
		size += 4 + len(k) + len(v)
		pairs = append(pairs, Pair{k, v})
	}
	if size > maxContextLen {
		return nil, 0, fmt.Errorf("envelope: encryption context of %d bytes, at most %d: %w", size, maxContextLen, ErrInvalidContext)
	}
	sortPairs(pairs)
	return pairs, size, nil
}

// sortPairs sorts pairs by key bytes: by insertion for the few pairs of
// most contexts, with no call per comparison.
func sortPairs(pairs []Pair) {
	if len(pairs) > 12 {
		slices.SortFunc(pairs, func(a, b Pair) int { return strings.Compare(a.Key, b.Key) })
		return
	}
	for i := 1; i < len(pairs); i++ {
		for j := i; j > 0 && pairs[j].Key < pairs[j-1].Key; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
}

// AppendPairs appends the serialization of pairs, from SortedPairs, to b,
// as AppendContext does: no bytes at all for no pairs.
func AppendPairs(b []byte, pairs []Pair) []byte {
	if len(pairs) == 0 {
		return b
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(pairs)))
	for _, p := range pairs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.Key)))
		b = append(b, p.Key...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.Value)))
		b = append(b, p.Value...)
	}
	return b
}

// ValidUTF8 is utf8.ValidString with a loop over the ASCII bytes of the
// short keys and values contexts hold.
func ValidUTF8(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// AppendEncryptedDataKey appends the header serialization of an
// encrypted data key to b:
//
//	len (2) | provider ID | len (2) | provider info | len (2) | ciphertext
//
// Each field must be at most 65,535 bytes.
func AppendEncryptedDataKey(b []byte, providerID string, providerInfo, ciphertext []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(providerID)))
	b = append(b, providerID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(providerInfo)))
	b = append(b, providerInfo...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ciphertext)))
	return append(b, ciphertext...)
}
