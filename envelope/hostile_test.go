package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"math/big"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/internal/wire"
	"github.com/phicrypt/phicrypt/keyring"
)

// countingKeyring counts the OnDecrypt calls that reach its keyring.
type countingKeyring = testkit.CountingKeyring

// echoKeyring fails every data key with an error naming its provider ID and
// info unquoted, as a careless third-party keyring would.
type echoKeyring struct{}

func (echoKeyring) OnEncrypt(context.Context, *envelope.EncryptionMaterials) error {
	return errors.New("echo keyring cannot encrypt")
}

func (echoKeyring) OnDecrypt(_ context.Context, _ *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	e := &envelope.NoDecryptionKeyError{EncryptedDataKeys: len(edks)}
	for _, k := range edks {
		e.Errs = append(e.Errs, errors.New("echo: "+k.ProviderID+" "+string(k.ProviderInfo)))
	}
	return e
}

// manyEDKMessage is a version 2 header of suite 0x0478 with n encrypted data
// keys made by edk, and no body: enough to reach the keyrings, which run
// before anything after the header is read.
func manyEDKMessage(n int, edk func(i int) envelope.EncryptedDataKey) []byte {
	b := []byte{2, 0x04, 0x78}
	b = append(b, make([]byte, 32)...) // message ID
	b = append(b, 0, 0)                // empty context
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for i := range n {
		k := edk(i)
		b = wire.AppendEncryptedDataKey(b, k.ProviderID, k.ProviderInfo, k.Ciphertext)
	}
	b = append(b, 2) // content type: framed
	b = binary.BigEndian.AppendUint32(b, 4096)
	return append(b, make([]byte, 32+16)...) // commit key, auth tag
}

// TestHostileManyEncryptedDataKeys: a keyless attacker writes a header with
// 65,535 data keys naming the reader's raw key, to burn its CPU and flood
// its logs with one error line per key.
func TestHostileManyEncryptedDataKeys(t *testing.T) {
	ctx := context.Background()
	msg := manyEDKMessage(envelope.MaxEncryptedDataKeys, func(int) envelope.EncryptedDataKey {
		info := append([]byte("aes-256"), 0, 0, 0, 128, 0, 0, 0, 12)
		return envelope.EncryptedDataKey{ProviderID: testNamespace, ProviderInfo: append(info, make([]byte, 12)...), Ciphertext: make([]byte, 48)}
	})

	// With a limit, refused at header parse: no keyring call.
	kr := &countingKeyring{Keyring: aesKeyring(t)}
	limited, err := envelope.New(kr, envelope.WithMaxEncryptedDataKeys(10))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := limited.Decrypt(ctx, msg); !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys) || len(err.Error()) >= 4096 {
		t.Fatalf("Decrypt with a limit of 10: %.200v, want ErrTooManyEncryptedDataKeys", err)
	}
	if _, err := limited.NewDecryptReader(ctx, bytes.NewReader(msg)); !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys) {
		t.Fatalf("NewDecryptReader with a limit of 10: %.200v", err)
	}
	if n := kr.Calls.Load(); n != 0 {
		t.Fatalf("%d keyring calls for a message over the limit, want 0", n)
	}

	// The library default has no limit (as the official SDKs): every key is
	// tried, every failure kept, but the error string stays bounded.
	unlimited, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = unlimited.Decrypt(ctx, msg)
	var nk *envelope.NoDecryptionKeyError
	if !errors.As(err, &nk) || !errors.Is(err, envelope.ErrNoDecryptionKey) {
		t.Fatalf("Decrypt without a limit: %.200v, want a NoDecryptionKeyError", err)
	}
	if len(nk.Errs) != envelope.MaxEncryptedDataKeys {
		t.Fatalf("%d reasons kept, want one per data key (%d)", len(nk.Errs), envelope.MaxEncryptedDataKeys)
	}
	if s := err.Error(); len(s) >= 4096 || !strings.Contains(s, "and 65527 more") {
		t.Fatalf("%d-byte error, want under 4 KiB ending in a count of the reasons left out: %.300s", len(s), s)
	}
}

