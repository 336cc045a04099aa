package envelope_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"testing/cryptotest"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/keyring"
)

// The helpers of this file are shared by every test file of the package
// written for the suite: keyrings, suites, plaintexts, streaming feeds.

// The test keys and raw keyrings are testkit's, shared with other packages' tests.
const testNamespace = testkit.Namespace

var (
	testWrappingKey = testkit.WrappingKey
	testRSAKey      = testkit.RSAKey
	aesKeyring      = testkit.AESKeyring
	rsaKeyring      = testkit.RSAKeyring
)

// keyringCase is a keyring to encrypt with and the keyrings each of which
// must decrypt alone what it wrote.
type keyringCase struct {
	name string
	enc  envelope.Keyring
	dec  map[string]envelope.Keyring
	edks int // encrypted data keys per message
}

func keyringCases(t testing.TB) []keyringCase {
	aes, rsa := aesKeyring(t), rsaKeyring(t, keyring.OAEPSHA256)
	multi, err := keyring.NewMulti(aes, rsa)
	if err != nil {
		t.Fatal(err)
	}
	return []keyringCase{
		{"aes", aes, map[string]envelope.Keyring{"aes": aes}, 1},
		{"rsa-oaep-sha256", rsa, map[string]envelope.Keyring{"rsa": rsa}, 1},
		{"multi", multi, map[string]envelope.Keyring{"multi": multi, "aes child": aes, "rsa child": rsa}, 2},
	}
}

// writableSuites are the suites a Client writes: the v2 committing suites
// under the default policy and the v1 suites under ForbidEncryptAllowDecrypt.
// phicrypt writes every suite it reads.
func writableSuites() []envelope.SuiteID { return envelope.Suites() }

// shortSuites trims the matrices under -short to the two v2 suites and a
// signed and an unsigned v1 suite.
func shortSuites() []envelope.SuiteID {
	return []envelope.SuiteID{
		envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384,
		envelope.AES256GCMHKDFSHA256, envelope.AES256GCMHKDFSHA384ECDSAP384,
	}
}

func testSuites() []envelope.SuiteID {
	if testing.Short() {
		return shortSuites()
	}
	return writableSuites()
}

// suiteOptions selects id and, for a v1 suite, the only policy that writes it.
func suiteOptions(id envelope.SuiteID, extra ...envelope.ClientOption) []envelope.ClientOption {
	opts := []envelope.ClientOption{envelope.WithSuite(id)}
	if !id.Committing() {
		opts = append(opts, envelope.WithCommitmentPolicy(envelope.ForbidEncryptAllowDecrypt))
	}
	return append(opts, extra...)
}

