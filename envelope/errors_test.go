package envelope_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// decryptBoth decrypts ct one-shot and streaming with opts and returns both
// errors; the streaming error is NewDecryptReader's or the first Read's.
func decryptBoth(c *envelope.Client, ct []byte, opts ...envelope.DecryptOption) (oneShot, streaming error) {
	_, _, oneShot = c.Decrypt(context.Background(), ct, opts...)
	_, _, streaming = decryptStream(c, ct, 64, opts...)
	return oneShot, streaming
}

// expectBoth asserts that ct fails one-shot and streaming with want, or
// succeeds in both when want is nil.
func expectBoth(t *testing.T, c *envelope.Client, ct []byte, what string, want error, opts ...envelope.DecryptOption) {
	t.Helper()
	a, b := decryptBoth(c, ct, opts...)
	for _, err := range []error{a, b} {
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
	}
}

// encryptBoth encrypts one-shot and through an EncryptWriter (its error is
// NewEncryptWriter's, Write's or Close's) and returns both errors.
func encryptBoth(c *envelope.Client, pt []byte, ec map[string]string, opts ...envelope.EncryptOption) (oneShot, streaming error) {
	_, oneShot = c.Encrypt(context.Background(), pt, ec, opts...)
	w, err := c.NewEncryptWriter(context.Background(), io.Discard, ec, opts...)
	if err == nil {
		if _, err = w.Write(pt); err == nil {
			err = w.Close()
		}
	}
	return oneShot, err
}

func expectEncrypt(t *testing.T, c *envelope.Client, ec map[string]string, what string, want error, opts ...envelope.EncryptOption) {
	t.Helper()
	a, b := encryptBoth(c, []byte("plaintext"), ec, opts...)
	for _, err := range []error{a, b} {
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
	}
}

func mustEncrypt(t *testing.T, c *envelope.Client, pt []byte, ec map[string]string, opts ...envelope.EncryptOption) []byte {
	t.Helper()
	ct, err := c.Encrypt(context.Background(), pt, ec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func TestWrongKey(t *testing.T) {
	const id = envelope.AES256GCMHKDFSHA512CommitP384
	ct := mustEncrypt(t, newClient(t, aesKeyring(t), id), []byte("secret"), nil)
	otherKey, _ := keyring.NewRawAES(testNamespace, "aes-256", testWrappingKey(0x43))
	otherName, _ := keyring.NewRawAES(testNamespace, "aes-257", testWrappingKey(0x42))
	otherNS, _ := keyring.NewRawAES("other-namespace", "aes-256", testWrappingKey(0x42))
	for name, kr := range map[string]envelope.Keyring{
		"other wrapping key": otherKey, "other key name": otherName, "other namespace": otherNS,
		"RSA": rsaKeyring(t, keyring.OAEPSHA256),
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, kr, id)
			a, b := decryptBoth(c, ct)
			for _, err := range []error{a, b} {
				var nk *envelope.NoDecryptionKeyError
				if !errors.Is(err, envelope.ErrNoDecryptionKey) || !errors.As(err, &nk) {
					t.Fatalf("%s: %v, want a NoDecryptionKeyError", name, err)
				}
				if nk.EncryptedDataKeys != 1 || len(nk.Errs) == 0 {
					t.Fatalf("%s: %d data keys, %d causes", name, nk.EncryptedDataKeys, len(nk.Errs))
				}
			}
		})
	}
}

