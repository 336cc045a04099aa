package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// reservedPrefix starts every encryption context key the SDK itself writes.
const reservedPrefix = "aws-crypto-"

// publicKeyKey holds the signing suites' verification key.
const publicKeyKey = "aws-crypto-public-key"

// maxContextLen is the largest serialized encryption context: its length
// is written in a u16.
const maxContextLen = 1<<16 - 1

// serializeContext appends the canonical serialization of ec to b:
//
//	count (2) | { keyLen (2) | key | valueLen (2) | value } sorted by key bytes
//
// An empty context serializes to no bytes at all.
func serializeContext(b []byte, ec map[string]string) ([]byte, error) {
	size, err := contextSize(ec)
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

// contextSize returns the length of ec serialized, after checking that it
// can be: every key and value UTF-8, at most 2^16-1 pairs and bytes.
func contextSize(ec map[string]string) (int, error) {
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

// parseContext parses a serialized encryption context. It accepts an empty
// input and the "expanded" empty form (a zero pair count) that some SDKs
// write, and rejects duplicate or unsorted-duplicate keys, invalid UTF-8 and
// trailing bytes. The keys and values share one string, one allocation.
func parseContext(b []byte) (map[string]string, error) {
	s := cryptobyte.String(b)
	var count uint16
	if !s.Empty() && !s.ReadUint16(&count) {
		return nil, errors.New("pair count truncated")
	}
	if count == 0 && !s.Empty() {
		return nil, errors.New("zero pairs followed by data")
	}
	all := string(s)
	ec := make(map[string]string, min(int(count), len(all)/4)) // a pair is at least 4 bytes
	for range count {
		k, err := contextString(&s, all, "key")
		if err != nil {
			return nil, err
		}
		v, err := contextString(&s, all, "value")
		if err != nil {
			return nil, err
		}
		if _, dup := ec[k]; dup {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		ec[k] = v
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%d bytes after the last pair", len(s))
	}
	return ec, nil
}

// contextString reads a u16-length-prefixed UTF-8 string from s, a suffix
// of all, and returns it as a substring of all.
func contextString(s *cryptobyte.String, all, what string) (string, error) {
	at := len(all) - len(*s) + 2
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) {
		return "", fmt.Errorf("%s truncated", what)
	}
	str := all[at : at+len(v)]
	if !utf8.ValidString(str) {
		return "", fmt.Errorf("%s is not UTF-8", what)
	}
	return str, nil
}

// checkCallerContext rejects keys the SDK reserves for itself.
func checkCallerContext(ec map[string]string) error {
	for k := range ec {
		if strings.HasPrefix(k, reservedPrefix) {
			return fmt.Errorf("envelope: encryption context key %q: %w", k, ErrInvalidContext)
		}
	}
	return nil
}

// subset returns the pairs of ec whose keys are in keys.
func subset(ec map[string]string, keys []string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if v, ok := ec[k]; ok {
			out[k] = v
		}
	}
	return out
}

// AppendContext appends the canonical serialization of ec to b, as the
// header, raw AES keyring and caching materials manager use it.
func AppendContext(b []byte, ec map[string]string) ([]byte, error) { return serializeContext(b, ec) }
