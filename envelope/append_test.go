package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestAppendForms: EncryptAppend and DecryptAppend keep dst's bytes,
// append what Encrypt and Decrypt return, grow a nil dst to exactly the
// output (signature aside), and reuse a buffer with room without moving it.
func TestAppendForms(t *testing.T) {
	ctx := context.Background()
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		for _, workers := range []int{1, 2} {
			c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(1024), envelope.WithFrameWorkers(workers))
			for _, n := range []int{0, 1, 1024, 300 << 10} {
				pt := testPlaintext(n)
				prefix := []byte("prefix")
				ct, err := c.EncryptAppend(ctx, bytes.Clone(prefix), pt, nil)
				if err != nil || !bytes.HasPrefix(ct, prefix) {
					t.Fatalf("%s/%d: EncryptAppend: %v", id, n, err)
				}
				msg := ct[len(prefix):]
				if want := len(mustEncrypt(t, c, pt, nil)); len(msg) != want && id == envelope.AES256GCMHKDFSHA512Commit {
					t.Fatalf("%s/%d: %d bytes, Encrypt writes %d", id, n, len(msg), want)
				}
				exact, err := c.EncryptAppend(ctx, nil, pt, nil)
				if err != nil || (id == envelope.AES256GCMHKDFSHA512Commit && cap(exact) != len(exact)) {
					t.Fatalf("%s/%d: nil dst: len %d cap %d, %v", id, n, len(exact), cap(exact), err)
				}
				got, _, err := c.DecryptAppend(ctx, bytes.Clone(prefix), msg)
				if err != nil || !bytes.Equal(got, append(bytes.Clone(prefix), pt...)) {
					t.Fatalf("%s/%d: DecryptAppend: %v", id, n, err)
				}
				if exact, _, err := c.DecryptAppend(ctx, nil, msg); err != nil || cap(exact) != len(exact) && n > 0 {
					t.Fatalf("%s/%d: nil dst: len %d cap %d, %v", id, n, len(exact), cap(exact), err)
				}
				// A reused buffer with room is not moved.
				buf := make([]byte, 0, len(ct)+n+64)
				enc, err := c.EncryptAppend(ctx, buf, pt, nil)
				if err != nil || &enc[:1][0] != &buf[:1][0] {
					t.Fatalf("%s/%d: EncryptAppend moved a buffer with room: %v", id, n, err)
				}
				dbuf := make([]byte, 0, n+1)
				if dec, _, err := c.DecryptAppend(ctx, dbuf, enc); err != nil || !bytes.Equal(dec, pt) || n > 0 && &dec[:1][0] != &dbuf[:1][0] {
					t.Fatalf("%s/%d: DecryptAppend moved a buffer with room: %v", id, n, err)
				}
			}
		}
	}
}

// TestDecryptAppendFailureZeroes: a message that fails to verify leaves
// dst's own bytes alone and zeroes the plaintext it had appended.
func TestDecryptAppendFailureZeroes(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameLength(64))
	pt := bytes.Repeat([]byte{0xAA}, 4096)
	ct := mustEncrypt(t, c, pt, nil)
	ct[len(ct)-1] ^= 1 // the signature: every frame opens, then verification fails
	buf := append(make([]byte, 0, 8192), "keep"...)
	if _, _, err := c.DecryptAppend(ctx, buf, ct); !errors.Is(err, envelope.ErrSignature) {
		t.Fatalf("DecryptAppend: %v, want ErrSignature", err)
	}
	if string(buf[:4]) != "keep" {
		t.Fatalf("dst's bytes changed: %q", buf[:4])
	}
	if i := bytes.IndexByte(buf[4:4+len(pt)], 0xAA); i >= 0 {
		t.Fatalf("plaintext byte left at %d", 4+i)
	}
}

// TestEncryptAppendAllocs: encrypting into a reused buffer allocates no
// more than a fixed number of objects, however long the plaintext.
func TestEncryptAppendAllocs(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameWorkers(1))
	pt := testPlaintext(1 << 20)
	buf, err := c.EncryptAppend(ctx, nil, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := testing.AllocsPerRun(10, func() {
		out, err := c.EncryptAppend(ctx, buf[:0], pt, nil)
		if err != nil || &out[0] != &buf[0] {
			t.Fatal("moved")
		}
	})
	dbuf := make([]byte, 0, len(pt))
	dec := testing.AllocsPerRun(10, func() {
		out, _, err := c.DecryptAppend(ctx, dbuf, buf)
		if err != nil || &out[0] != &dbuf[:1][0] {
			t.Fatal("moved")
		}
	})
	if enc > 40 || dec > 40 {
		t.Fatalf("%v allocs to encrypt, %v to decrypt 1 MiB into a reused buffer", enc, dec)
	}
}