// TestHostileLongReasons: a header's provider IDs and infos of 65,535 bytes
// echoed by a keyring's errors must not make a megabyte error string.
func TestHostileLongReasons(t *testing.T) {
	long := strings.Repeat("\x1b[2J", 1<<14-1)
	msg := manyEDKMessage(100, func(int) envelope.EncryptedDataKey {
		return envelope.EncryptedDataKey{ProviderID: long, ProviderInfo: []byte(long), Ciphertext: []byte{1}}
	})
	c, err := envelope.New(echoKeyring{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Decrypt(context.Background(), msg)
	if !errors.Is(err, envelope.ErrNoDecryptionKey) || len(err.Error()) >= 4096 {
		t.Fatalf("%d-byte error %.200q, want ErrNoDecryptionKey under 4 KiB", len(err.Error()), err)
	}
	if strings.ContainsRune(err.Error(), 0x1b) {
		t.Fatalf("terminal escapes printed unquoted: %.200q", err)
	}
}

// pkcs1OracleMessages returns ct with its data key replaced by one with a
// bad padding, then by keys of 31, 33 and 32 bytes.
func pkcs1OracleMessages(t *testing.T, priv *rsa.PrivateKey, ct []byte) [][]byte {
	h, err := envelope.ParseHeader(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	rawCtx, err := wire.AppendContext(nil, h.EncryptionContext)
	if err != nil {
		t.Fatal(err)
	}

	// A bad padding: 00 02 replaced by 00 01, raised to e by hand.
	em := make([]byte, priv.Size())
	em[1] = 1
	if _, err := rand.Read(em[2:]); err != nil {
		t.Fatal(err)
	}
	badPadding := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(priv.E)), priv.N).FillBytes(make([]byte, priv.Size()))
	pkcs1 := func(n int) []byte {
		key := make([]byte, n)
		rand.Read(key)
		//lint:ignore SA1019 the attack needs PKCS #1 v1.5.
		out, err := rsa.EncryptPKCS1v15(rand.Reader, &priv.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var msgs [][]byte
	for _, edk := range [][]byte{badPadding, pkcs1(31), pkcs1(33), pkcs1(32)} {
		h2 := *h
		h2.EncryptedDataKeys = []envelope.EncryptedDataKey{h.EncryptedDataKeys[0]}
		h2.EncryptedDataKeys[0].Ciphertext = edk
		msgs = append(msgs, append(appendHeader(nil, &h2, rawCtx), ct[h.Len():]...))
	}
	return msgs
}

// TestHostilePKCS1Oracle: a Bleichenbacher attacker sends a message whose
// RSA PKCS #1 v1.5 data key has a bad padding, or a valid padding of a key
// of the wrong length, and learns from the error which it was.
func TestHostilePKCS1Oracle(t *testing.T) {
	ctx := context.Background()
	priv, err := testRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	kr := rsaKeyring(t, keyring.PKCS1v15)
	c := newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit)
	ct, err := c.Encrypt(ctx, []byte("oracle"), map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	var first string
	msgs := pkcs1OracleMessages(t, priv, ct)
	for i, m := range msgs {
		_, _, err := c.Decrypt(ctx, m)
		if !errors.Is(err, envelope.ErrCommitmentMismatch) {
			t.Fatalf("data key %d: %v, want ErrCommitmentMismatch as for a wrong key", i, err)
		}
		if _, rerr := c.NewDecryptReader(ctx, bytes.NewReader(m)); rerr == nil || rerr.Error() != err.Error() {
			t.Fatalf("data key %d: streaming %v, one-shot %v", i, rerr, err)
		}
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("data key %d fails with %q, data key 0 with %q", i, err, first)
		}
	}
	if got, _, err := c.Decrypt(ctx, ct); err != nil || string(got) != "oracle" {
		t.Fatalf("the message itself: %q, %v", got, err)
	}
}

// The option types admit an option only to the calls of its direction:
// c.Decrypt(ctx, ct, envelope.WithSuite(id)) and c.Encrypt(ctx, pt, ec,
// envelope.WithExpectedContext(ec)) do not compile. These lines compile.
var (
	_ envelope.EncryptOption = envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit)
	_ envelope.DecryptOption = envelope.WithExpectedContext(nil)
	_ envelope.CommonOption  = envelope.WithFrameWorkers(1)
	_ envelope.ClientOption  = envelope.WithMaxFrameLength(1)
)

// TestHostileOptionMisapplied: a caller passes an option to a call it does
// not apply to (WithUnsignedOnly to Encrypt, WithSuite to Decrypt,
// WithMaxFrameLength to Decrypt) and, believing it in force, trusts a
// message it should have refused. Across directions the types refuse it
// (no option's dynamic type implements the other direction's interface);
// within the decrypt calls the call fails with ErrInvalidOption.
func TestHostileOptionMisapplied(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"k": "v"}
	pt := []byte("options")
	options := []struct {
		name    string
		opt     envelope.ClientOption
		applies int
	}{
		{"WithSuite", envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), optEnc},
		{"WithFrameLength", envelope.WithFrameLength(7), optEnc},
		{"WithCommitmentPolicy", envelope.WithCommitmentPolicy(envelope.RequireEncryptRequireDecrypt), optBoth},
		{"WithMaxEncryptedDataKeys", envelope.WithMaxEncryptedDataKeys(3), optBoth},
		{"WithExpectedContext", envelope.WithExpectedContext(ec), optDec},
		{"WithRequiredContextKeys", envelope.WithRequiredContextKeys("k"), optDec},
		{"WithUnsignedOnly", envelope.WithUnsignedOnly(), optDec},
		{"WithPlaintextLength", envelope.WithPlaintextLength(int64(len(pt))), optEnc},
		{"WithFrameWorkers", envelope.WithFrameWorkers(1), optBoth},
		{"WithoutNetV400Retry", envelope.WithoutNetV400Retry(), optDec},
		{"WithMaxNonFramedLength", envelope.WithMaxNonFramedLength(1 << 20), 1<<callDecrypt | 1<<callDecryptReader},
		{"WithMaxFrameLength", envelope.WithMaxFrameLength(1 << 20), 1<<callDecryptReader | 1<<callDecryptReaderAt},
	}
	calls := optionCalls(ctx, pt, ec)
	// Every option constructor of the package is in the table, declared
	// with the type of its direction.
	declared := map[int]string{optEnc: "EncryptOption", optBoth: "CommonOption"}
	want := map[string]string{}
	for _, o := range options {
		if want[o.name] = declared[o.applies]; want[o.name] == "" {
			want[o.name] = "DecryptOption"
		}
	}
	delete(want, "WithoutNetV400Retry") // unexported: in the table through export_test.go
	if got := optionConstructors(t); !maps.Equal(got, want) {
		t.Fatalf("option constructors and their types %v, table %v: classify each new option", got, want)
	}
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	ct, err := c.Encrypt(ctx, pt, ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range options {
		for _, call := range calls {
			compiles, err := call.run(c, ct, o.opt)
			checkOptionCall(t, o.name, o.applies, call, compiles, err)
		}
	}

	// Given to New, every option is a default for the calls it applies to.
	all := make([]envelope.ClientOption, 0, len(options))
	for _, o := range options {
		all = append(all, o.opt)
	}
	d, err := envelope.New(aesKeyring(t), all...)
	if err != nil {
		t.Fatalf("New with every option: %v", err)
	}
	for _, call := range calls {
		if _, err := call.run(d, ct, envelope.WithFrameWorkers(2)); err != nil {
			t.Errorf("%s on a Client made with every option: %v", call.name, err)
		}
	}
	if _, err := d.With(envelope.WithSuite(envelope.AES256GCMHKDFSHA512CommitP384), envelope.WithUnsignedOnly()); err != nil {
		t.Errorf("With: %v", err)
	}
}