func TestCommitmentPolicy(t *testing.T) {
	kr := aesKeyring(t)
	v1 := mustEncrypt(t, newClient(t, kr, envelope.AES256GCMHKDFSHA256), []byte("legacy"), nil)
	v2 := mustEncrypt(t, newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit), []byte("committed"), nil)
	client := func(p envelope.CommitmentPolicy) *envelope.Client {
		c, err := envelope.New(kr, envelope.WithCommitmentPolicy(p))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	strict := client(envelope.RequireEncryptRequireDecrypt)
	allow := client(envelope.RequireEncryptAllowDecrypt)
	forbid := client(envelope.ForbidEncryptAllowDecrypt)
	expectBoth(t, strict, v1, "v1 message, default policy", envelope.ErrCommitmentPolicy)
	expectBoth(t, allow, v1, "v1 message, RequireEncryptAllowDecrypt", nil)
	expectBoth(t, forbid, v1, "v1 message, ForbidEncryptAllowDecrypt", nil)
	expectBoth(t, strict, v1, "v1 message, per-call policy", nil, envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt))
	for _, c := range []*envelope.Client{strict, allow, forbid} {
		expectBoth(t, c, v2, "v2 message", nil)
	}

	expectEncrypt(t, strict, nil, "v1 suite, default policy", envelope.ErrCommitmentPolicy, envelope.WithSuite(envelope.AES256GCMHKDFSHA256))
	expectEncrypt(t, allow, nil, "v1 suite, RequireEncryptAllowDecrypt", envelope.ErrCommitmentPolicy, envelope.WithSuite(envelope.AES256GCMHKDFSHA384ECDSAP384))
	expectEncrypt(t, forbid, nil, "committing suite, ForbidEncryptAllowDecrypt", envelope.ErrCommitmentPolicy, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
	for c, want := range map[*envelope.Client]envelope.SuiteID{
		strict: envelope.AES256GCMHKDFSHA512CommitP384, forbid: envelope.AES256GCMHKDFSHA384ECDSAP384,
	} {
		h, err := envelope.ParseHeader(bytes.NewReader(mustEncrypt(t, c, nil, nil)))
		if err != nil || h.Suite != want {
			t.Fatalf("default suite: %v %v, want %s", h, err, want)
		}
	}
	if _, err := envelope.New(kr, envelope.WithCommitmentPolicy(envelope.CommitmentPolicy(9))); err == nil {
		t.Fatal("unknown commitment policy accepted")
	}
	if _, err := envelope.New(kr, envelope.WithSuite(0x9999)); !errors.Is(err, envelope.ErrUnsupportedSuite) {
		t.Fatalf("unknown suite: %v, want ErrUnsupportedSuite", err)
	}
}

func TestMaxEncryptedDataKeys(t *testing.T) {
	a := aesKeyring(t)
	b, _ := keyring.NewRawAES(testNamespace, "b", testWrappingKey(0x0b))
	c, _ := keyring.NewRawAES(testNamespace, "c", testWrappingKey(0x0c))
	three, err := keyring.NewMulti(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, three, envelope.AES256GCMHKDFSHA512Commit)
	expectEncrypt(t, cl, nil, "3 keys, at most 2", envelope.ErrTooManyEncryptedDataKeys, envelope.WithMaxEncryptedDataKeys(2))
	expectEncrypt(t, cl, nil, "3 keys, at most 3", nil, envelope.WithMaxEncryptedDataKeys(3))
	ct := mustEncrypt(t, cl, []byte("three keys"), nil)
	expectBoth(t, cl, ct, "3 keys, at most 1", envelope.ErrTooManyEncryptedDataKeys, envelope.WithMaxEncryptedDataKeys(1))
	expectBoth(t, cl, ct, "3 keys, at most 2", envelope.ErrTooManyEncryptedDataKeys, envelope.WithMaxEncryptedDataKeys(2))
	expectBoth(t, cl, ct, "3 keys, at most 3", nil, envelope.WithMaxEncryptedDataKeys(3))
	expectBoth(t, cl, ct, "3 keys, no limit", nil, envelope.WithMaxEncryptedDataKeys(0))
	if _, err := envelope.New(a, envelope.WithMaxEncryptedDataKeys(-1)); err == nil {
		t.Fatal("negative maximum accepted")
	}
}

func TestCallerContext(t *testing.T) {
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		c := newClient(t, aesKeyring(t), id)
		for _, tc := range []struct {
			name string
			ec   map[string]string
			want error
		}{
			{"reserved key", map[string]string{"aws-crypto-x": "v"}, envelope.ErrInvalidContext},
			{"public key", map[string]string{"aws-crypto-public-key": "AAAA"}, envelope.ErrInvalidContext},
			{"reserved among others", map[string]string{"a": "1", "aws-crypto-": "", "z": "2"}, envelope.ErrInvalidContext},
			{"prefix only in value", map[string]string{"k": "aws-crypto-x"}, nil},
			{"invalid UTF-8 key", map[string]string{"\xff": "v"}, envelope.ErrInvalidContext},
			{"invalid UTF-8 value", map[string]string{"k": "\xc3"}, envelope.ErrInvalidContext},
			{"65,536-byte context", map[string]string{"k": strings.Repeat("v", 1<<16)}, envelope.ErrInvalidContext},
		} {
			t.Run(tc.name, func(t *testing.T) {
				expectEncrypt(t, c, tc.ec, id.String()+" "+tc.name, tc.want)
			})
		}
	}
}

