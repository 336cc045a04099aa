package envelope_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/wire"
)

// The fuzz targets decrypt arbitrary bytes with the raw AES keyring that
// wrote their seeds. A message written under that key has a plaintext that
// is a prefix of testPlaintext's stream, so any plaintext a reader releases,
// from any input, must be such a prefix; and a whole message decrypts only
// if it is one of the seeds, byte for byte.

// fuzzSentinels are the errors decryption may fail with.
var fuzzSentinels = []error{
	envelope.ErrMalformedHeader, envelope.ErrAuthentication, envelope.ErrCommitmentMismatch,
	envelope.ErrSignature, envelope.ErrTruncated, envelope.ErrNoDecryptionKey,
	envelope.ErrMalformedBody, envelope.ErrTrailingData, envelope.ErrTooManyEncryptedDataKeys,
	envelope.ErrTooManyFrames,
}

// fuzzClient reads every suite. It bounds what a hostile header may make it
// do: 16 encrypted data keys, 1 MiB of non-framed body.
func fuzzClient(tb testing.TB) *envelope.Client {
	c, err := envelope.New(aesKeyring(tb), envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt),
		envelope.WithMaxEncryptedDataKeys(16), envelope.WithMaxNonFramedLength(1<<20))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// fuzzMessagesDir holds valid messages of signed and unsigned, v1 and v2
// suites, written by -update-fuzz-messages. They seed the fuzz targets and
// are their oracle: seeds must be the same bytes in every fuzzing process,
// and messages written at run time have random message IDs.
const fuzzMessagesDir = "testdata/fuzz/messages"

var updateFuzzMessages = flag.Bool("update-fuzz-messages", false, "rewrite "+fuzzMessagesDir)

func writeFuzzMessages(t *testing.T) {
	if err := os.MkdirAll(fuzzMessagesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ids := []envelope.SuiteID{
		envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384, envelope.AES128GCM,
		envelope.AES256GCMHKDFSHA256, envelope.AES128GCMHKDFSHA256ECDSAP256,
	}
	for i, id := range ids {
		c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(16))
		for _, size := range []int{0, 1, 16, 40} {
			ct, err := c.Encrypt(context.Background(), testPlaintext(size), testContexts[(i+size)%len(testContexts)].ec)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(fuzzMessagesDir, fmt.Sprintf("%04x-%d.bin", uint16(id), size))
			if err := os.WriteFile(name, ct, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fuzzMessages reads the seed messages and returns their plaintexts by
// message, each checked to decrypt.
func fuzzMessages(tb testing.TB) map[string][]byte {
	files, err := filepath.Glob(filepath.Join(fuzzMessagesDir, "*.bin"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no seed messages in %s (%v): run go test -run TestFuzzMessages -update-fuzz-messages", fuzzMessagesDir, err)
	}
	c := fuzzClient(tb)
	seeds := map[string][]byte{}
	for _, name := range files {
		ct, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		pt, _, err := c.Decrypt(context.Background(), ct)
		if err != nil || !bytes.Equal(pt, testPlaintext(len(pt))) {
			tb.Fatalf("%s: %v", name, err)
		}
		seeds[string(ct)] = pt
	}
	return seeds
}

// TestFuzzMessages: the committed messages still decrypt, one-shot and
// streaming: known answers for every later version of the package.
func TestFuzzMessages(t *testing.T) {
	if *updateFuzzMessages {
		writeFuzzMessages(t)
	}
	c := fuzzClient(t)
	for ct, pt := range fuzzMessages(t) {
		if got, _, err := decryptStream(c, []byte(ct), 3); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("DecryptReader: %v", err)
		}
	}
}

// addSeeds adds the seed messages to f and returns their plaintexts.
func addSeeds(f *testing.F) map[string][]byte {
	seeds := fuzzMessages(f)
	for _, ct := range slices.Sorted(maps.Keys(seeds)) {
		f.Add([]byte(ct))
	}
	f.Add([]byte{})
	f.Add([]byte{2, 4, 0x78})
	return seeds
}

func checkTyped(t *testing.T, what string, err error) {
	t.Helper()
	if !slices.ContainsFunc(fuzzSentinels, func(s error) bool { return errors.Is(err, s) }) {
		t.Fatalf("%s: untyped error %v", what, err)
	}
	if field, ok := envelope.HeaderField(err); ok && field == "" {
		t.Fatalf("%s: header error without a field: %v", what, err)
	}
}

// FuzzParseHeader: no input makes ParseHeader panic; every failure names a
// field; a parsed header parses the same again, read exactly h.Len() bytes
// and its fields serialize back to those bytes.
func FuzzParseHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(checkParseHeader)
}

// checkParseHeader is FuzzParseHeader's check of the input b.
func checkParseHeader(t *testing.T, b []byte) {
	r := bytes.NewReader(b)
	h, err := envelope.ParseHeader(r)
	if err != nil {
		if field, _ := envelope.HeaderField(err); field == "" || !errors.Is(err, envelope.ErrMalformedHeader) {
			t.Fatalf("ParseHeader: %v is not a header error naming a field", err)
		}
		return
	}
	if read := len(b) - r.Len(); read != h.Len() {
		t.Fatalf("ParseHeader read %d bytes of a %d-byte header", read, h.Len())
	}
	again, err := envelope.ParseHeader(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(h, again) {
		t.Fatalf("second parse differs: %v", err)
	}
	_, _, tag := envelope.HeaderAuth(h)
	if !envelope.Known(h.Suite) || envelope.MessageVersion(h.Suite) != h.Version || len(h.MessageID) != 16*int(h.Version) ||
		len(h.EncryptedDataKeys) == 0 || len(tag) != 16 {
		t.Fatalf("header fields out of range: version %d suite %s, %d-byte ID, %d keys", h.Version, h.Suite, len(h.MessageID), len(h.EncryptedDataKeys))
	}
	checkHeaderBytes(t, h, b)
}

// checkHeaderBytes checks that the fields of h, parsed from b, serialize
// back to b's first h.Len() bytes.
func checkHeaderBytes(t *testing.T, h *envelope.Header, b []byte) {
	// The context is the one field not written back verbatim: readers
	// accept any pair order and the "expanded" empty form.
	ctxAt := 1 + 2 + len(h.MessageID)
	if h.Version == 1 {
		ctxAt++
	}
	rawCtx := b[ctxAt+2 : ctxAt+2+int(binary.BigEndian.Uint16(b[ctxAt:]))]
	canon, err := wire.AppendContext(nil, h.EncryptionContext)
	if err != nil || len(canon) != len(rawCtx) && !(len(canon) == 0 && bytes.Equal(rawCtx, []byte{0, 0})) {
		t.Fatalf("context %q (%v) does not account for its %d bytes", h.EncryptionContext, err, len(rawCtx))
	}
	if out := appendHeader(nil, h, rawCtx); !bytes.Equal(out, b[:h.Len()]) {
		t.Fatalf("fields serialize to\n%x\nnot\n%x", out, b[:h.Len()])
	}
}

// appendHeader serializes h from its exported fields, with its context as
// the bytes rawCtx: an independent writer of the header layout.
func appendHeader(b []byte, h *envelope.Header, rawCtx []byte) []byte {
	b = append(b, h.Version)
	if h.Version == 1 {
		b = append(b, 0x80)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(h.Suite))
	b = append(b, h.MessageID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rawCtx)))
	b = append(b, rawCtx...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.EncryptedDataKeys)))
	for _, k := range h.EncryptedDataKeys {
		b = wire.AppendEncryptedDataKey(b, k.ProviderID, k.ProviderInfo, k.Ciphertext)
	}
	b = append(b, envelope.ContentType(h))
	if h.Version == 1 {
		b = append(b, 0, 0, 0, 0, 12)
	}
	b = binary.BigEndian.AppendUint32(b, h.FrameLength)
	iv, commitKey, tag := envelope.HeaderAuth(h)
	b = append(b, commitKey...)
	b = append(b, iv...)
	return append(b, tag...)
}

