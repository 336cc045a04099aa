package envelope

import (
	"maps"
	"strings"
	"testing"
)

// TestParseContext: the serialized contexts a header may hold, and each
// way one can be malformed.
func TestParseContext(t *testing.T) {
	pair := func(k, v string) string {
		return string([]byte{byte(len(k) >> 8), byte(len(k))}) + k + string([]byte{byte(len(v) >> 8), byte(len(v))}) + v
	}
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"empty", "", map[string]string{}, ""},
		{"zero pairs", "\x00\x00", map[string]string{}, ""},
		{"two pairs", "\x00\x02" + pair("tenant", "clinic-7") + pair("purpose", "bench"), map[string]string{"tenant": "clinic-7", "purpose": "bench"}, ""},
		{"long and empty", "\x00\x02" + pair(long, "") + pair("é", long), map[string]string{long: "", "é": long}, ""},
		{"count cut", "\x00", nil, "pair count truncated"},
		{"zero pairs and data", "\x00\x00\x00", nil, "zero pairs followed by data"},
		{"key length cut", "\x00\x01\x00", nil, "key truncated"},
		{"key cut", "\x00\x01\x00\x05abc", nil, "key truncated"},
		{"value length cut", "\x00\x01" + pair("k", "v")[:4], nil, "value truncated"},
		{"value cut", "\x00\x01" + pair("k", "value")[:7], nil, "value truncated"},
		{"missing pair", "\x00\x02" + pair("k", "v"), nil, "key truncated"},
		{"duplicate", "\x00\x02" + pair("k", "v") + pair("k", "w"), nil, `duplicate key "k"`},
		{"key not UTF-8", "\x00\x01" + pair("k\xff", "v"), nil, "key is not UTF-8"},
		{"value not UTF-8", "\x00\x01" + pair("k", "abcdefghi\xc3"), nil, "value is not UTF-8"},
		{"trailing", "\x00\x01" + pair("k", "v") + "zz", nil, "2 bytes after the last pair"},
	} {
		got, err := parseContext([]byte(tc.in))
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && (err != nil || !maps.Equal(got, tc.want) || got == nil):
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestHostileContextKeyCut: a header's context repeating a key of 64 KiB
// less one byte, each byte an escape that %q writes as 4, failed with the
// whole key quoted (~256 KiB of error text from a header anyone can
// write); the key is cut to 256 bytes before it is quoted.
func TestHostileContextKeyCut(t *testing.T) {
	k := strings.Repeat("\x1b", 0xffff)
	pair := string([]byte{0xff, 0xff}) + k + "\x00\x00"
	_, err := parseContext([]byte("\x00\x02" + pair + pair))
	if err == nil || !strings.HasPrefix(err.Error(), `duplicate key "\x1b`) {
		t.Fatalf("%.100v, want a duplicate key error", err)
	}
	if n := len(err.Error()); n > 4*maxReasonLength+32 {
		t.Fatalf("error text of %d bytes for a %d-byte key", n, len(k))
	}
}
