package envelope_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/cryptotest"

	"github.com/phicrypt/phicrypt/envelope"
)

// The tamper tests change one message in every way and assert the typed
// error each change gives, one-shot and streaming. The message is small and
// multi-frame: 50 bytes in frames of 16, three regular frames and a final
// frame of 2 bytes.
const (
	tamperFrame = 16
	tamperSize  = 50
)

func tamperSuites() []envelope.SuiteID {
	return []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384, envelope.AES256GCMHKDFSHA256}
}

// tamperMessage writes the test message of suite id from a fixed crypto/rand
// stream, so that every run tampers the same bytes.
func tamperMessage(t *testing.T, id envelope.SuiteID) (*envelope.Client, []byte, []byte) {
	t.Helper()
	c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(tamperFrame))
	pt := testPlaintext(tamperSize)
	cryptotest.SetGlobalRandom(t, uint64(id))
	ct, err := c.Encrypt(context.Background(), pt, map[string]string{"purpose": "tamper", "tenant": "t-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c, pt, ct
}

// region is a field of a message and the errors a change to it may give.
type region struct {
	name       string
	start, end int
	want       []error
}

var (
	errMalformed = envelope.ErrMalformedHeader
	errAuth      = envelope.ErrAuthentication
	errCommit    = envelope.ErrCommitmentMismatch
	errNoKey     = envelope.ErrNoDecryptionKey
	errBody      = envelope.ErrMalformedBody
	errTrunc     = envelope.ErrTruncated
	errSig       = envelope.ErrSignature
)

// layout walks a framed message independently of the package and names its
// fields, in order; frames holds the [start, end) of each frame.
type layout struct {
	b       []byte
	off     int
	regions []region
	frames  [][2]int
}

func (l *layout) take(n int, name string, want ...error) []byte {
	if l.off+n > len(l.b) {
		panic(fmt.Sprintf("layout: %s runs past the message", name))
	}
	if n > 0 {
		l.regions = append(l.regions, region{name, l.off, l.off + n, want})
	}
	l.off += n
	return l.b[l.off-n : l.off]
}

func (l *layout) u16(name string, want ...error) int {
	return int(binary.BigEndian.Uint16(l.take(2, name, want...)))
}

// messageLayout maps each field of a message to the errors a bit flip in it
// gives. Header structure (lengths, counts, types, reserved bytes) fails to
// parse: ErrMalformedHeader. What the header tag covers fails it:
// ErrAuthentication; a v2 message ID fails the key commitment first. The
// context and data keys are read before the header tag is checked: a
// changed pair or wrapped key fails the keyring (the raw AES keyring binds
// the context), a changed public key fails to parse. Frame sequence numbers
// and markers fail to parse (ErrMalformedBody); IVs, ciphertexts and tags
// fail authentication; the footer fails the signature.
func messageLayout(ct []byte, id envelope.SuiteID) *layout {
	l := &layout{b: ct}
	v1 := envelope.MessageVersion(id) == 1
	l.take(1, "version", errMalformed)
	if v1 {
		l.take(1, "type", errMalformed)
	}
	// 0x0478 and 0x0578 differ in one bit, and so do 0x0178 and 0x0078: a
	// flip can name a known suite, whose signing key or key derivation then
	// does not match.
	l.take(2, "suite ID", errMalformed, errAuth)
	if v1 {
		l.take(16, "message ID", errAuth)
	} else {
		l.take(32, "message ID", errCommit)
	}
	// A longer or shorter context shifts every later field: it fails to
	// parse, or its pairs then fail the keyring.
	if n := l.u16("context length", errMalformed, errNoKey); n > 0 {
		pairs := l.u16("context pair count", errMalformed)
		for range pairs {
			l.take(l.u16("context key length", errMalformed, errNoKey), "context key", errMalformed, errNoKey)
			l.take(l.u16("context value length", errMalformed, errNoKey), "context value", errMalformed, errNoKey)
		}
	}
	edks := l.u16("EDK count", errMalformed)
	for range edks {
		l.take(l.u16("EDK provider ID length", errMalformed, errNoKey), "EDK provider ID", errMalformed, errNoKey)
		l.take(l.u16("EDK provider info length", errMalformed, errNoKey), "EDK provider info", errNoKey)
		l.take(l.u16("EDK ciphertext length", errMalformed, errNoKey), "EDK ciphertext", errNoKey)
	}
	l.take(1, "content type", errMalformed)
	if v1 {
		l.take(4, "reserved", errMalformed)
		l.take(1, "IV length", errMalformed)
	}
	// One flip in 0x00000010 clears it: a zero frame length is malformed.
	frame := int(binary.BigEndian.Uint32(l.take(4, "frame length", errAuth, errMalformed)))
	if v1 {
		l.take(12, "header IV", errAuth)
	} else {
		l.take(32, "commit key", errCommit)
	}
	l.take(16, "header tag", errAuth)
	for seq := 1; ; seq++ {
		start := l.off
		if binary.BigEndian.Uint32(l.b[l.off:]) == 0xFFFFFFFF {
			l.take(4, "final marker", errBody)
			l.take(4, "final frame seq", errBody)
			l.take(12, "final frame IV", errAuth)
			// A longer content length reads past the body (truncated, or
			// the footer as ciphertext); a shorter one fails the tag; one
			// above the frame length is malformed.
			n := int(binary.BigEndian.Uint32(l.take(4, "final frame length", errBody, errAuth, errTrunc)))
			l.take(n, "final frame ciphertext", errAuth)
			l.take(16, "final frame tag", errAuth)
			l.frames = append(l.frames, [2]int{start, l.off})
			break
		}
		l.take(4, fmt.Sprintf("frame %d seq", seq), errBody)
		l.take(12, fmt.Sprintf("frame %d IV", seq), errAuth)
		l.take(frame, fmt.Sprintf("frame %d ciphertext", seq), errAuth)
		l.take(16, fmt.Sprintf("frame %d tag", seq), errAuth)
		l.frames = append(l.frames, [2]int{start, l.off})
	}
	if id.Signed() {
		// A shorter signature does not verify; a longer one is cut short.
		l.take(l.u16("signature length", errTrunc, errSig), "signature", errSig)
	}
	if l.off != len(l.b) {
		panic(fmt.Sprintf("layout: %d bytes after the footer", len(l.b)-l.off))
	}
	return l
}

func isOneOf(err error, want []error) bool {
	return slices.ContainsFunc(want, func(w error) bool { return errors.Is(err, w) })
}

// expectFailure decrypts bad one-shot and streaming and asserts that both
// fail with one of want, that Decrypt returns no plaintext and that the
// DecryptReader releases only a prefix of pt and never io.EOF.
func expectFailure(t *testing.T, c *envelope.Client, bad, pt []byte, what string, want ...error) {
	t.Helper()
	got, h, err := c.Decrypt(context.Background(), bad)
	if !isOneOf(err, want) {
		t.Fatalf("%s: Decrypt: %v, want one of %v", what, err, want)
	}
	if got != nil || h != nil {
		t.Fatalf("%s: Decrypt failed with %v but returned plaintext or header", what, err)
	}
	got, _, err = decryptStream(c, bad, 7)
	if err == nil {
		t.Fatalf("%s: DecryptReader reached io.EOF", what)
	}
	if !isOneOf(err, want) {
		t.Fatalf("%s: DecryptReader: %v, want one of %v", what, err, want)
	}
	if !bytes.HasPrefix(pt, got) {
		t.Fatalf("%s: DecryptReader released %d bytes that are not a prefix of the plaintext", what, len(got))
	}
}

// tamperBits are the bits flipped in byte i of region r. Every bit of every
// byte, except where each decryption costs an ECDSA public key
// decompression (a signed suite, ~3 ms under -race) and the field is longer
// than four bytes: there one bit a byte, a different one in each byte.
// -short flips one bit a byte everywhere.
func tamperBits(id envelope.SuiteID, r region, i int) []int {
	if testing.Short() || id.Signed() && r.end-r.start > 4 {
		return []int{i % 8}
	}
	return []int{0, 1, 2, 3, 4, 5, 6, 7}
}

// TestTamperEveryBit flips bits of every byte (see tamperBits) and asserts
// the error of the field it falls in.
func TestTamperEveryBit(t *testing.T) {
	for _, id := range tamperSuites() {
		t.Run(id.String(), func(t *testing.T) {
			c, pt, ct := tamperMessage(t, id)
			if got, _, err := c.Decrypt(context.Background(), ct); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("untampered message: %v", err)
			}
			for _, r := range messageLayout(ct, id).regions {
				for i := r.start; i < r.end; i++ {
					for _, bit := range tamperBits(id, r, i) {
						bad := bytes.Clone(ct)
						bad[i] ^= 1 << bit
						expectFailure(t, c, bad, pt, fmt.Sprintf("%s byte %d bit %d", r.name, i-r.start, bit), r.want...)
					}
				}
			}
		})
	}
}

