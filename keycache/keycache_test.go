package keycache

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// counting wraps a keyring and counts data keys generated and decrypted.
type counting struct {
	kr                 envelope.Keyring
	generated, decrypt atomic.Int64
	delay              time.Duration
}

func (c *counting) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	if m.DataKey == nil {
		c.generated.Add(1)
		time.Sleep(c.delay)
	}
	return c.kr.OnEncrypt(ctx, m)
}

func (c *counting) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	c.decrypt.Add(1)
	return c.kr.OnDecrypt(ctx, m, edks)
}

func newCounting(t testing.TB) *counting {
	kr, err := keyring.NewRawAES("ns", "k", bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &counting{kr: kr}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{now: time.Unix(1_700_000_000, 0)} }
func client(t testing.TB, m *Manager, opts ...envelope.ClientOption) *envelope.Client {
	c, err := envelope.NewWithMaterialsManager(m, append([]envelope.ClientOption{envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMessageLimit(t *testing.T) {
	kr := newCounting(t)
	cache, _ := NewCache(100)
	m, err := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour, MaxMessages: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, m)
	ec := map[string]string{"tenant": "a"}
	var last []byte
	for i := range 10_000 {
		ct, err := c.Encrypt(context.Background(), []byte("record"), ec)
		if err != nil {
			t.Fatal(i, err)
		}
		last = ct
	}
	if got := kr.generated.Load(); got != 10 {
		t.Fatalf("10,000 messages, max 1,000 per key: %d data keys generated, want 10", got)
	}
	st := m.Stats()
	if st.Misses != 10 || st.EncryptHits != 9990 {
		t.Fatalf("stats %+v", st)
	}
	for range 100 {
		if _, _, err := c.Decrypt(context.Background(), last); err != nil {
			t.Fatal(err)
		}
	}
	if got := kr.decrypt.Load(); got != 1 {
		t.Fatalf("100 decrypts of one data key: %d keyring decrypts, want 1", got)
	}
}

func TestByteAndAgeLimits(t *testing.T) {
	kr := newCounting(t)
	cache, _ := NewCache(100)
	clk := newClock()
	m, _ := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Minute, MaxBytes: 1000, Now: clk.Now})
	c := client(t, m)
	for range 10 { // 10 × 300 bytes: 3 per key fit under 1000
		if _, err := c.Encrypt(context.Background(), make([]byte, 300), nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := kr.generated.Load(); got != 4 {
		t.Fatalf("byte limit: %d keys, want 4", got)
	}
	if _, err := c.Encrypt(context.Background(), make([]byte, 1001), nil); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Bypasses != 1 {
		t.Fatalf("a message over MaxBytes must bypass: %+v", st)
	}
	kr.generated.Store(0)
	m2, _ := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Minute, Now: clk.Now})
	c2 := client(t, m2)
	c2.Encrypt(context.Background(), []byte("x"), nil)
	clk.Add(59 * time.Second)
	c2.Encrypt(context.Background(), []byte("x"), nil)
	clk.Add(2 * time.Second)
	c2.Encrypt(context.Background(), []byte("x"), nil)
	if got := kr.generated.Load(); got != 2 {
		t.Fatalf("age limit: %d keys, want 2", got)
	}
	if st := m2.Stats(); st.Expired != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestConcurrentLimits: 64 goroutines × 1,000 messages never put more than
// MaxMessages messages on one data key, and a cold start makes one call.
func TestConcurrentLimits(t *testing.T) {
	kr := newCounting(t)
	kr.delay = 2 * time.Millisecond // a slow KMS: goroutines miss together
	cache, _ := NewCache(10)
	m, _ := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour, MaxMessages: 100})
	c := client(t, m)
	var mu sync.Mutex
	perKey := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		wg.Go(func() {
			<-start
			for range 1000 {
				ct, err := c.Encrypt(context.Background(), []byte("r"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				h, _ := envelope.ParseHeader(bytes.NewReader(ct))
				mu.Lock()
				perKey[string(h.EncryptedDataKeys[0].Ciphertext)]++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	for _, n := range perKey {
		if n > 100 {
			t.Fatalf("a data key encrypted %d messages, limit 100", n)
		}
	}
	if got := kr.generated.Load(); got != 640 || len(perKey) != 640 {
		t.Fatalf("64,000 messages at 100 per key: %d keys generated, %d seen; want 640", got, len(perKey))
	}
}

func TestColdStartOneCall(t *testing.T) {
	kr := newCounting(t)
	kr.delay = 50 * time.Millisecond
	cache, _ := NewCache(10)
	m, _ := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour})
	c := client(t, m)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() { c.Encrypt(context.Background(), []byte("r"), map[string]string{"k": "v"}) })
	}
	wg.Wait()
	if got := kr.generated.Load(); got != 1 {
		t.Fatalf("32 concurrent cold misses: %d calls, want 1", got)
	}
}

func TestPartitionsAndBypass(t *testing.T) {
	kr := newCounting(t)
	cache, _ := NewCache(10)
	a, _ := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour, Partition: "a"})
	b, _ := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour, Partition: "b"})
	client(t, a).Encrypt(context.Background(), []byte("x"), nil)
	client(t, b).Encrypt(context.Background(), []byte("x"), nil)
	if got := kr.generated.Load(); got != 2 {
		t.Fatalf("two partitions share keys: %d generated, want 2", got)
	}
	// Streaming with an unknown length bypasses the cache.
	w, err := client(t, a).NewEncryptWriter(context.Background(), &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if st := a.Stats(); st.Bypasses != 1 {
		t.Fatalf("unknown length must bypass: %+v", st)
	}
	// Identity-KDF suites are never cached.
	legacy, _ := envelope.NewWithMaterialsManager(a, envelope.WithSuite(0x0078), envelope.WithCommitmentPolicy(envelope.ForbidEncryptAllowDecrypt))
	before := kr.generated.Load()
	legacy.Encrypt(context.Background(), []byte("x"), nil)
	legacy.Encrypt(context.Background(), []byte("x"), nil)
	if got := kr.generated.Load() - before; got != 2 {
		t.Fatalf("identity suite cached: %d keys for 2 messages", got)
	}
}

