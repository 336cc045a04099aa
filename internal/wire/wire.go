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
	size, err := ContextSize(ec)
	if err != nil || size == 0 {
		return b, err
	}
	var kbuf [16]string // most contexts are small: sort their keys on the stack
	keys := kbuf[:0]
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = slices.Grow(b, size)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ec)))
	for _, k := range keys {
		v := ec[k]
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return b, nil
}

// ContextSize returns the length of ec serialized, after checking that it
// can be: every key and value UTF-8, at most 2^16-1 pairs and bytes.
func ContextSize(ec map[string]string) (int, error) {
	if len(ec) == 0 {
		return 0, nil
	}
	if len(ec) > 1<<16-1 {
		return 0, fmt.Errorf("envelope: %d encryption context pairs: %w", len(ec), ErrInvalidContext)
	}
	size := 2
	for k, v := range ec {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return 0, fmt.Errorf("envelope: encryption context key %q: not UTF-8: %w", k, ErrInvalidContext)
		}
		size += 4 + len(k) + len(v)
	}
	if size > maxContextLen {
		return 0, fmt.Errorf("envelope: encryption context of %d bytes, at most %d: %w", size, maxContextLen, ErrInvalidContext)
	}
	return size, nil
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