// TestExpectedContext: pairs the caller expects must match the header's;
// a pair the header lacks is authenticated as a required pair, so a message
// written without it fails the header tag. The RSA keyring does not bind
// the context; the raw AES keyring does, and fails first (see
// TestExpectedContextRawAES).
func TestExpectedContext(t *testing.T) {
	kr := rsaKeyring(t, keyring.OAEPSHA256)
	c := newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit)
	ct := mustEncrypt(t, c, []byte("m"), map[string]string{"a": "1", "b": "2"})
	for _, tc := range []struct {
		name     string
		expected map[string]string
		want     error
	}{
		{"none", nil, nil},
		{"subset", map[string]string{"a": "1"}, nil},
		{"all", map[string]string{"a": "1", "b": "2"}, nil},
		{"other value", map[string]string{"a": "2"}, envelope.ErrContextMismatch},
		{"empty value", map[string]string{"b": ""}, envelope.ErrContextMismatch},
		{"pair not in the message", map[string]string{"c": "3"}, envelope.ErrAuthentication},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectBoth(t, c, ct, tc.name, tc.want, envelope.WithExpectedContext(tc.expected))
		})
	}

	// A required-context materials manager keeps its pairs out of the header:
	// the reader must supply them.
	rcmm := envelope.NewRequiredContextMaterialsManager(envelope.NewDefaultMaterialsManager(kr), "tenant")
	rc, err := envelope.NewWithMaterialsManager(rcmm, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
	if err != nil {
		t.Fatal(err)
	}
	expectEncrypt(t, rc, map[string]string{"a": "1"}, "required key missing", envelope.ErrContextMismatch)
	rct := mustEncrypt(t, rc, []byte("m"), map[string]string{"a": "1", "tenant": "t-1"})
	h, err := envelope.ParseHeader(bytes.NewReader(rct))
	if err != nil || h.EncryptionContext["tenant"] != "" || h.EncryptionContext["a"] != "1" {
		t.Fatalf("header context %v (%v): the required pair must stay out of the header", h, err)
	}
	expectBoth(t, rc, rct, "required pair supplied", nil, envelope.WithExpectedContext(map[string]string{"tenant": "t-1"}))
	expectBoth(t, rc, rct, "required pair not supplied", envelope.ErrContextMismatch)
	expectBoth(t, rc, rct, "required pair with another value", envelope.ErrAuthentication, envelope.WithExpectedContext(map[string]string{"tenant": "t-2"}))
	expectBoth(t, c, rct, "default manager without the pair", envelope.ErrAuthentication)
	expectBoth(t, c, rct, "default manager with the pair", nil, envelope.WithExpectedContext(map[string]string{"tenant": "t-1"}))
}

// TestExpectedContextRawAES: the raw AES keyring wraps the data key with
// the whole context as AAD, required pairs included, so a pair the writer
// did not have fails there, before the header tag.
func TestExpectedContextRawAES(t *testing.T) {
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	ct := mustEncrypt(t, c, []byte("m"), map[string]string{"a": "1"})
	expectBoth(t, c, ct, "pair not in the message", envelope.ErrNoDecryptionKey, envelope.WithExpectedContext(map[string]string{"c": "3"}))
	expectBoth(t, c, ct, "other value", envelope.ErrContextMismatch, envelope.WithExpectedContext(map[string]string{"a": "3"}))
}

func TestRequiredContextKeys(t *testing.T) {
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384)
	ct := mustEncrypt(t, c, []byte("m"), map[string]string{"a": "1"})
	expectBoth(t, c, ct, "present", nil, envelope.WithRequiredContextKeys("a"))
	expectBoth(t, c, ct, "signing key present", nil, envelope.WithRequiredContextKeys("a", "aws-crypto-public-key"))
	expectBoth(t, c, ct, "absent", envelope.ErrContextMismatch, envelope.WithRequiredContextKeys("a", "b"))
	expectBoth(t, c, ct, "supplied as expected", nil, envelope.WithRequiredContextKeys("a"), envelope.WithExpectedContext(map[string]string{"a": "1"}))
}

func TestUnsignedOnly(t *testing.T) {
	kr := aesKeyring(t)
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512CommitP384, envelope.AES256GCMHKDFSHA384ECDSAP384, envelope.AES128GCMHKDFSHA256ECDSAP256} {
		c := newClient(t, kr, id)
		ct := mustEncrypt(t, c, []byte("signed"), nil)
		expectBoth(t, c, ct, id.String(), envelope.ErrSignedMessage, envelope.WithUnsignedOnly())
		if _, err := c.NewDecryptReaderAt(context.Background(), bytes.NewReader(ct), int64(len(ct))); !errors.Is(err, envelope.ErrSignedMessage) {
			t.Fatalf("%s: DecryptReaderAt: %v, want ErrSignedMessage", id, err)
		}
	}
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA256} {
		c := newClient(t, kr, id)
		expectBoth(t, c, mustEncrypt(t, c, []byte("unsigned"), nil), id.String(), nil, envelope.WithUnsignedOnly())
	}
}

