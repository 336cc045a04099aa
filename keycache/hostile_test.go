package keycache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
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

// anyKey "decrypts" every data key to the SHA-256 of its ciphertext:
// distinct data keys, distinct keys.
type anyKey struct{ calls int }

func (k *anyKey) OnEncrypt(context.Context, *envelope.EncryptionMaterials) error {
	return errors.New("anyKey: decrypt only")
}

func (k *anyKey) OnDecrypt(_ context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	k.calls++
	d := sha256.Sum256(edks[0].Ciphertext)
	m.DataKey = d[:]
	return nil
}

// TestOversizedDataKeyFields: a request whose data keys no header could
// hold (a field past 65535 bytes) is refused before any lookup. Both
// entry IDs serialize data keys with 16-bit lengths; a longer field
// wraps, and two distinct data keys, a and b below, serialize to the same
// bytes: b was served a's data key.
func TestOversizedDataKeyFields(t *testing.T) {
	ctx := context.Background()
	tail := []byte("ct")
	// a: info of 65536+1 bytes whose bytes 1..2 are len(tail); b: info of
	// 1 byte, then a ciphertext that is the rest of a's serialization.
	info := bytes.Repeat([]byte{'i'}, 1<<16+1)
	binary.BigEndian.PutUint16(info[1:], uint16(len(tail)))
	a := envelope.EncryptedDataKey{ProviderID: "p", ProviderInfo: info, Ciphertext: tail}
	b := envelope.EncryptedDataKey{ProviderID: "p", ProviderInfo: info[:1], Ciphertext: append(bytes.Clone(info[3:]), append([]byte{0, byte(len(tail))}, tail...)...)}
	var sa, sb []byte
	for _, k := range []envelope.EncryptedDataKey{a, b} {
		s := binary.BigEndian.AppendUint16(nil, uint16(len(k.ProviderID)))
		s = append(s, k.ProviderID...)
		s = binary.BigEndian.AppendUint16(s, uint16(len(k.ProviderInfo)))
		s = append(s, k.ProviderInfo...)
		s = binary.BigEndian.AppendUint16(s, uint16(len(k.Ciphertext)))
		sa, sb = sb, append(s, k.Ciphertext...)
	}
	if !bytes.Equal(sa, sb) {
		t.Fatal("the two data keys do not collide: the test is wrong")
	}
	kr := &anyKey{}
	cache, _ := NewCache(10)
	m, err := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []envelope.EncryptedDataKey{a, b} {
		req := &envelope.DecryptionRequest{Suite: 0x0478, CommitmentPolicy: envelope.RequireEncryptRequireDecrypt, EncryptedDataKeys: []envelope.EncryptedDataKey{k}, EncryptionContext: map[string]string{}}
		if dm, err := m.DecryptMaterials(ctx, req); !errors.Is(err, envelope.ErrMalformedHeader) {
			want := sha256.Sum256(k.Ciphertext)
			t.Errorf("data key %c: %v (served its own key: %v), want ErrMalformedHeader", "ab"[i], err, dm != nil && bytes.Equal(dm.DataKey, want[:]))
		}
	}
	if kr.calls != 0 {
		t.Errorf("%d keyring calls, want 0", kr.calls)
	}
}

// panicky panics in OnDecrypt once entered is signalled and after wait.
type panicky struct {
	entered chan struct{}
	wait    time.Duration
}

func (p *panicky) OnEncrypt(context.Context, *envelope.EncryptionMaterials) error {
	return errors.New("panicky: decrypt only")
}

func (p *panicky) OnDecrypt(context.Context, *envelope.DecryptionMaterials, []envelope.EncryptedDataKey) error {
	close(p.entered)
	time.Sleep(p.wait)
	panic("keyring bug")
}

// TestFillPanic: a panic in the underlying manager reaches the caller of
// the request whose miss ran it, on its own goroutine (recoverable), and
// a request that waited for that fill gets an error instead of waiting
// forever.
func TestFillPanic(t *testing.T) {
	kr := &panicky{entered: make(chan struct{}), wait: 200 * time.Millisecond}
	cache, _ := NewCache(10)
	m, err := New(envelope.NewDefaultMaterialsManager(kr), cache, Options{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req := &envelope.DecryptionRequest{Suite: 0x0478, CommitmentPolicy: envelope.RequireEncryptRequireDecrypt,
		EncryptedDataKeys: []envelope.EncryptedDataKey{edk("p", "i", "c")}, EncryptionContext: map[string]string{}}
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		m.DecryptMaterials(context.Background(), req)
	}()
	<-kr.entered
	if _, err := m.DecryptMaterials(context.Background(), req); !errors.Is(err, errFillPanicked) {
		t.Errorf("the waiting request: %v, want errFillPanicked", err)
	}
	if r := <-recovered; r != "keyring bug" {
		t.Errorf("the request that ran the fill recovered %v, want the keyring's panic", r)
	}
}
