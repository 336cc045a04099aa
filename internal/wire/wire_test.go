package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// refContext is the canonical serialization written plainly.
func refContext(ec map[string]string) []byte {
	if len(ec) == 0 {
		return nil
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range ec {
			if !yield(k) {
				return
			}
		}
	})
	b := binary.BigEndian.AppendUint16(nil, uint16(len(ec)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

// TestAppendContext: AppendContext and SortedPairs with AppendPairs write
// the canonical form (pairs sorted by key bytes, not runes) of small and
// large contexts, ASCII or not, and report its length.
func TestAppendContext(t *testing.T) {
	big := map[string]string{}
	for i := range 40 {
		big[fmt.Sprintf("k%02d", 39-i)] = fmt.Sprint(i)
	}
	for _, ec := range []map[string]string{
		nil,
		{},
		{"tenant": "clinic-7", "purpose": "bench"},
		{"é": "ü", "z": "", "\uffff": "x", "a\u00e9b": "日本語"},
		big,
	} {
		want := refContext(ec)
		got, err := AppendContext([]byte("x"), ec)
		if err != nil || !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("AppendContext(%v) = %x, %v; want %x", ec, got, err, want)
		}
		pairs, size, err := SortedPairs(ec, nil)
		if err != nil || size != len(want) || !bytes.Equal(AppendPairs(nil, pairs), want) {
			t.Fatalf("SortedPairs(%v): size %d, %v; want %d", ec, size, err, len(want))
		}
	}
}

// TestContextInvalid: invalid UTF-8 in a key or value, after ASCII bytes
// or not, and a context past 65,535 bytes are refused.
func TestContextInvalid(t *testing.T) {
	long := string(make([]byte, 1<<16))
	for _, ec := range []map[string]string{
		{"ok": "abc\xff"},
		{"abcdefgh\xc3": "v"},
		{"\xed\xa0\x80": "v"}, // a surrogate
		{"k": long},
	} {
		if _, err := AppendContext(nil, ec); !errors.Is(err, ErrInvalidContext) {
			t.Errorf("AppendContext: %v, want ErrInvalidContext", err)
		}
		if _, _, err := SortedPairs(ec, nil); !errors.Is(err, ErrInvalidContext) {
			t.Errorf("SortedPairs: %v, want ErrInvalidContext", err)
		}
	}
}

// TestAppendContextAllocs: a small context is serialized into a buffer
// with room without an allocation.
func TestAppendContextAllocs(t *testing.T) {
	ec := map[string]string{"tenant": "clinic-7", "purpose": "bench"}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(20, func() { AppendContext(buf, ec) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