func TestPlaintextLength(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameLength(4))
	for _, tc := range []struct {
		name     string
		declared int64
		writes   []int
		wantW    error // from the Write that passes the declared length
		wantC    error // from Close
	}{
		{"exact", 10, []int{3, 7}, nil, nil},
		{"exact zero", 0, nil, nil, nil},
		{"unknown", -1, []int{5, 5}, nil, nil},
		{"one more", 10, []int{10, 1}, envelope.ErrPlaintextLength, envelope.ErrPlaintextLength},
		{"one large write", 10, []int{11}, envelope.ErrPlaintextLength, envelope.ErrPlaintextLength},
		{"one less", 10, []int{9}, nil, envelope.ErrPlaintextLength},
		{"none", 10, nil, nil, envelope.ErrPlaintextLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := c.NewEncryptWriter(ctx, &buf, nil, envelope.WithPlaintextLength(tc.declared))
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			total := 0
			for _, n := range tc.writes {
				if _, err := w.Write(testPlaintext(total + n)[total:]); err != nil && werr == nil {
					werr = err
				}
				total += n
			}
			cerr := w.Close()
			if !errors.Is(werr, tc.wantW) || !errors.Is(cerr, tc.wantC) || (tc.wantW == nil) != (werr == nil) || (tc.wantC == nil) != (cerr == nil) {
				t.Fatalf("%s: Write %v, Close %v; want %v, %v", tc.name, werr, cerr, tc.wantW, tc.wantC)
			}
			if cerr == nil {
				if got, _, err := c.Decrypt(ctx, buf.Bytes()); err != nil || !bytes.Equal(got, testPlaintext(total)) {
					t.Fatalf("%s: Decrypt: %v", tc.name, err)
				}
			}
		})
	}
}

// TestMalformedHeaderField: each malformed header names its field, through
// ParseHeader, Decrypt and NewDecryptReader.
func TestMalformedHeaderField(t *testing.T) {
	kr := aesKeyring(t)
	v2 := mustEncrypt(t, newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit), []byte("m"), map[string]string{"k": "v"})
	v1 := mustEncrypt(t, newClient(t, kr, envelope.AES256GCMHKDFSHA256), []byte("m"), map[string]string{"k": "v"})
	at := func(ct []byte, id envelope.SuiteID, name string) int {
		for _, r := range messageLayout(ct, id).regions {
			if r.name == name {
				return r.start
			}
		}
		t.Fatalf("no field %q", name)
		return 0
	}
	set := func(ct []byte, id envelope.SuiteID, field string, b ...byte) []byte {
		ct = bytes.Clone(ct)
		copy(ct[at(ct, id, field):], b)
		return ct
	}
	cut := func(ct []byte, id envelope.SuiteID, field string) []byte {
		return ct[:at(ct, id, field)+1]
	}
	const v2id, v1id = envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA256
	for _, tc := range []struct {
		name, field string
		msg         []byte
		parses      bool // ParseHeader accepts it; the materials manager does not
	}{
		{"empty", "version", nil, false},
		{"version 3", "version", set(v2, v2id, "version", 3), false},
		{"base64", "version", []byte("AgR4"), false},
		{"v1 type", "type", set(v1, v1id, "type", 0x81), false},
		{"unknown suite", "algorithm suite ID", set(v2, v2id, "suite ID", 0x99, 0x99), false},
		{"v1 suite in v2", "algorithm suite ID", set(v2, v2id, "suite ID", 0x01, 0x78), false},
		{"cut message ID", "message ID", cut(v2, v2id, "message ID"), false},
		{"context count 0", "encryption context", set(v2, v2id, "context pair count", 0, 0), false},
		{"context cut", "encryption context", cut(v2, v2id, "context value length"), false},
		{"no data keys", "encrypted data key count", set(v2, v2id, "EDK count", 0, 0), false},
		{"provider ID UTF-8", "encrypted data key 0 provider ID", set(v2, v2id, "EDK provider ID", 0xff), false},
		{"non-framed v2", "content type", set(v2, v2id, "content type", 1), false},
		{"v1 reserved", "reserved", set(v1, v1id, "reserved", 0, 0, 0, 1), false},
		{"v1 IV length", "IV length", set(v1, v1id, "IV length", 16), false},
		{"frame length 0", "frame length", set(v2, v2id, "frame length", 0, 0, 0, 0), false},
		{"cut commit key", "algorithm suite data", cut(v2, v2id, "commit key"), false},
		{"cut v1 IV", "header IV", cut(v1, v1id, "header IV"), false},
		{"cut tag", "header auth tag", cut(v2, v2id, "header tag"), false},
		{"signed suite, no public key", "encryption context", set(v2, v2id, "suite ID", 0x05, 0x78), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := []error{nil}
			_, errs[0] = envelope.ParseHeader(bytes.NewReader(tc.msg))
			if tc.parses {
				if errs[0] != nil {
					t.Fatalf("%s: ParseHeader: %v", tc.name, errs[0])
				}
				errs = nil
			}
			c := newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit, envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt))
			a, b := decryptBoth(c, tc.msg)
			for _, err := range append(errs, a, b) {
				field, ok := envelope.HeaderField(err)
				if !ok || !errors.Is(err, envelope.ErrMalformedHeader) {
					t.Fatalf("%s: %v, want a header error", tc.name, err)
				}
				if field != tc.field {
					t.Fatalf("%s: field %q, want %q (%v)", tc.name, field, tc.field, err)
				}
			}
		})
	}
}

