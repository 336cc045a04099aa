package keycache

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/wire"
)

func testManager(t testing.TB, partition string) *Manager {
	t.Helper()
	cache, _ := NewCache(10)
	m, err := New(envelope.NewDefaultMaterialsManager(newCounting(t).kr), cache, Options{MaxAge: time.Hour, Partition: partition})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func edk(id, info, ct string) envelope.EncryptedDataKey {
	return envelope.EncryptedDataKey{ProviderID: id, ProviderInfo: []byte(info), Ciphertext: []byte(ct)}
}

// TestEncryptEntryKeys: two encrypt requests share an entry exactly when
// partition, suite, policy and context are equal, whatever the maps'
// identity; a key too long to keep exact is the SHA-512 ID.
func TestEncryptEntryKeys(t *testing.T) {
	a, b := testManager(t, "a"), testManager(t, "b")
	long := map[string]string{"k": strings.Repeat("v", maxExactKey)}
	req := func(s envelope.SuiteID, p envelope.CommitmentPolicy, ec map[string]string) *envelope.EncryptionRequest {
		return &envelope.EncryptionRequest{Suite: s, CommitmentPolicy: p, EncryptionContext: ec}
	}
	base := req(0x0478, envelope.RequireEncryptRequireDecrypt, map[string]string{"ab": "c", "d": "e"})
	for _, c := range []struct {
		name  string
		m     *Manager
		r     *envelope.EncryptionRequest
		share bool
	}{
		{"the same, another map", a, req(0x0478, envelope.RequireEncryptRequireDecrypt, map[string]string{"d": "e", "ab": "c"}), true},
		{"another partition", b, base, false},
		{"another suite", a, req(0x0578, envelope.RequireEncryptRequireDecrypt, base.EncryptionContext), false},
		{"no suite", a, req(0, envelope.RequireEncryptRequireDecrypt, base.EncryptionContext), false},
		{"another policy", a, req(0x0478, envelope.RequireEncryptAllowDecrypt, base.EncryptionContext), false},
		{"a byte moved from key to value", a, req(0x0478, envelope.RequireEncryptRequireDecrypt, map[string]string{"a": "bc", "d": "e"}), false},
		{"a pair fewer", a, req(0x0478, envelope.RequireEncryptRequireDecrypt, map[string]string{"ab": "c"}), false},
		{"no context", a, req(0x0478, envelope.RequireEncryptRequireDecrypt, nil), false},
		{"a long context", a, req(0x0478, envelope.RequireEncryptRequireDecrypt, long), false},
	} {
		x, err := a.encryptID(base)
		if err != nil {
			t.Fatal(err)
		}
		y, err := c.m.encryptID(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if (x.key == y.key) != c.share {
			t.Errorf("%s: shares an entry %v, want %v", c.name, x.key == y.key, c.share)
		}
	}
	x, _ := a.encryptID(req(0x0478, 0, long))
	y, _ := a.encryptID(req(0x0478, 0, maps.Clone(long)))
	h, _ := a.encryptHash(req(0x0478, 0, long))
	if x.key != "h"+h || y.key != x.key {
		t.Fatalf("a long context's key %q, want h and its SHA-512 ID", x.key[:16])
	}
}

// TestDecryptEntryKeys: two decrypt requests share an entry exactly when
// partition, suite, policy, the set of data keys, the context and the
// expected context are equal, in whatever order the data keys come.
func TestDecryptEntryKeys(t *testing.T) {
	a, b := testManager(t, "a"), testManager(t, "b")
	k1, k2, k3 := edk("aws-kms", "arn1", "ct1"), edk("aws-kms", "arn2", "ct2"), edk("raw", "x", "y")
	req := func(s envelope.SuiteID, keys []envelope.EncryptedDataKey, ec, rc map[string]string) *envelope.DecryptionRequest {
		return &envelope.DecryptionRequest{Suite: s, CommitmentPolicy: envelope.RequireEncryptRequireDecrypt, EncryptedDataKeys: keys, EncryptionContext: ec, ReproducedContext: rc}
	}
	ec := map[string]string{"tenant": "a"}
	base := req(0x0478, []envelope.EncryptedDataKey{k1, k2, k3}, ec, nil)
	many := []envelope.EncryptedDataKey{k1, k2, k3, edk("a", "b", "c"), edk("d", "e", "f")}
	big := []envelope.EncryptedDataKey{edk("aws-kms", "arn", strings.Repeat("c", maxExactKey))}
	policy := req(0x0478, base.EncryptedDataKeys, ec, nil)
	policy.CommitmentPolicy = envelope.RequireEncryptAllowDecrypt
	for _, c := range []struct {
		name  string
		m     *Manager
		r     *envelope.DecryptionRequest
		share bool
	}{
		{"the same keys in another order", a, req(0x0478, []envelope.EncryptedDataKey{k3, k1, k2}, map[string]string{"tenant": "a"}, nil), true},
		{"an empty expected context", a, req(0x0478, []envelope.EncryptedDataKey{k2, k3, k1}, ec, map[string]string{}), true},
		{"another partition", b, base, false},
		{"another suite", a, req(0x0578, base.EncryptedDataKeys, ec, nil), false},
		{"another policy", a, policy, false},
		{"a key fewer", a, req(0x0478, []envelope.EncryptedDataKey{k1, k2}, ec, nil), false},
		{"a key's byte moved between fields", a, req(0x0478, []envelope.EncryptedDataKey{k1, k2, edk("ra", "wx", "y")}, ec, nil), false},
		{"another context", a, req(0x0478, base.EncryptedDataKeys, map[string]string{"tenant": "b"}, nil), false},
		{"the context given as expected instead", a, req(0x0478, base.EncryptedDataKeys, nil, ec), false},
		{"an expected context", a, req(0x0478, base.EncryptedDataKeys, ec, ec), false},
		{"five keys", a, req(0x0478, many, ec, nil), false},
	} {
		x, err := a.decryptID(base)
		if err != nil {
			t.Fatal(err)
		}
		y, err := c.m.decryptID(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if (x.key == y.key) != c.share {
			t.Errorf("%s: shares an entry %v, want %v", c.name, x.key == y.key, c.share)
		}
	}
	for _, keys := range [][]envelope.EncryptedDataKey{many, big} {
		r := req(0x0478, keys, ec, nil)
		x, _ := a.decryptID(r)
		h, _ := a.decryptHash(r)
		rev := req(0x0478, slices.Clone(keys), ec, nil)
		slices.Reverse(rev.EncryptedDataKeys)
		y, _ := a.decryptID(rev)
		if x.key != "h"+h || y.key != x.key || len(x.key) != 1+sha512.Size {
			t.Fatalf("%d keys: key %x, want h and the SHA-512 ID, in any order", len(keys), x.key[:16])
		}
	}
}

// TestEventIDs: events report the first 8 bytes of the entry ID the
// package doc gives (the other SDKs' SHA-512 formula), computed here from
// the doc alone, never the key the cache looks entries up by.
func TestEventIDs(t *testing.T) {
	var events []Event
	cache, _ := NewCache(10)
	m, err := New(envelope.NewDefaultMaterialsManager(newCounting(t).kr), cache, Options{
		MaxAge: time.Hour, Partition: "p",
		OnEvent: func(e Event) { events = append(events, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, m)
	ctx := context.Background()
	ec := map[string]string{"tenant": "clinic-7", "purpose": "lab-results"}
	ct, h := sealed(t, c, ec)
	if _, _, err := c.Decrypt(ctx, ct); err != nil {
		t.Fatal(err)
	}
	sum := func(b ...[]byte) []byte {
		d := sha512.New()
		for _, x := range b {
			d.Write(x)
		}
		return d.Sum(nil)
	}
	ser, err := wire.AppendContext(nil, ec)
	if err != nil {
		t.Fatal(err)
	}
	part := sum([]byte("p"))
	suite := binary.BigEndian.AppendUint16(nil, uint16(envelope.AES256GCMHKDFSHA512Commit))
	policy := []byte{byte(envelope.RequireEncryptRequireDecrypt)}
	encID := sum(part, []byte{1}, suite, sum(ser), policy)
	var edks [][]byte
	for _, k := range h.EncryptedDataKeys {
		edks = append(edks, sum(wire.AppendEncryptedDataKey(nil, k.ProviderID, k.ProviderInfo, k.Ciphertext)))
	}
	slices.SortFunc(edks, bytes.Compare)
	decID := sum(slices.Concat(append(append([][]byte{part, suite}, edks...), make([]byte, 64), sum(ser), policy)...))
	want := []Event{
		{Miss, true, hex.EncodeToString(encID[:8])},
		{Miss, false, hex.EncodeToString(decID[:8])},
	}
	if !slices.Equal(events, want) {
		t.Fatalf("events %+v, want %+v", events, want)
	}
}