// optCall is a Client method an option may be given to.
type optCall int

const (
	callEncrypt optCall = iota
	callEncryptWriter
	callDecrypt
	callDecryptReader
	callDecryptReaderAt
)

// The calls an option applies to, as a bit set of optCalls.
const (
	optEnc  = 1<<callEncrypt | 1<<callEncryptWriter
	optDec  = 1<<callDecrypt | 1<<callDecryptReader | 1<<callDecryptReaderAt
	optBoth = optEnc | optDec
)

// optionCall runs one call with an option.
type optionCall struct {
	kind optCall
	name string
	// run gives the call the option as its direction's type; it reports
	// compiles false when the option's type does not implement that type,
	// so that the call cannot compile.
	run func(*envelope.Client, []byte, envelope.ClientOption) (compiles bool, err error)
}

// optionCalls returns the five calls, encrypting pt under ec or
// decrypting the message they are given.
func optionCalls(ctx context.Context, pt []byte, ec map[string]string) []optionCall {
	return []optionCall{
		{callEncrypt, "Encrypt", func(c *envelope.Client, _ []byte, o envelope.ClientOption) (bool, error) {
			eo, ok := o.(envelope.EncryptOption)
			if !ok {
				return false, nil
			}
			_, err := c.Encrypt(ctx, pt, ec, eo)
			return true, err
		}},
		{callEncryptWriter, "NewEncryptWriter", func(c *envelope.Client, _ []byte, o envelope.ClientOption) (bool, error) {
			eo, ok := o.(envelope.EncryptOption)
			if !ok {
				return false, nil
			}
			w, err := c.NewEncryptWriter(ctx, io.Discard, ec, eo)
			if err != nil {
				return true, err
			}
			w.Write(pt)
			return true, w.Close()
		}},
		{callDecrypt, "Decrypt", func(c *envelope.Client, ct []byte, o envelope.ClientOption) (bool, error) {
			do, ok := o.(envelope.DecryptOption)
			if !ok {
				return false, nil
			}
			_, _, err := c.Decrypt(ctx, ct, do)
			return true, err
		}},
		{callDecryptReader, "NewDecryptReader", func(c *envelope.Client, ct []byte, o envelope.ClientOption) (bool, error) {
			do, ok := o.(envelope.DecryptOption)
			if !ok {
				return false, nil
			}
			r, err := c.NewDecryptReader(ctx, bytes.NewReader(ct), do)
			if err != nil {
				return true, err
			}
			_, err = io.Copy(io.Discard, r)
			return true, err
		}},
		{callDecryptReaderAt, "NewDecryptReaderAt", func(c *envelope.Client, ct []byte, o envelope.ClientOption) (bool, error) {
			do, ok := o.(envelope.DecryptOption)
			if !ok {
				return false, nil
			}
			_, err := c.NewDecryptReaderAt(ctx, bytes.NewReader(ct), int64(len(ct)), do)
			return true, err
		}},
	}
}

