package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/phicrypt/phicrypt/batch"
)

// ParseSize parses a byte count: "4096", "64KiB", "1MiB", "64k", "1m".
func ParseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		m      int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if r, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(r), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<32-1)/int64(mult) { // no product: it could wrap
		return 0, fmt.Errorf("%w: size %q: want a number of bytes from 1 to 4GiB-1, e.g. 65536 or 64KiB", batch.ErrUsage, s)
	}
	return int(n) * mult, nil
}
