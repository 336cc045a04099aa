package cli

import (
	"errors"
	"testing"

	"github.com/phicrypt/phicrypt/batch"
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

func TestParsePairs(t *testing.T) {
	m, err := ParsePairs("context", []string{"a=1", "b=x=y", "c="})
	if err != nil || m["a"] != "1" || m["b"] != "x=y" || m["c"] != "" || len(m) != 3 {
		t.Fatalf("ParsePairs = %v, %v", m, err)
	}
	for _, bad := range [][]string{{"a"}, {"=v"}, {"a=1", "a=2"}} {
		if _, err := ParsePairs("context", bad); !errors.Is(err, batch.ErrUsage) {
			t.Errorf("ParsePairs(%q) = %v, want batch.ErrUsage", bad, err)
		}
	}
}