// FuzzDecrypt: one-shot Decrypt never panics, fails with a typed error and
// no plaintext, and succeeds exactly on the seeds, with their plaintext.
func FuzzDecrypt(f *testing.F) {
	seeds := addSeeds(f)
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, h, err := c.Decrypt(context.Background(), b, envelope.WithFrameWorkers(1+len(b)%3))
		want, isSeed := seeds[string(b)]
		if err != nil {
			if pt != nil || h != nil {
				t.Fatalf("Decrypt failed (%v) but returned plaintext or a header", err)
			}
			if isSeed {
				t.Fatalf("seed message: %v", err)
			}
			checkTyped(t, "Decrypt", err)
			return
		}
		if !isSeed {
			t.Fatalf("Decrypt accepted %d bytes that are no message written here", len(b))
		}
		if !bytes.Equal(pt, want) {
			t.Fatal("seed message decrypted to another plaintext")
		}
	})
}

// FuzzDecryptReader: the streaming reader never panics, releases only
// verified plaintext (a prefix of a message written here), reaches io.EOF
// exactly on the seeds, and agrees with one-shot Decrypt.
func FuzzDecryptReader(f *testing.F) {
	seeds := addSeeds(f)
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		want, isSeed := seeds[string(b)]
		oneShot, _, oneShotErr := c.Decrypt(context.Background(), b)
		r, err := c.NewDecryptReader(context.Background(), bytes.NewReader(b), envelope.WithFrameWorkers(1+len(b)%3))
		var got []byte
		if err == nil {
			got, err = readIn(r, 1+len(b)%50)
		}
		if !bytes.Equal(got, testPlaintext(len(got))) {
			t.Fatalf("released %d bytes that no message written here holds", len(got))
		}
		if err != nil {
			if isSeed {
				t.Fatalf("seed message: %v", err)
			}
			checkTyped(t, "DecryptReader", err)
			if oneShotErr == nil {
				t.Fatalf("Decrypt accepted what DecryptReader refused with %v", err)
			}
			return
		}
		if !isSeed || !bytes.Equal(got, want) {
			t.Fatalf("DecryptReader reached io.EOF on %d bytes that are no message written here", len(b))
		}
		if oneShotErr != nil || !bytes.Equal(oneShot, got) {
			t.Fatalf("DecryptReader accepted what Decrypt refused with %v", oneShotErr)
		}
	})
}
