package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/phicrypt/phicrypt/internal/wire"
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
	count := 0
	if len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("pair count truncated")
		}
		count = int(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if count == 0 && len(b) > 0 {
		return nil, errors.New("zero pairs followed by data")
	}
	all := string(b)
	ec := make(map[string]string, min(count, len(all)/4)) // a pair is at least 4 bytes
	at := 0
	for i := range count {
		k, err := contextString(all, &at, "key")
		if err != nil {
			return nil, err
		}
		v, err := contextString(all, &at, "value")
		if err != nil {
			return nil, err
		}
		if ec[k] = v; len(ec) != i+1 {
			return nil, fmt.Errorf("duplicate key %q", truncate(k, maxReasonLength)) // k is the header's: up to 64 KiB
		}
	}
	if at < len(all) {
		return nil, fmt.Errorf("%d bytes after the last pair", len(all)-at)
	}
	return ec, nil
}

// contextString reads the u16-length-prefixed UTF-8 string at all[*at:],
// returns it as a substring of all and moves *at past it.
func contextString(all string, at *int, what string) (string, error) {
	i := *at
	if len(all)-i < 2 || len(all)-i-2 < int(all[i])<<8|int(all[i+1]) {
		return "", fmt.Errorf("%s truncated", what)
	}
	start := i + 2
	*at = start + (int(all[i])<<8 | int(all[i+1]))
	str := all[start:*at]
	if !wire.ValidUTF8(str) {
		return "", fmt.Errorf("%s is not UTF-8", what)
	}
	return str, nil
}

// holds reports whether pairs, with distinct keys, are exactly the pairs
// of ec.
func holds(pairs []wire.Pair, ec map[string]string) bool {
	if pairs == nil || len(pairs) != len(ec) {
		return false
	}
	for _, p := range pairs {
		if v, ok := ec[p.Key]; !ok || v != p.Value {
			return false
		}
	}
	return true
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

// subset returns the pairs of ec whose keys are in keys; nil for none.
func subset(ec map[string]string, keys []string) map[string]string {
	if len(keys) == 0 {
		return nil
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if v, ok := ec[k]; ok {
			out[k] = v
		}
	}
	return out
}
