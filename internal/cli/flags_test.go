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
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
