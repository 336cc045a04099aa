package envelope_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"testing"
	"testing/iotest"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// reencKeyring is a raw AES keyring under a wrapping key other than
// aesKeyring's: the "new key" of the re-encryption tests.
func reencKeyring(t *testing.T) envelope.Keyring {
	t.Helper()
	kr, err := keyring.NewRawAES(testNamespace, "aes-256-new", testWrappingKey(0x77))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// reencMessage is an old message of suite id in frames of 1000 bytes,
// written by a client of aesKeyring, and its plaintext.
func reencMessage(t *testing.T, id envelope.SuiteID, ec map[string]string) (ct, pt []byte) {
	t.Helper()
	pt = testPlaintext(5500) // five regular frames and a final one
	return mustEncrypt(t, newClient(t, aesKeyring(t), id, envelope.WithFrameLength(1000)), pt, ec), pt
}

func TestReencryptRoundTrip(t *testing.T) {
	ec := map[string]string{"tenant": "t-1", "record": "patient/8812"}
	for _, from := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384, envelope.AES256GCMHKDFSHA256, envelope.AES256GCMHKDFSHA384ECDSAP384} {
		for _, toID := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
			for _, workers := range []int{1, 3} {
				t.Run(from.String()+"-to-"+toID.String()+"/workers="+string(rune('0'+workers)), func(t *testing.T) {
					old, pt := reencMessage(t, from, ec)
					// Reading a non-committing message takes the policy that allows it.
					dec := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit,
						envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt), envelope.WithFrameWorkers(workers))
					to := newClient(t, reencKeyring(t), toID, envelope.WithFrameLength(768), envelope.WithFrameWorkers(workers))
					var dst bytes.Buffer
					res, err := dec.Reencrypt(context.Background(), &dst, bytes.NewReader(old), to, nil)
					if err != nil {
						t.Fatal(err)
					}
					if res.Old.Suite != from || res.New.Suite != toID || res.New.FrameLength != 768 || res.PlaintextLength != int64(len(pt)) {
						t.Errorf("old suite %s, new suite %s frame %d, %d bytes", res.Old.Suite, res.New.Suite, res.New.FrameLength, res.PlaintextLength)
					}
					got, h, err := to.Decrypt(context.Background(), dst.Bytes())
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, pt) {
						t.Error("plaintext changed")
					}
					want := maps.Clone(ec)
					if toID.Signed() {
						want["aws-crypto-public-key"] = h.EncryptionContext["aws-crypto-public-key"]
						if want["aws-crypto-public-key"] == res.Old.EncryptionContext["aws-crypto-public-key"] {
							t.Error("the new message kept the old signing key")
						}
					}
					if !maps.Equal(h.EncryptionContext, want) || !maps.Equal(res.Context, ec) {
						t.Errorf("new context %v (given %v), want %v", h.EncryptionContext, res.Context, want)
					}
					// The old key no longer opens the new message.
					if _, _, err := dec.Decrypt(context.Background(), dst.Bytes()); !errors.Is(err, envelope.ErrNoDecryptionKey) {
						t.Errorf("old key on the new message: %v, want ErrNoDecryptionKey", err)
					}
				})
			}
		}
	}
}

// TestReencryptLargeFrames: frames of 64 KiB, for which Reencrypt reads the
// body through a smaller buffer than the header, from sources that are
// already buffered or return short reads.
func TestReencryptLargeFrames(t *testing.T) {
	ctx := context.Background()
	pt := testPlaintext(300 << 10)
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		from := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(64<<10), envelope.WithFrameWorkers(1))
		to := newClient(t, reencKeyring(t), id, envelope.WithFrameWorkers(1))
		old := mustEncrypt(t, from, pt, map[string]string{"a": "1"})
		for name, src := range map[string]func(b []byte) io.Reader{
			"bytes":       func(b []byte) io.Reader { return bytes.NewReader(b) },
			"bufio 64KiB": func(b []byte) io.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 64<<10) },
			"half reads":  func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		} {
			var dst bytes.Buffer
			if _, err := from.Reencrypt(ctx, &dst, src(old), to, nil); err != nil {
				t.Fatalf("%s, %s: %v", id, name, err)
			}
			if got, _, err := to.Decrypt(ctx, dst.Bytes()); err != nil || !bytes.Equal(got, pt) {
				t.Errorf("%s, %s: decrypt: %v", id, name, err)
			}
			dst.Reset()
			if _, err := from.Reencrypt(ctx, &dst, src(old[:len(old)-1]), to, nil); !errors.Is(err, envelope.ErrTruncated) {
				t.Errorf("%s, %s, truncated: %v, want ErrTruncated", id, name, err)
			}
		}
	}
}