// TestEvictionZeroes: a data key leaving the cache is zeroed in the cache,
// while copies handed out stay intact.
func TestEvictionZeroes(t *testing.T) {
	kr := newCounting(t)
	cache, _ := NewCache(1)
	m, _ := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour})
	req := &envelope.EncryptionRequest{EncryptionContext: map[string]string{"n": "1"}, Suite: envelope.AES256GCMHKDFSHA512Commit, PlaintextLength: 1}
	got, err := m.GetEncryptionMaterials(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := cache.lru.Peek(cache.lru.Keys()[0])
	held := bytes.Clone(got.DataKey)
	m.GetEncryptionMaterials(context.Background(), &envelope.EncryptionRequest{EncryptionContext: map[string]string{"n": "2"}, Suite: envelope.AES256GCMHKDFSHA512Commit, PlaintextLength: 1})
	if st := m.Stats(); st.Evictions != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !bytes.Equal(e.enc.DataKey, make([]byte, 32)) {
		t.Fatal("evicted data key not zeroed")
	}
	if !bytes.Equal(got.DataKey, held) {
		t.Fatal("a caller's copy was zeroed")
	}
}

// TestFillerUsesItsFill: with more distinct contexts in flight than the
// cache holds, an entry one request filled could be evicted (its data key
// zeroed) by another's before the filler used it; the filler then called
// the underlying manager again, and again: more underlying calls than
// requests, and Misses counting a request more than once. The filler is
// now served from its own call, charged to the entry before it is cached:
// at most one underlying call per request, every request counted once.
func TestFillerUsesItsFill(t *testing.T) {
	for _, dir := range []string{"encrypt", "decrypt"} {
		kr := newCounting(t)
		cache, _ := NewCache(1)
		m, _ := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour, MaxMessages: 1000})
		c := client(t, m)
		const goroutines, each = 64, 100
		msgs := make([][]byte, goroutines*each)
		if dir == "decrypt" {
			plain, _ := envelope.New(kr, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
			for i := range msgs {
				msgs[i], _ = plain.Encrypt(context.Background(), []byte("r"), map[string]string{"i": string(rune('a' + i%200))})
			}
		}
		base := m.Stats()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range goroutines {
			wg.Go(func() {
				<-start
				for i := range each {
					k := g*each + i
					var err error
					if dir == "encrypt" {
						_, err = c.Encrypt(context.Background(), []byte("r"), map[string]string{"i": string(rune('a' + k%200))})
					} else {
						_, _, err = c.Decrypt(context.Background(), msgs[k])
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		s := m.Stats()
		requests := int64(goroutines * each)
		calls := s.UnderlyingCalls - base.UnderlyingCalls
		counted := s.Hits + s.Misses + s.Bypasses + s.Refused - (base.Hits + base.Misses + base.Bypasses + base.Refused)
		if calls > requests || counted != requests {
			t.Errorf("%s: %d requests made %d underlying calls and were counted %d times (misses %d)", dir, requests, calls, counted, s.Misses-base.Misses)
		}
	}
}
