package kmslocal

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzCheckPolicy feeds arbitrary key policies, as any client can send
// through PutKeyPolicy: checkPolicy must not panic, must refuse with one of
// its typed errors, and must accept only what KMS would store.
func FuzzCheckPolicy(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`,
		`{"Statement":{"Effect":"Deny","Principal":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`,
		`{"Statement":[]}`, `[]`, `null`, `{"Statement":null}`, `{"Statement":[null]}`, `{"Statement":[1]}`,
		"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"\u00e9\"}}", "\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := checkPolicy(p)
		if err != nil {
			if !errors.Is(err, ErrMalformedPolicyDocument) && !errors.Is(err, ErrLimitExceeded) && !errors.Is(err, ErrValidation) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(p) > maxPolicy || !json.Valid([]byte(p)) || strings.ContainsFunc(p, func(r rune) bool { return r > 0xff }) {
			t.Fatalf("accepted %q", p)
		}
	})
}
