package cli

import (
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"4096", 4096, true}, {"64KiB", 64 << 10, true}, {"1MiB", 1 << 20, true}, {"64k", 64 << 10, true},
		{"0", 0, false}, {"-1", 0, false}, {"4GiB", 0, false}, {"x", 0, false}, {"", 0, false},
		// n × unit past 2^63 wrapped to 0 or a negative number, and passed.
		{"17179869184g", 0, false}, {"8589934592GiB", 0, false}, {"9007199254740992k", 0, false}, {"4095MiB", 4095 << 20, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