// TestTamperFrames drops, reorders, duplicates and renumbers whole frames
// and appends bytes after the message.
func TestTamperFrames(t *testing.T) {
	for _, id := range tamperSuites() {
		t.Run(id.String(), func(t *testing.T) {
			c, pt, ct := tamperMessage(t, id)
			l := messageLayout(ct, id)
			f := func(i int) []byte { return ct[l.frames[i][0]:l.frames[i][1]] }
			head, final, footer := ct[:l.frames[0][0]], l.frames[3], ct[l.frames[3][1]:]
			renumber := func(frame []byte, seq uint32) []byte {
				frame = bytes.Clone(frame)
				binary.BigEndian.PutUint32(frame, seq)
				return frame
			}
			cases := []struct {
				name string
				msg  []byte
				want error
			}{
				{"drop final frame and footer", ct[:final[0]], errTrunc},
				{"drop frame 2", slices.Concat(head, f(0), f(2), ct[final[0]:]), errBody},
				{"swap frames 1 and 2", slices.Concat(head, f(1), f(0), ct[l.frames[2][0]:]), errBody},
				{"swap frames 1 and 2, renumbered", slices.Concat(head, renumber(f(1), 1), renumber(f(0), 2), ct[l.frames[2][0]:]), errAuth},
				{"duplicate frame 1", slices.Concat(head, f(0), ct[l.frames[0][0]:]), errBody},
				{"frame 2 again as frame 3", slices.Concat(head, f(0), f(1), renumber(f(1), 3), ct[final[0]:]), errAuth},
				{"frame 3 moved last, renumbered", slices.Concat(head, f(0), f(1), ct[final[0]:final[1]], footer), errBody},
				{"trailing byte", slices.Concat(ct, []byte{0}), envelope.ErrTrailingData},
				{"message twice", slices.Concat(ct, ct), envelope.ErrTrailingData},
			}
			if id.Signed() {
				cases = append(cases, struct {
					name string
					msg  []byte
					want error
				}{"drop final frame, keep footer", slices.Concat(ct[:final[0]], footer), errBody})
			}
			for _, tc := range cases {
				expectFailure(t, c, tc.msg, pt, tc.name, tc.want)
			}
		})
	}
}

// TestTamperTruncate cuts the message at every length: always ErrTruncated,
// whether the cut falls in the header, a frame or the footer.
func TestTamperTruncate(t *testing.T) {
	for _, id := range tamperSuites() {
		t.Run(id.String(), func(t *testing.T) {
			c, pt, ct := tamperMessage(t, id)
			for n := range len(ct) {
				expectFailure(t, c, ct[:n], pt, fmt.Sprintf("cut at %d of %d", n, len(ct)), errTrunc)
			}
		})
	}
}
