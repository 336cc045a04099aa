package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// legacySuites are v1 suites with no KDF, with HKDF and with a signature.
var legacySuites = []envelope.SuiteID{envelope.AES256GCM, envelope.AES256GCMHKDFSHA256, envelope.AES256GCMHKDFSHA384ECDSAP384}

// TestDecryptNonFramed: Decrypt and DecryptAppend read a legacy
// non-framed message as NewDecryptReader does, asking the keyring once,
// and refuse a flipped bit, a cut and trailing bytes.
func TestDecryptNonFramed(t *testing.T) {
	ctx := context.Background()
	kr := &countingKeyring{Keyring: aesKeyring(t)}
	c, err := envelope.New(kr, envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt))
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"purpose": "legacy"}
	for _, id := range legacySuites {
		for _, n := range []int{0, 1, 1000} {
			pt := testPlaintext(n)
			ct, err := envelope.SealNonFramed(ctx, c, id, pt, ec)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.NewDecryptReader(ctx, bytes.NewReader(ct))
			if err != nil {
				t.Fatalf("%s/%d: NewDecryptReader: %v", id, n, err)
			}
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s/%d: reader: %v", id, n, err)
			}
			kr.Calls.Store(0)
			got, h, err := c.Decrypt(ctx, ct)
			if err != nil || !bytes.Equal(got, pt) || h.FrameLength != 0 || h.EncryptionContext["purpose"] != "legacy" {
				t.Fatalf("%s/%d: Decrypt: %v", id, n, err)
			}
			if calls := kr.Calls.Load(); calls != 1 {
				t.Fatalf("%s/%d: Decrypt asked the keyring %d times, want once", id, n, calls)
			}
			if got, _, err := c.DecryptAppend(ctx, []byte("pre"), ct); err != nil || string(got) != "pre"+string(pt) {
				t.Fatalf("%s/%d: DecryptAppend: %v", id, n, err)
			}
			for _, bad := range [][]byte{flip(ct, len(ct)-1), flip(ct, len(ct)-40), ct[:len(ct)-1], append(bytes.Clone(ct), 0)} {
				if got, _, err := c.Decrypt(ctx, bad); got != nil || err == nil {
					t.Fatalf("%s/%d: a bad message decrypted: %v", id, n, err)
				}
			}
		}
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 1
	return b
}

// TestDecryptNonFramedMemory: Decrypt of a non-framed message allocates
// the plaintext once and little else, not the body buffered and then
// copied.
func TestDecryptNonFramedMemory(t *testing.T) {
	ctx := context.Background()
	c, err := envelope.New(aesKeyring(t), envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt))
	if err != nil {
		t.Fatal(err)
	}
	pt := testPlaintext(4 << 20)
	ct, err := envelope.SealNonFramed(ctx, c, envelope.AES256GCMHKDFSHA256, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, _, err := c.Decrypt(ctx, ct)
	runtime.ReadMemStats(&after)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatal(err)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > uint64(len(pt))+64<<10 {
		t.Fatalf("Decrypt of %d bytes allocated %d", len(pt), a)
	}
}

// TestHostileDecryptNonFramedLength: a non-framed body declaring more
// than WithMaxNonFramedLength, or more than the message holds, fails
// before its content is allocated.
func TestHostileDecryptNonFramedLength(t *testing.T) {
	ctx := context.Background()
	c, err := envelope.New(aesKeyring(t), envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range legacySuites {
		pt := testPlaintext(2 << 20)
		ct, err := envelope.SealNonFramed(ctx, c, id, pt, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			ct   []byte
			max  int64
			want error
		}{
			{"over the limit", ct, 1 << 20, envelope.ErrMalformedBody},
			{"beyond the input", ct[:1<<20], 4 << 20, envelope.ErrTruncated},
		} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, _, err := c.Decrypt(ctx, tc.ct, envelope.WithMaxNonFramedLength(tc.max))
			runtime.ReadMemStats(&after)
			if got != nil || !errors.Is(err, tc.want) {
				t.Fatalf("%s/%s: %v, want %v", id, tc.name, err, tc.want)
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > 256<<10 {
				t.Fatalf("%s/%s: allocated %d bytes before refusing", id, tc.name, a)
			}
		}
	}
}
