package keycache

import (
	"slices"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// gen draws a request's fields from fuzz bytes, from small alphabets so
// that two inputs often build equal or nearly equal requests.
type gen struct{ b []byte }

func (g *gen) next() int {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return int(c)
}

func (g *gen) str() string {
	words := []string{"", "a", "b", "ab", "ba", "\x00", "\x00\x01"}
	if c := g.next(); c >= 0xf0 {
		return strings.Repeat("v", 200*(c-0xef)) // past an exact key's bound
	} else {
		return words[c%len(words)]
	}
}

func (g *gen) context() map[string]string {
	n := g.next() % 5
	if n == 4 {
		return nil
	}
	ec := make(map[string]string, n)
	for range n {
		ec[g.str()] = g.str()
	}
	return ec
}

func (g *gen) suite() envelope.SuiteID {
	return []envelope.SuiteID{0, 0x0478, 0x0578, 0x0178}[g.next()%4]
}

func (g *gen) policy() envelope.CommitmentPolicy {
	return []envelope.CommitmentPolicy{envelope.RequireEncryptRequireDecrypt, envelope.RequireEncryptAllowDecrypt}[g.next()%2]
}

func (g *gen) decryptRequest() *envelope.DecryptionRequest {
	r := &envelope.DecryptionRequest{Suite: g.suite(), CommitmentPolicy: g.policy()}
	for range g.next() % 7 {
		r.EncryptedDataKeys = append(r.EncryptedDataKeys, envelope.EncryptedDataKey{ProviderID: g.str(), ProviderInfo: []byte(g.str()), Ciphertext: []byte(g.str())})
	}
	r.EncryptionContext, r.ReproducedContext = g.context(), g.context()
	return r
}

// FuzzEntryKeys: two requests share an entry (equal keys) exactly when
// their SHA-512 IDs, the other SDKs' formula, are equal: the exact keys
// tell apart every pair of requests the specification does, and no more;
// and a request's data keys in reverse order share its entry.
func FuzzEntryKeys(f *testing.F) {
	f.Add([]byte{1, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1}, []byte{1, 0, 3, 7, 8, 9, 4, 5, 6, 1, 2, 3, 1, 2, 1})
	f.Add([]byte{1, 0, 1, 1, 0xf3, 2, 0, 4}, []byte{1, 0, 1, 1, 0xf3, 3, 0, 4})
	f.Add([]byte{2, 1, 5, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}, []byte{2, 1, 5, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 4})
	m := testManager(f, "p")
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ga, gb := &gen{a}, &gen{b}
		// Encrypt: suite, policy, context.
		ea := &envelope.EncryptionRequest{Suite: ga.suite(), CommitmentPolicy: ga.policy(), EncryptionContext: ga.context()}
		eb := &envelope.EncryptionRequest{Suite: gb.suite(), CommitmentPolicy: gb.policy(), EncryptionContext: gb.context()}
		x, errx := m.encryptID(ea)
		y, erry := m.encryptID(eb)
		hx, _ := m.encryptHash(ea)
		hy, _ := m.encryptHash(eb)
		if errx == nil && erry == nil && (x.key == y.key) != (hx == hy) {
			t.Fatalf("encrypt: keys equal %v, SHA-512 IDs equal %v: %+v, %+v", x.key == y.key, hx == hy, ea, eb)
		}
		if len(x.key) > maxExactKey+1 {
			t.Fatalf("encrypt key of %d bytes", len(x.key))
		}
		// Decrypt: the rest of the input.
		da, db := ga.decryptRequest(), gb.decryptRequest()
		x, errx = m.decryptID(da)
		y, erry = m.decryptID(db)
		if errx != nil || erry != nil {
			return
		}
		hx, _ = m.decryptHash(da)
		hy, _ = m.decryptHash(db)
		if (x.key == y.key) != (hx == hy) {
			t.Fatalf("decrypt: keys equal %v, SHA-512 IDs equal %v: %+v, %+v", x.key == y.key, hx == hy, da, db)
		}
		if len(x.key) > maxExactKey+1 {
			t.Fatalf("decrypt key of %d bytes", len(x.key))
		}
		rev := *da
		rev.EncryptedDataKeys = slices.Clone(da.EncryptedDataKeys)
		slices.Reverse(rev.EncryptedDataKeys)
		if r, err := m.decryptID(&rev); err != nil || r.key != x.key {
			t.Fatalf("the data keys reversed: another entry (%v)", err)
		}
	})
}
