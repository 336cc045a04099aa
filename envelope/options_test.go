package envelope_test

import (
	"context"
	"errors"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestOptionAllocations: options are interface values, yet a call given
// none allocates no more than before, and a call given any number of them
// allocates only its own copy of the configuration.
func TestOptionAllocations(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameWorkers(1))
	pt := make([]byte, 1024)
	ct, err := c.Encrypt(ctx, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 1 // not a constant: the closures capture a variable
	for _, tc := range []struct {
		name       string
		none, some func()
	}{
		{"Encrypt",
			func() { c.Encrypt(ctx, pt, nil) },
			func() {
				c.Encrypt(ctx, pt, nil, envelope.WithFrameWorkers(n), envelope.WithFrameLength(4096*n), envelope.WithCommitmentPolicy(envelope.RequireEncryptRequireDecrypt))
			}},
		{"Decrypt",
			func() { c.Decrypt(ctx, ct) },
			func() {
				c.Decrypt(ctx, ct, envelope.WithFrameWorkers(n), envelope.WithMaxEncryptedDataKeys(n), envelope.WithUnsignedOnly())
			}},
	} {
		none, some := testing.AllocsPerRun(50, tc.none), testing.AllocsPerRun(50, tc.some)
		if some > none+1 {
			t.Errorf("%s: %v allocations with three options, %v without: want at most one more", tc.name, some, none)
		}
	}
}

// TestOptionForeignType: a type of another package that embeds an option
// interface is not an option of this package; it fails with
// ErrInvalidOption rather than being ignored.
func TestOptionForeignType(t *testing.T) {
	type foreign struct{ envelope.CommonOption }
	kr := aesKeyring(t)
	if _, err := envelope.New(kr, foreign{envelope.WithFrameWorkers(1)}); !errors.Is(err, envelope.ErrInvalidOption) {
		t.Errorf("New: %v, want ErrInvalidOption", err)
	}
	c := newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit)
	if _, err := c.Encrypt(context.Background(), []byte("m"), nil, foreign{envelope.WithFrameWorkers(1)}); !errors.Is(err, envelope.ErrInvalidOption) {
		t.Errorf("Encrypt: %v, want ErrInvalidOption", err)
	}
}