// checkOptionCall checks what giving the option name, which applies to
// the calls in applies, to call did: it compiles only for a call of its
// direction, and then succeeds, or fails with ErrInvalidOption naming
// both if the call is not one it applies to.
func checkOptionCall(t *testing.T, name string, applies int, call optionCall, compiles bool, err error) {
	t.Helper()
	sameDirection := applies&optEnc != 0 && call.kind <= callEncryptWriter || applies&optDec != 0 && call.kind >= callDecrypt
	switch {
	case compiles != sameDirection:
		t.Errorf("%s given to %s: compiles %v, want %v", name, call.name, compiles, sameDirection)
	case !compiles:
	case applies&(1<<call.kind) != 0:
		if err != nil {
			t.Errorf("%s given to %s: %v", name, call.name, err)
		}
	case !errors.Is(err, envelope.ErrInvalidOption) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), call.name):
		t.Errorf("%s given to %s: %v, want ErrInvalidOption naming both", name, call.name, err)
	}
}

// optionConstructors returns the package's exported functions that return
// an option, with the name of the option type each returns.
func optionConstructors(t *testing.T) map[string]string {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() || fd.Type.Results == nil || len(fd.Type.Results.List) != 1 {
				continue
			}
			if id, ok := fd.Type.Results.List[0].Type.(*ast.Ident); ok && strings.HasSuffix(id.Name, "Option") {
				names[fd.Name.Name] = id.Name
			}
		}
	}
	return names
}