// TestReencryptSameClient: one Client on both sides writes a new data key
// and message ID.
func TestReencryptSameClient(t *testing.T) {
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	old, pt := reencMessage(t, envelope.AES256GCMHKDFSHA512Commit, nil)
	var dst bytes.Buffer
	res, err := c.Reencrypt(context.Background(), &dst, bytes.NewReader(old), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(res.Old.MessageID, res.New.MessageID) || bytes.Equal(res.Old.EncryptedDataKeys[0].Ciphertext, res.New.EncryptedDataKeys[0].Ciphertext) {
		t.Error("message ID or data key reused")
	}
	if got, _, err := c.Decrypt(context.Background(), dst.Bytes()); err != nil || !bytes.Equal(got, pt) {
		t.Errorf("decrypt: %v", err)
	}
}

func TestReencryptOptions(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"tenant": "t-1"}
	old, pt := reencMessage(t, envelope.AES256GCMHKDFSHA512CommitP384, ec)
	from := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384)
	to := newClient(t, reencKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384)

	t.Run("new context and encrypt options", func(t *testing.T) {
		var dst bytes.Buffer
		newEC := map[string]string{"tenant": "t-2", "rotated": "yes"}
		res, err := from.Reencrypt(ctx, &dst, bytes.NewReader(old), to, &envelope.ReencryptOptions{
			Context: newEC,
			Encrypt: []envelope.EncryptOption{envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(4096)},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, h, err := to.Decrypt(ctx, dst.Bytes())
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("decrypt: %v", err)
		}
		if !maps.Equal(h.EncryptionContext, newEC) || res.New.Suite != envelope.AES256GCMHKDFSHA512Commit || res.New.FrameLength != 4096 {
			t.Errorf("context %v, suite %s, frame %d", h.EncryptionContext, res.New.Suite, res.New.FrameLength)
		}
	})
	t.Run("expected context", func(t *testing.T) {
		var dst bytes.Buffer
		_, err := from.Reencrypt(ctx, &dst, bytes.NewReader(old), to, &envelope.ReencryptOptions{
			Decrypt: []envelope.DecryptOption{envelope.WithExpectedContext(ec)}})
		if err != nil {
			t.Fatal(err)
		}
		dst.Reset()
		_, err = from.Reencrypt(ctx, &dst, bytes.NewReader(old), to, &envelope.ReencryptOptions{
			Decrypt: []envelope.DecryptOption{envelope.WithExpectedContext(map[string]string{"tenant": "t-2"})}})
		if !errors.Is(err, envelope.ErrContextMismatch) || dst.Len() != 0 {
			t.Errorf("other tenant expected: %v, %d bytes written; want ErrContextMismatch and none", err, dst.Len())
		}
	})
	t.Run("wrong old key", func(t *testing.T) {
		var dst bytes.Buffer
		_, err := to.Reencrypt(ctx, &dst, bytes.NewReader(old), to, nil)
		var nk *envelope.NoDecryptionKeyError
		if !errors.As(err, &nk) || dst.Len() != 0 {
			t.Errorf("%v, %d bytes written; want a NoDecryptionKeyError and none", err, dst.Len())
		}
	})
	t.Run("nil destination", func(t *testing.T) {
		if _, err := from.Reencrypt(ctx, &bytes.Buffer{}, bytes.NewReader(old), nil, nil); !errors.Is(err, envelope.ErrInvalidOption) {
			t.Errorf("%v, want ErrInvalidOption", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		var dst bytes.Buffer
		if _, err := from.Reencrypt(cctx, &dst, bytes.NewReader(old), to, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("%v, want context.Canceled", err)
		}
	})
}

// TestReencryptRequiredContext: pairs the old message kept out of its
// header are carried into the new context and, under a required-context
// materials manager, kept out of the new header.
func TestReencryptRequiredContext(t *testing.T) {
	ctx := context.Background()
	required := func(kr envelope.Keyring) *envelope.Client {
		c, err := envelope.NewWithMaterialsManager(envelope.NewRequiredContextMaterialsManager(envelope.NewDefaultMaterialsManager(kr), "secret"),
			envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	from, to := required(aesKeyring(t)), required(reencKeyring(t))
	full := map[string]string{"tenant": "t-1", "secret": "s-9"}
	old := mustEncrypt(t, from, []byte("kept"), full)
	supply := []envelope.DecryptOption{envelope.WithExpectedContext(map[string]string{"secret": "s-9"})}
	var dst bytes.Buffer
	if _, err := from.Reencrypt(ctx, &dst, bytes.NewReader(old), to, &envelope.ReencryptOptions{Decrypt: supply}); err != nil {
		t.Fatal(err)
	}
	got, h, err := to.Decrypt(ctx, dst.Bytes(), supply...)
	if err != nil || string(got) != "kept" {
		t.Fatalf("decrypt: %v", err)
	}
	if _, ok := h.EncryptionContext["secret"]; ok || h.EncryptionContext["tenant"] != "t-1" {
		t.Errorf("new header context %v", h.EncryptionContext)
	}
}

// TestReencryptHostileTamper: a changed, truncated or extended old message
// (signed, multi-frame) must fail Reencrypt with its typed error, and what
// reached dst must not be a whole message: the new final frame and footer
// are written only after the old message verified, signature included.
func TestReencryptHostileTamper(t *testing.T) {
	ctx := context.Background()
	old, _ := reencMessage(t, envelope.AES256GCMHKDFSHA512CommitP384, map[string]string{"tenant": "t-1"})
	h, err := envelope.ParseHeader(bytes.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	body := len(old) - 2 - footerSigLen(old) // header and frames
	flip := func(i int) []byte { b := bytes.Clone(old); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"last frame tag", flip(body - 1), envelope.ErrAuthentication},
		{"last frame ciphertext", flip(body - 17), envelope.ErrAuthentication},
		{"first frame", flip(h.Len() + 4 + 12), envelope.ErrAuthentication},
		{"signature", flip(len(old) - 1), envelope.ErrSignature},
		{"truncated footer", old[:len(old)-1], envelope.ErrTruncated},
		{"no footer", old[:body], envelope.ErrTruncated},
		{"truncated last frame", old[:body-1], envelope.ErrTruncated},
		{"trailing byte", append(bytes.Clone(old), 0), envelope.ErrTrailingData},
	} {
		for _, workers := range []int{1, 4} {
			from := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameWorkers(workers))
			for _, toID := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
				to := newClient(t, reencKeyring(t), toID, envelope.WithFrameLength(1000), envelope.WithFrameWorkers(workers))
				var dst bytes.Buffer
				_, err := from.Reencrypt(ctx, &dst, bytes.NewReader(tc.msg), to, nil)
				if !errors.Is(err, tc.want) {
					t.Errorf("%s, workers=%d, to %s: %v, want %v", tc.name, workers, toID, err, tc.want)
				}
				if _, _, err := to.Decrypt(ctx, dst.Bytes()); err == nil {
					t.Errorf("%s, workers=%d, to %s: dst holds a whole message", tc.name, workers, toID)
				}
			}
		}
	}
}

// footerSigLen returns the signature length of a signed message's footer,
// found by trying the lengths a P-384 DER signature can have.
func footerSigLen(msg []byte) int {
	for n := 110; n >= 60; n-- {
		if i := len(msg) - n - 2; i > 0 && int(binary.BigEndian.Uint16(msg[i:])) == n {
			return n
		}
	}
	return 0
}