// TestSmallMessageAllocs: a 1 KiB one-shot 0x0478 message under the raw
// AES keyring costs a fixed, small number of allocations each way (the
// issue 15 target: at most 12). Encrypt: the sealer (materials, header),
// the keyring's one buffer (data key, EDK, AAD), the message key's AES and
// GCM, the frame job, the output. Decrypt: the call's state (header,
// request, materials), the context's map (2) and strings, the provider
// ID, the keyring's buffer, AES and GCM, the frame job, the output.
func TestSmallMessageAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what escapes to the heap")
	}
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameWorkers(1))
	pt := testPlaintext(1 << 10)
	ec := map[string]string{"tenant": "clinic-7", "purpose": "bench"}
	ct := mustEncrypt(t, c, pt, ec)
	enc := testing.AllocsPerRun(50, func() {
		if _, err := c.Encrypt(ctx, pt, ec); err != nil {
			t.Fatal(err)
		}
	})
	dec := testing.AllocsPerRun(50, func() {
		if _, _, err := c.Decrypt(ctx, ct); err != nil {
			t.Fatal(err)
		}
	})
	if enc > 5 || dec > 10 {
		t.Fatalf("1 KiB message: %v allocations to encrypt (want <= 5), %v to decrypt (want <= 10)", enc, dec)
	}
}

