package keycache

import (
	"context"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestWarmAllocs: with a warm cache, a 1 KiB message under the raw AES
// keyring costs the client's own allocations and, from the cache, two:
// the entry ID and the materials with their data key and one encrypted
// data key. An unsigned message's materials share the request's context
// (2 allocations more if copied; 3 more for encrypt with the data keys'
// slice).
func TestWarmAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what escapes to the heap")
	}
	cache, err := NewCache(16)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewWithKeyring(newCounting(t).kr, cache, Options{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, m, envelope.WithFrameWorkers(1))
	ctx := context.Background()
	pt := make([]byte, 1<<10)
	ec := map[string]string{"tenant": "clinic-7", "purpose": "lab-results"}
	ct, err := c.Encrypt(ctx, pt, ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		name string
		max  float64
		run  func() error
	}{
		{"encrypt", 6, func() error { _, err := c.Encrypt(ctx, pt, ec); return err }},
		{"decrypt", 11, func() error { _, _, err := c.Decrypt(ctx, ct); return err }},
	} {
		if n := testing.AllocsPerRun(50, func() {
			if err := op.run(); err != nil {
				t.Fatal(err)
			}
		}); n > op.max {
			t.Errorf("warm 1 KiB message: %v allocations to %s, want <= %v", n, op.name, op.max)
		}
	}
}