func newClient(t testing.TB, kr envelope.Keyring, id envelope.SuiteID, extra ...envelope.ClientOption) *envelope.Client {
	t.Helper()
	c, err := envelope.New(kr, suiteOptions(id, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testPlaintext returns the first n bytes of one fixed pseudo-random stream:
// every plaintext of the suite is a prefix of every longer one.
func testPlaintext(n int) []byte {
	rng := mrand.New(mrand.NewPCG(0x70686963, 0x72797074))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

var testContexts = []struct {
	name string
	ec   map[string]string
}{
	{"empty", map[string]string{}},
	{"one pair", map[string]string{"purpose": "test"}},
	{"many pairs", map[string]string{"a": "1", "b": "", "": "empty key", "tenant": "t-17", "Z": "upper", "record": "patient/8812"}},
	{"utf-8", map[string]string{"clé": "valeur", "患者": "記録", "emoji 🔐": "ßü\u00a0\u2028", "k": "\u0000nul"}},
}

// feed writes p to w in chunks whose sizes next returns.
func feed(w io.Writer, p []byte, next func() int) error {
	for len(p) > 0 {
		n := min(len(p), max(1, next()))
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

type feedCase struct {
	name string
	next func() int
}

// feeds are the Write sizes streaming writers are tested with.
func feeds(frame int, seed uint64) []feedCase {
	rng := mrand.New(mrand.NewPCG(seed, 7))
	fixed := func(n int) func() int { return func() int { return n } }
	return []feedCase{
		{"whole", fixed(1 << 30)},
		{"1", fixed(1)},
		{"7", fixed(7)},
		{"frame-1", fixed(frame - 1)},
		{"frame+1", fixed(frame + 1)},
		{"random", func() int { return 1 + rng.IntN(3*frame+2) }},
	}
}

// readIn reads r to its end with reads of n bytes; n = 0 uses io.Copy,
// which goes through WriteTo. A nil error means io.EOF was reached.
func readIn(r io.Reader, n int) ([]byte, error) {
	var out bytes.Buffer
	if n == 0 {
		_, err := io.Copy(&out, r)
		return out.Bytes(), err
	}
	// The wrappers hide WriteTo and ReadFrom, so that every Read is of n bytes.
	_, err := io.CopyBuffer(struct{ io.Writer }{&out}, struct{ io.Reader }{r}, make([]byte, n))
	return out.Bytes(), err
}

// encryptStream writes pt through an EncryptWriter fed by next.
func encryptStream(t testing.TB, c *envelope.Client, pt []byte, ec map[string]string, next func() int, opts ...envelope.EncryptOption) ([]byte, *envelope.Header) {
	t.Helper()
	var buf bytes.Buffer
	w, err := c.NewEncryptWriter(context.Background(), &buf, ec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := feed(w, pt, next); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.Header()
}

// decryptStream reads a whole message through a DecryptReader with read
// buffers of n bytes (0: io.Copy).
func decryptStream(c *envelope.Client, ct []byte, n int, opts ...envelope.DecryptOption) ([]byte, *envelope.DecryptReader, error) {
	r, err := c.NewDecryptReader(context.Background(), bytes.NewReader(ct), opts...)
	if err != nil {
		return nil, nil, err
	}
	pt, err := readIn(r, n)
	return pt, r, err
}

// wantContext is the header context of a message written under ec.
func wantContext(id envelope.SuiteID, ec map[string]string, h *envelope.Header) map[string]string {
	want := map[string]string{}
	for k, v := range ec {
		want[k] = v
	}
	if id.Signed() {
		want["aws-crypto-public-key"] = h.EncryptionContext["aws-crypto-public-key"]
	}
	return want
}

// checkHeader asserts the fields of a header written with id, frame and ec
// by a keyring that writes edks encrypted data keys.
func checkHeader(t testing.TB, h *envelope.Header, id envelope.SuiteID, frame int, ec map[string]string, edks int) {
	t.Helper()
	if h == nil {
		t.Fatal("nil header")
	}
	if msg := headerLayoutProblem(h, id, frame, edks); msg != "" {
		t.Error(msg)
	} else if msg := headerAuthProblem(h, id, ec); msg != "" {
		t.Error(msg)
	}
	for _, k := range h.EncryptedDataKeys {
		if k.ProviderID != testNamespace || len(k.ProviderInfo) == 0 || len(k.Ciphertext) == 0 {
			t.Errorf("encrypted data key %q/%x: empty field", k.ProviderID, k.ProviderInfo)
		}
	}
}

// headerLayoutProblem describes the first of h's suite, version, message
// ID, content type, frame length and data key count that is not as
// written with id, frame and edks keys, or returns "".
func headerLayoutProblem(h *envelope.Header, id envelope.SuiteID, frame, edks int) string {
	switch {
	case h.Suite != id:
		return fmt.Sprintf("header suite %s, want %s", h.Suite, id)
	case h.Version != envelope.MessageVersion(id) || len(h.MessageID) != 16*int(envelope.MessageVersion(id)):
		return fmt.Sprintf("header version %d with a %d-byte message ID for suite %s", h.Version, len(h.MessageID), id)
	case bytes.Equal(h.MessageID, make([]byte, len(h.MessageID))):
		return "all-zero message ID"
	case envelope.ContentType(h) != 2 || h.FrameLength != uint32(frame):
		return fmt.Sprintf("content type %d frame length %d, want framed %d", envelope.ContentType(h), h.FrameLength, frame)
	case len(h.EncryptedDataKeys) != edks:
		return fmt.Sprintf("%d encrypted data keys, want %d", len(h.EncryptedDataKeys), edks)
	}
	return ""
}

// headerAuthProblem describes the first of h's commit key, IV, tag and
// context that is not as written with id and ec, or returns "".
func headerAuthProblem(h *envelope.Header, id envelope.SuiteID, ec map[string]string) string {
	iv, commitKey, tag := envelope.HeaderAuth(h)
	switch {
	case id.Committing() != (len(commitKey) == 32) || (h.Version == 1) != (len(iv) == 12) || len(tag) != 16:
		return fmt.Sprintf("commit key %d, IV %d, tag %d bytes for suite %s", len(commitKey), len(iv), len(tag), id)
	case id.Signed() && h.EncryptionContext["aws-crypto-public-key"] == "":
		return "signed suite without aws-crypto-public-key"
	case !reflect.DeepEqual(h.EncryptionContext, wantContext(id, ec, h)):
		return fmt.Sprintf("header context %q, want %q", h.EncryptionContext, wantContext(id, ec, h))
	}
	return ""
}

// frameSizes are the plaintext sizes around the frame boundaries.
func frameSizes(frame int) []int {
	sizes := []int{0, 1, frame - 1, frame, frame + 1, 3 * frame, 3*frame + 7}
	slices.Sort(sizes)
	return slices.Compact(sizes)
}

// TestRoundTrip encrypts every writable suite, frame length and boundary
// size one-shot and streaming (every feed, one and four workers) under the
// same crypto/rand stream, asserts that every writer emits the same bytes,
// and decrypts them one-shot and streaming with odd buffer sizes.
func TestRoundTrip(t *testing.T) {
	kr := aesKeyring(t)
	for _, id := range testSuites() {
		for _, frame := range []int{1, 16, 64, 4096} {
			for i, size := range frameSizes(frame) {
				ec := testContexts[i%len(testContexts)]
				name := fmt.Sprintf("%s/frame=%d/size=%d/%s", id, frame, size, ec.name)
				t.Run(name, func(t *testing.T) {
					roundTrip(t, kr, id, frame, size, ec.ec)
				})
			}
		}
	}
}

func roundTrip(t *testing.T, kr envelope.Keyring, id envelope.SuiteID, frame, size int, ec map[string]string) {
	ctx := context.Background()
	c := newClient(t, kr, id, envelope.WithFrameLength(frame))
	pt := testPlaintext(size)
	seed := uint64(id)<<40 | uint64(frame)<<20 | uint64(size)

	// Every writer, serial or parallel, one-shot or streaming, writes the
	// same bytes from the same randomness.
	var ref []byte
	var refHeader *envelope.Header
	same := func(name string, ct []byte, h *envelope.Header) {
		t.Helper()
		if ref == nil {
			ref = ct
			return
		}
		if !bytes.Equal(ct, ref) {
			t.Fatalf("%s: %d bytes differ from the serial one-shot message (%d bytes)", name, len(ct), len(ref))
		}
		if h != nil && !reflect.DeepEqual(h, refHeader) {
			t.Fatalf("%s: EncryptWriter.Header differs from the parsed header", name)
		}
	}
	for _, conc := range []int{1, 4} {
		cryptotest.SetGlobalRandom(t, seed)
		ct, err := c.Encrypt(ctx, pt, ec, envelope.WithFrameWorkers(conc))
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			if refHeader, err = envelope.ParseHeader(bytes.NewReader(ct)); err != nil {
				t.Fatal(err)
			}
			checkHeader(t, refHeader, id, frame, ec, 1)
		}
		same(fmt.Sprintf("one-shot concurrency %d", conc), ct, nil)
	}
	fs, reads := feeds(frame, seed), []int{0, 1, 7, frame + 1, 64 << 10, 0}
	if id.Signed() {
		// ECDSA dominates a signed round trip (tenfold under -race) and the
		// body path is the unsigned suites': fewer feeds and reads.
		fs, reads = []feedCase{fs[0], fs[1], fs[5]}, []int{0, 1, frame + 1}
	}
	for i, f := range fs {
		conc := 1 + 3*(i%2) // every other feed on four workers
		cryptotest.SetGlobalRandom(t, seed)
		ct, h := encryptStream(t, c, pt, ec, f.next, envelope.WithFrameWorkers(conc))
		same(fmt.Sprintf("stream %s concurrency %d", f.name, conc), ct, h)
	}

	decryptAll(t, c, ref, refHeader, pt, reads)
}

// decryptAll decrypts ref, whose header is refHeader and plaintext pt,
// one-shot and with a DecryptReader for each read size in reads, on one
// and four workers.
func decryptAll(t *testing.T, c *envelope.Client, ref []byte, refHeader *envelope.Header, pt []byte, reads []int) {
	ctx := context.Background()
	for _, conc := range []int{1, 4} {
		got, h, err := c.Decrypt(ctx, ref, envelope.WithFrameWorkers(conc))
		if err != nil {
			t.Fatalf("Decrypt concurrency %d: %v", conc, err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("Decrypt concurrency %d: plaintext differs", conc)
		}
		if !reflect.DeepEqual(h, refHeader) {
			t.Fatalf("Decrypt concurrency %d: header differs from ParseHeader's", conc)
		}
	}
	for i, n := range reads {
		conc := 1 + 3*(i%2)
		got, r, err := decryptStream(c, ref, n, envelope.WithFrameWorkers(conc))
		if err != nil {
			t.Fatalf("DecryptReader reads of %d, concurrency %d: %v", n, conc, err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("DecryptReader reads of %d, concurrency %d: plaintext differs", n, conc)
		}
		if !reflect.DeepEqual(r.Header(), refHeader) {
			t.Fatalf("DecryptReader reads of %d: header differs from ParseHeader's", n)
		}
		if !reflect.DeepEqual(r.EncryptionContext(), refHeader.EncryptionContext) {
			t.Fatalf("DecryptReader.EncryptionContext %q, want %q", r.EncryptionContext(), refHeader.EncryptionContext)
		}
	}
}

// TestRoundTripContexts: every context shape survives one-shot and
// streaming, and the readers report it with the signing key added.
func TestRoundTripContexts(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t)
	for _, id := range shortSuites() {
		for _, tc := range testContexts {
			t.Run(fmt.Sprintf("%s/%s", id, tc.name), func(t *testing.T) {
				c := newClient(t, kr, id, envelope.WithFrameLength(16))
				pt := testPlaintext(40)
				oneShot, err := c.Encrypt(ctx, pt, tc.ec)
				if err != nil {
					t.Fatal(err)
				}
				streamed, wh := encryptStream(t, c, pt, tc.ec, func() int { return 5 })
				checkHeader(t, wh, id, 16, tc.ec, 1)
				for _, ct := range [][]byte{oneShot, streamed} {
					got, h, err := c.Decrypt(ctx, ct, envelope.WithExpectedContext(tc.ec))
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("Decrypt: %v", err)
					}
					checkHeader(t, h, id, 16, tc.ec, 1)
					got, r, err := decryptStream(c, ct, 3, envelope.WithExpectedContext(tc.ec))
					if err != nil || !bytes.Equal(got, pt) {
						t.Fatalf("DecryptReader: %v", err)
					}
					if !reflect.DeepEqual(r.EncryptionContext(), wantContext(id, tc.ec, h)) {
						t.Fatalf("EncryptionContext %q, want %q", r.EncryptionContext(), wantContext(id, tc.ec, h))
					}
				}
			})
		}
	}
}

// TestRoundTripNilContext: a nil context is the empty context.
func TestRoundTripNilContext(t *testing.T) {
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	ct, err := c.Encrypt(context.Background(), []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, h, err := c.Decrypt(context.Background(), ct)
	if err != nil || string(got) != "x" || len(h.EncryptionContext) != 0 {
		t.Fatalf("got %q, context %q, err %v", got, h.EncryptionContext, err)
	}
}