// TestOneShotReuse: one-shot encryption reuses a Client's per-message
// storage; messages encrypted one after another and on many goroutines at
// once, with contexts and suites that differ (a header that fits the
// storage and one that does not, signed and unsigned, a signed one hashed
// on a goroutine beside its sealing), each decrypt to their own
// plaintext, context and suite. Under -race it also checks that
// no storage is reused while a call still uses it.
func TestOneShotReuse(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(1024))
	big := map[string]string{}
	for i := range 40 {
		big[fmt.Sprintf("key-%02d", i)] = strings.Repeat("v", 20)
	}
	type msg struct {
		ec    map[string]string
		suite envelope.SuiteID
		pt    []byte
	}
	var msgs []msg
	for i, ec := range []map[string]string{big, {"a": "b"}, nil, {"tenant": "t-1"}} {
		for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
			msgs = append(msgs, msg{ec, id, testPlaintext(i * 700)})
		}
	}
	check := func(m msg) error {
		ct, err := c.Encrypt(ctx, m.pt, m.ec, envelope.WithSuite(m.suite))
		if err != nil {
			return err
		}
		pt, h, err := c.Decrypt(ctx, ct)
		if err != nil {
			return err
		}
		got := maps.Clone(h.EncryptionContext)
		delete(got, "aws-crypto-public-key")
		if !bytes.Equal(pt, m.pt) || h.Suite != m.suite || len(got) != len(m.ec) || !maps.Equal(got, m.ec) && len(m.ec) > 0 {
			return fmt.Errorf("%s, %d pairs, %d bytes: got %s, %d pairs, %d bytes", m.suite, len(m.ec), len(m.pt), h.Suite, len(got), len(pt))
		}
		return nil
	}
	// A signed message large enough to be hashed beside its sealing, on
	// a goroutine of its own (sealSigned), one after another only.
	large := msg{map[string]string{"a": "b"}, envelope.AES256GCMHKDFSHA512CommitP384, testPlaintext(5 << 20)}
	for range 3 {
		for _, m := range append(msgs, large) {
			if err := check(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(msgs))
	for g := range 8 {
		wg.Go(func() {
			for i := range msgs {
				errs <- check(msgs[(i+g)%len(msgs)])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecryptHeaderDropsCiphertext: the Header Decrypt returns shares one
// allocation with the call's state; it must not keep the ciphertext alive.
func TestDecryptHeaderDropsCiphertext(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameWorkers(1))
	ct := mustEncrypt(t, c, testPlaintext(1<<20), map[string]string{"k": "v"})
	freed := make(chan struct{})
	runtime.AddCleanup(&ct[0], func(ch chan struct{}) { close(ch) }, freed)
	_, h, err := c.Decrypt(ctx, ct)
	if err != nil {
		t.Fatal(err)
	}
	ct = nil
	for range 20 {
		runtime.GC()
		select {
		case <-freed:
			if h.EncryptionContext["k"] != "v" {
				t.Fatalf("header context %v", h.EncryptionContext)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("the ciphertext is still reachable from the Header Decrypt returned")
}

// TestAppendOverlap: EncryptAppend and DecryptAppend refuse a dst whose
// spare capacity overlaps their input, in place included, with
// ErrBufferOverlap, no output and the input untouched, before a data key
// is requested. Without the check a small record encrypted in place, as
// crypto/cipher's Seal allows, returned a message of its header's bytes
// instead of the record, with no error; a larger one panicked on a
// worker goroutine, which no caller can recover.
func TestAppendOverlap(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"tenant": "a"}
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		for _, n := range []int{100, 1 << 20} {
			kr := &keyCalls{Keyring: aesKeyring(t)}
			c := newClient(t, kr, id, envelope.WithFrameLength(4096), envelope.WithFrameWorkers(2))
			pt := testPlaintext(n)
			ct, err := c.Encrypt(ctx, pt, ec)
			if err != nil {
				t.Fatal(err)
			}
			kr.calls = 0
			// b holds src, with room for any output after it.
			enc := func(dst, in []byte) ([]byte, error) { return c.EncryptAppend(ctx, dst, in, ec) }
			dec := func(dst, in []byte) ([]byte, error) { out, _, err := c.DecryptAppend(ctx, dst, in); return out, err }
			for _, tc := range []struct {
				name    string
				src     []byte
				op      func(dst, in []byte) ([]byte, error)
				dst, in func(b []byte) []byte
			}{
				{"EncryptAppend in place", pt, enc, func(b []byte) []byte { return b[:0] }, func(b []byte) []byte { return b }},
				{"EncryptAppend, dst's spare capacity on the plaintext's tail", pt, enc, func(b []byte) []byte { return b[:10] }, func(b []byte) []byte { return b[20:] }},
				{"DecryptAppend in place", ct, dec, func(b []byte) []byte { return b[:0] }, func(b []byte) []byte { return b }},
				{"DecryptAppend, the message inside dst's spare capacity", ct, dec, func(b []byte) []byte { return b[:0:len(b)] }, func(b []byte) []byte { return b[1:] }},
			} {
				name := fmt.Sprintf("%s/%s/%d bytes", tc.name, id, n)
				b := append(make([]byte, 0, 3*len(tc.src)+4096), tc.src...)
				var out []byte
				func() {
					defer func() {
						if r := recover(); r != nil {
							err = fmt.Errorf("panic: %v", r)
						}
					}()
					out, err = tc.op(tc.dst(b), tc.in(b))
				}()
				if !errors.Is(err, envelope.ErrBufferOverlap) || out != nil {
					t.Errorf("%s: %d bytes, %v; want ErrBufferOverlap", name, len(out), err)
				}
				if !bytes.Equal(b, tc.src) {
					t.Errorf("%s: the input changed", name)
				}
			}
			if kr.calls != 0 {
				t.Errorf("%s/%d bytes: %d keyring calls, want 0", id, n, kr.calls)
			}
			// The output after its input, in the same buffer: no overlap.
			b := append(make([]byte, 0, 3*n+4096), pt...)
			out, err := c.EncryptAppend(ctx, b, b, ec)
			if err != nil {
				t.Fatal(err)
			}
			if got, _, err := c.Decrypt(ctx, out[n:]); err != nil || !bytes.Equal(got, pt) {
				t.Errorf("%s/%d bytes: EncryptAppend after its input: %v", id, n, err)
			}
		}
	}
}

// keyCalls counts the encrypt and decrypt calls that reach its keyring.
type keyCalls struct {
	envelope.Keyring
	calls int
}

func (k *keyCalls) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	k.calls++
	return k.Keyring.OnEncrypt(ctx, m)
}

func (k *keyCalls) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	k.calls++
	return k.Keyring.OnDecrypt(ctx, m, edks)
}
