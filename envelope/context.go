package envelope

import (
	"errors"
	"fmt"
	"strings"

	"github.com/phicrypt/phicrypt/internal/wire"
	"golang.org/x/crypto/cryptobyte"
)

// reservedPrefix starts every encryption context key the SDK itself writes.
const reservedPrefix = "aws-crypto-"

// publicKeyKey holds the signing suites' verification key.
const publicKeyKey = "aws-crypto-public-key"

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
	if !wire.ValidUTF8(str) {
		return "", fmt.Errorf("%s is not UTF-8", what)
	}
	return str, nil
}

// checkCallerContext rejects keys the SDK reserves for itself.
func checkCallerContext(pairs []wire.Pair) error {
	for _, p := range pairs {
		if strings.HasPrefix(p.Key, reservedPrefix) {
			return fmt.Errorf("envelope: encryption context key %q: %w", p.Key, ErrInvalidContext)
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
