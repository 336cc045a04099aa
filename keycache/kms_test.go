package keycache_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keycache"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// These tests count the calls that reach KMS: a kmslocal server behind the
// stock aws-sdk-go-v2 client, through the AWS KMS keyring.

type kmsCase struct {
	env   *kmstest.Env
	kr    *kms.Keyring
	clock *fakeClock
}

func newKMSCase(t *testing.T, env *kmstest.Env) *kmsCase {
	t.Helper()
	kr, err := kms.New(env.Client, env.CreateKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return &kmsCase{env: env, kr: kr, clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}}
}

func (c *kmsCase) client(t *testing.T, o keycache.Options) (*envelope.Client, *keycache.Manager) {
	t.Helper()
	cache, err := keycache.NewCache(100)
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxAge == 0 {
		o.MaxAge = time.Hour
	}
	o.Now = c.clock.Now
	m, err := keycache.NewWithKeyring(c.kr, cache, o)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := envelope.NewWithMaterialsManager(m, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
	if err != nil {
		t.Fatal(err)
	}
	return cl, m
}

// calls runs f and returns how many calls of op it made to KMS.
func (c *kmsCase) calls(t *testing.T, op string, f func()) int64 {
	t.Helper()
	c.env.TakeCalls()
	f()
	var n int64
	for _, call := range c.env.TakeCalls() {
		if call.Op == op {
			n++
		}
	}
	return n
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func kmsEnvs(t *testing.T) map[string]func(*testing.T) *kmstest.Env {
	return map[string]func(*testing.T) *kmstest.Env{
		"in-process": func(t *testing.T) *kmstest.Env { return kmstest.Start(t, kmslocal.Options{}) },
		"process":    func(t *testing.T) *kmstest.Env { return kmstest.Process(t) },
	}
}

func TestKMSLimits(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"tenant": "clinic-7"}
	record := bytes.Repeat([]byte("r"), 1000)
	for name, start := range kmsEnvs(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("messages", func(t *testing.T) {
				c := newKMSCase(t, start(t))
				cl, m := c.client(t, keycache.Options{MaxMessages: 1000})
				cts := make([][]byte, 0, 10_000)
				n := c.calls(t, "GenerateDataKey", func() {
					for range 10_000 {
						ct, err := cl.Encrypt(ctx, record, ec)
						if err != nil {
							t.Fatal(err)
						}
						cts = append(cts, ct)
					}
				})
				if n != 10 {
					t.Errorf("10,000 messages with MaxMessages 1,000: %d GenerateDataKey calls, want 10", n)
				}
				if got := distinctDataKeys(t, cts); got != 10 {
					t.Errorf("messages carry %d distinct encrypted data keys, want 10", got)
				}
				// Decrypt through the same manager: one Decrypt per data key.
				n = c.calls(t, "Decrypt", func() {
					for _, ct := range cts {
						pt, _, err := cl.Decrypt(ctx, ct)
						if err != nil || !bytes.Equal(pt, record) {
							t.Fatalf("decrypt: %v", err)
						}
					}
				})
				if n != 10 {
					t.Errorf("decrypting 10,000 messages of 10 data keys: %d Decrypt calls, want 10", n)
				}
				if s := m.Stats(); s.UnderlyingCalls != 20 || s.Misses != 20 || s.Hits != 19_980 || s.Exhausted != 10 {
					t.Errorf("Stats() = %+v, want 20 underlying calls and misses, 19,980 hits, 10 exhausted", s)
				}
			})
			t.Run("bytes", func(t *testing.T) {
				c := newKMSCase(t, start(t))
				cl, _ := c.client(t, keycache.Options{MaxBytes: 10_000})
				n := c.calls(t, "GenerateDataKey", func() {
					for range 100 {
						if _, err := cl.Encrypt(ctx, record, ec); err != nil {
							t.Fatal(err)
						}
					}
				})
				if n != 10 {
					t.Errorf("100 × 1,000 B with MaxBytes 10,000: %d GenerateDataKey calls, want 10", n)
				}
			})
			t.Run("age", func(t *testing.T) {
				c := newKMSCase(t, start(t))
				cl, _ := c.client(t, keycache.Options{MaxAge: time.Minute})
				n := c.calls(t, "GenerateDataKey", func() {
					for i := range 100 {
						if i > 0 && i%10 == 0 {
							c.clock.Add(time.Minute + time.Second)
						}
						if _, err := cl.Encrypt(ctx, record, ec); err != nil {
							t.Fatal(err)
						}
					}
				})
				if n != 10 {
					t.Errorf("100 messages, clock past MaxAge every 10: %d GenerateDataKey calls, want 10", n)
				}
			})
		})
	}
}

// TestKMSConcurrentLimits: 64 goroutines × 1,000 messages never put more
// than MaxMessages messages under one data key, and each data key is one
// GenerateDataKey call.
func TestKMSConcurrentLimits(t *testing.T) {
	const workers, each, limit = 64, 1000, 1000
	c := newKMSCase(t, kmstest.Start(t, kmslocal.Options{}))
	cl, _ := c.client(t, keycache.Options{MaxMessages: limit})
	ctx := context.Background()
	var mu sync.Mutex
	perKey := map[string]int{}
	n := c.calls(t, "GenerateDataKey", func() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				ec := map[string]string{"tenant": "clinic-7"}
				local := map[string]int{}
				for i := range each {
					ct, err := cl.Encrypt(ctx, []byte(fmt.Sprint(w, i)), ec)
					if err != nil {
						t.Error(err)
						return
					}
					local[edkOf(t, ct)]++
				}
				mu.Lock()
				for k, v := range local {
					perKey[k] += v
				}
				mu.Unlock()
			})
		}
		wg.Wait()
	})
	for _, v := range perKey {
		if v > limit {
			t.Errorf("a data key encrypted %d messages, limit %d", v, limit)
		}
	}
	if int(n) != len(perKey) || n < workers*each/limit {
		t.Errorf("%d GenerateDataKey calls for %d data keys, want equal and ≥ %d", n, len(perKey), workers*each/limit)
	}
}

// TestKMSColdStart: concurrent misses for one entry make one KMS call;
// distinct contexts are distinct entries.
func TestKMSColdStart(t *testing.T) {
	c := newKMSCase(t, kmstest.Start(t, kmslocal.Options{}))
	cl, m := c.client(t, keycache.Options{})
	ctx := context.Background()
	n := c.calls(t, "GenerateDataKey", func() {
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				ec := map[string]string{"tenant": fmt.Sprint("clinic-", i%4)}
				if _, err := cl.Encrypt(ctx, []byte("x"), ec); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	})
	if n != 4 {
		t.Errorf("64 concurrent cold encrypts over 4 contexts: %d GenerateDataKey calls, want 4", n)
	}
	if s := m.Stats(); s.Misses != 4 || s.Hits != 60 {
		t.Errorf("Stats() = %+v, want 4 misses and 60 hits (requests that shared a call)", s)
	}
}

func edkOf(t *testing.T, ct []byte) string {
	h, err := envelope.ParseHeader(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	return string(h.EncryptedDataKeys[0].Ciphertext)
}

func distinctDataKeys(t *testing.T, cts [][]byte) int {
	seen := map[string]bool{}
	for _, ct := range cts {
		seen[edkOf(t, ct)] = true
	}
	return len(seen)
}