func TestFrameLengthLimits(t *testing.T) {
	kr := aesKeyring(t)
	for _, n := range []int{0, -1, math.MaxUint32 + 1} {
		if _, err := envelope.New(kr, envelope.WithFrameLength(n)); !errors.Is(err, envelope.ErrInvalidOption) {
			t.Errorf("New: frame length %d: %v, want ErrInvalidOption", n, err)
		}
		c := newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit)
		if a, b := encryptBoth(c, []byte("m"), nil, envelope.WithFrameLength(n)); !errors.Is(a, envelope.ErrInvalidOption) || !errors.Is(b, envelope.ErrInvalidOption) {
			t.Errorf("frame length %d per call: %v, %v, want ErrInvalidOption", n, a, b)
		}
	}
	for _, n := range []int{1, 2, 1 << 20, math.MaxUint32} {
		c := newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(n), envelope.WithMaxFrameLength(n))
		pt := testPlaintext(33)
		ct := mustEncrypt(t, c, pt, nil)
		streamed, _ := encryptStream(t, c, pt, nil, func() int { return 5 })
		for _, m := range [][]byte{ct, streamed} {
			h, err := envelope.ParseHeader(bytes.NewReader(m))
			if err != nil || h.FrameLength != uint32(n) {
				t.Fatalf("frame length %d: header %v, %v", n, h, err)
			}
			expectBoth(t, c, m, "frame length round trip", nil)
		}
		if want := h0Len(t, ct) + 33 + frameOverhead(33, n); len(ct) != want {
			t.Fatalf("frame length %d: %d-byte message, want %d", n, len(ct), want)
		}
	}
	for name, o := range map[string]envelope.ClientOption{
		"negative frame workers": envelope.WithFrameWorkers(-1),
		"negative EDK limit":     envelope.WithMaxEncryptedDataKeys(-1),
		"unknown policy":         envelope.WithCommitmentPolicy(99),
		"frame length 2^32":      envelope.WithFrameLength(math.MaxUint32 + 1),
		"negative frame length":  envelope.WithFrameLength(-5),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := envelope.New(kr, o); !errors.Is(err, envelope.ErrInvalidOption) {
				t.Errorf("%s: %v, want ErrInvalidOption", name, err)
			}
		})
	}
}

func h0Len(t *testing.T, ct []byte) int {
	h, err := envelope.ParseHeader(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	return h.Len()
}

// frameOverhead is what framing adds to n bytes in frames of f: 32 bytes a
// regular frame, 40 for the final frame, which holds the last 1..f bytes.
func frameOverhead(n, f int) int {
	regular := 0
	if n > 0 {
		regular = (n - 1) / f
	}
	return regular*32 + 40
}

// TestFooterLength: a signed message ends with a footer whose length field
// covers exactly the DER signature.
func TestFooterLength(t *testing.T) {
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameLength(16))
	ct := mustEncrypt(t, c, testPlaintext(tamperSize), nil)
	l := messageLayout(ct, envelope.AES256GCMHKDFSHA512CommitP384)
	sig := l.regions[len(l.regions)-1]
	if n := int(binary.BigEndian.Uint16(ct[sig.start-2:])); sig.name != "signature" || n != sig.end-sig.start || ct[sig.start] != 0x30 {
		t.Fatalf("footer: %s of %d bytes starting %#x", sig.name, n, ct[sig.start])
	}
}
