package keycache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestHostileContextMismatchStats: messages whose context contradicts the
// reader's expected context (another tenant's objects) are refused without
// a keyring call, yet were counted as misses and underlying (KMS) calls,
// hiding an attack in the cache's statistics and inflating its cost model.
func TestHostileContextMismatchStats(t *testing.T) {
	ctx := context.Background()
	kr := newCounting(t)
	cache, _ := NewCache(100)
	m, err := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, m)
	ct, err := c.Encrypt(ctx, []byte("record"), map[string]string{"tenant": "a"})
	if err != nil {
		t.Fatal(err)
	}
	before := m.Stats()
	for range 3 {
		if _, _, err := c.Decrypt(ctx, ct, envelope.WithExpectedContext(map[string]string{"tenant": "b"})); !errors.Is(err, envelope.ErrContextMismatch) {
			t.Fatalf("Decrypt under another tenant: %v, want ErrContextMismatch", err)
		}
	}
	st := m.Stats()
	if st.Refused-before.Refused != 3 || st.Misses != before.Misses || st.UnderlyingCalls != before.UnderlyingCalls || st.Hits != before.Hits {
		t.Fatalf("stats %+v after %+v: want 3 refusals and no miss, hit or underlying call", st, before)
	}
	if n := kr.decrypt.Load(); n != 0 {
		t.Fatalf("%d keyring decrypts, want 0", n)
	}
	// The right tenant still decrypts: one miss, one underlying call.
	if _, _, err := c.Decrypt(ctx, ct, envelope.WithExpectedContext(map[string]string{"tenant": "a"})); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Misses != before.Misses+1 || st.UnderlyingCalls != before.UnderlyingCalls+1 {
		t.Fatalf("stats %+v after a good decrypt", st)
	}
}