// TestHostileHeaderDeclaredLength: a header that declares 64 KiB fields and
// sends a few bytes of each, to make the reader allocate what it declared.
func TestHostileHeaderDeclaredLength(t *testing.T) {
	prefix := []byte{2, 0x04, 0x78}
	prefix = append(prefix, make([]byte, 32)...)    // message ID
	edk := append(slices.Clone(prefix), 0, 0, 0, 1) // empty context, one data key
	for _, tc := range []struct {
		field string
		msg   []byte
	}{
		{"encryption context", append(slices.Clone(prefix), 0xff, 0xff, 0, 1, 0)},
		{"encrypted data key 0 provider ID", append(slices.Clone(edk), 0xff, 0xff, 'a')},
		{"encrypted data key 0 provider info", append(slices.Clone(edk), 0, 1, 'a', 0xff, 0xff, 1)},
		{"encrypted data key 0 ciphertext", append(slices.Clone(edk), 0, 1, 'a', 0, 0, 0xff, 0xff, 1)},
	} {
		const runs = 50
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			_, err := envelope.ParseHeader(bytes.NewReader(tc.msg))
			if field, _ := envelope.HeaderField(err); field != tc.field || !errors.Is(err, envelope.ErrTruncated) {
				t.Fatalf("%s: %v, want a truncated header error", tc.field, err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4<<10 {
			t.Errorf("%s: %d bytes allocated for a %d-byte header", tc.field, per, len(tc.msg))
		}
	}
}

// TestDecryptHeaderCut: Decrypt reads the header straight from its input;
// every cut of the header fails as ParseHeader of the same bytes through
// a reader does, field and error, and the declared-length headers of
// TestHostileHeaderDeclaredLength allocate no more than they hold.
func TestDecryptHeaderCut(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	// A header within the first 512 bytes the reader holds, and one past them.
	for _, ec := range []map[string]string{{"tenant": "clinic-7"}, {"big": strings.Repeat("v", 1500)}} {
		ct := mustEncrypt(t, c, testPlaintext(10), ec)
		h, err := envelope.ParseHeader(bytes.NewReader(ct))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Decrypt(ctx, ct); err != nil {
			t.Fatal(err)
		}
		for n := range h.Len() {
			_, perr := envelope.ParseHeader(bytes.NewReader(ct[:n]))
			_, _, derr := c.Decrypt(ctx, ct[:n])
			pf, _ := envelope.HeaderField(perr)
			df, _ := envelope.HeaderField(derr)
			if !errors.Is(derr, envelope.ErrTruncated) || df != pf || derr.Error() != perr.Error() {
				t.Fatalf("%d of %d header bytes: Decrypt %v, ParseHeader %v", n, h.Len(), derr, perr)
			}
		}
	}
	prefix := append([]byte{2, 0x04, 0x78}, make([]byte, 32)...)
	msg := append(prefix, 0xff, 0xff, 0, 1, 0) // a 64 KiB context, 3 bytes sent
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, _, err := c.Decrypt(ctx, msg); !errors.Is(err, envelope.ErrTruncated) {
			t.Fatalf("declared 64 KiB context: %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4<<10 {
		t.Errorf("%d bytes allocated for a %d-byte header", per, len(msg))
	}
}

// TestClientParseHeaderLimit: Client.ParseHeader applies the client's
// WithMaxEncryptedDataKeys, and a call's own, once the count is read; the
// package's ParseHeader limits nothing.
func TestClientParseHeaderLimit(t *testing.T) {
	hdr := testkit.EDKHeader(5, func(i int) string { return fmt.Sprint("k", i) })
	limited := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithMaxEncryptedDataKeys(4))
	open := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	for _, c := range []struct {
		name string
		p    func(r io.Reader) (*envelope.Header, error)
		ok   bool
	}{
		{"package", envelope.ParseHeader, true},
		{"client without a limit", func(r io.Reader) (*envelope.Header, error) { return open.ParseHeader(r) }, true},
		{"client of 4", func(r io.Reader) (*envelope.Header, error) { return limited.ParseHeader(r) }, false},
		{"call of 4", func(r io.Reader) (*envelope.Header, error) {
			return open.ParseHeader(r, envelope.WithMaxEncryptedDataKeys(4))
		}, false},
		{"call of 5 over a client of 4", func(r io.Reader) (*envelope.Header, error) {
			return limited.ParseHeader(r, envelope.WithMaxEncryptedDataKeys(5))
		}, true},
	} {
		r := bytes.NewReader(hdr)
		h, err := c.p(r)
		switch {
		case c.ok && (err != nil || len(h.EncryptedDataKeys) != 5):
			t.Errorf("%s: %v, want the 5 data keys", c.name, err)
		case !c.ok && !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys):
			t.Errorf("%s: %v, want ErrTooManyEncryptedDataKeys", c.name, err)
		}
	}
}
