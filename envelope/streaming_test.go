package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// Streaming semantics of signed messages.
//
// A DecryptReader releases each frame once its GCM tag verified. For a
// signed suite the signature covers the whole message and is checked only
// after the final frame has been read: the reader therefore releases the
// regular frames (verified under the data key, not yet proven to come from
// the signer) and withholds the final frame until the signature verified.
// A bad or missing signature is returned by Read as ErrSignature or
// ErrTruncated, again on every later Read, and io.EOF never comes. A
// consumer that must not act on unsigned-for data before the end uses
// one-shot Decrypt or WithUnsignedOnly.

// signedMessage writes pt (frames of 16) under 0x0578.
func signedMessage(t *testing.T, pt []byte) (*envelope.Client, []byte, *layout) {
	t.Helper()
	const id = envelope.AES256GCMHKDFSHA512CommitP384
	c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(16))
	ct := mustEncrypt(t, c, pt, map[string]string{"k": "v"})
	return c, ct, messageLayout(ct, id)
}

func TestSignedStreamWithholdsFinalFrame(t *testing.T) {
	pt := testPlaintext(tamperSize) // frames of 16, 16, 16 and a final 2
	c, ct, l := signedMessage(t, pt)
	other := mustEncrypt(t, c, pt, map[string]string{"k": "v"})
	footer := l.frames[len(l.frames)-1][1]
	sig := l.regions[len(l.regions)-1]

	flipped := bytes.Clone(ct)
	flipped[sig.end-1] ^= 0x01
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"flipped signature byte", flipped, envelope.ErrSignature},
		{"another message's signature", slices.Concat(ct[:footer], other[footer:]), envelope.ErrSignature},
		{"signature length shortened", slices.Concat(ct[:footer], []byte{0, byte(sig.end - sig.start - 1)}, ct[sig.start:sig.end-1]), envelope.ErrSignature},
		{"empty signature", slices.Concat(ct[:footer], []byte{0, 0}), envelope.ErrSignature},
		{"no footer", ct[:footer], envelope.ErrTruncated},
		{"half a signature", ct[:sig.start+10], envelope.ErrTruncated},
	}
	regular := pt[:3*16]
	for _, tc := range cases {
		for _, conc := range []int{1, 4} {
			for _, n := range []int{0, 1, 7, 100} {
				name := fmt.Sprintf("%s, concurrency %d, reads of %d", tc.name, conc, n)
				r, err := c.NewDecryptReader(context.Background(), bytes.NewReader(tc.msg), envelope.WithFrameWorkers(conc))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, err := readIn(r, n)
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: %v, want %v (never io.EOF)", name, err, tc.want)
				}
				if !bytes.Equal(got, regular) {
					t.Fatalf("%s: released %d bytes, want exactly the %d of the regular frames", name, len(got), len(regular))
				}
				if k, err := r.Read(make([]byte, 10)); k != 0 || !errors.Is(err, tc.want) {
					t.Fatalf("%s: Read after the failure: %d, %v", name, k, err)
				}
			}
		}
		if got, _, err := c.Decrypt(context.Background(), tc.msg); got != nil || !errors.Is(err, tc.want) {
			t.Fatalf("%s: Decrypt: %d bytes, %v", tc.name, len(got), err)
		}
	}
	// The untampered message: the final frame and io.EOF come together.
	r, err := c.NewDecryptReader(context.Background(), bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readIn(r, 7); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("untampered: %d bytes, %v", len(got), err)
	}
	// WithUnsignedOnly refuses the message before releasing anything.
	if _, err := c.NewDecryptReader(context.Background(), bytes.NewReader(flipped), envelope.WithUnsignedOnly()); !errors.Is(err, envelope.ErrSignedMessage) {
		t.Fatalf("WithUnsignedOnly: %v, want ErrSignedMessage", err)
	}
}

// TestSignedStreamSingleFrame: a signed message of one frame releases
// nothing at all when its signature fails.
func TestSignedStreamSingleFrame(t *testing.T) {
	for _, size := range []int{0, 1, 16} {
		pt := testPlaintext(size)
		c, ct, _ := signedMessage(t, pt)
		bad := bytes.Clone(ct)
		bad[len(bad)-1] ^= 0x80
		r, err := c.NewDecryptReader(context.Background(), bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := readIn(r, 1); len(got) != 0 || !errors.Is(err, envelope.ErrSignature) {
			t.Fatalf("size %d: released %d bytes, %v", size, len(got), err)
		}
	}
}

// TestStreamFinalFrameTampered: in an unsigned message a bad final frame
// fails its own tag; the regular frames before it were released, the final
// frame's bytes never are.
func TestStreamFinalFrameTampered(t *testing.T) {
	const id = envelope.AES256GCMHKDFSHA512Commit
	c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(16))
	pt := testPlaintext(tamperSize)
	ct := mustEncrypt(t, c, pt, nil)
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1 // the final frame's tag
	for _, conc := range []int{1, 4} {
		r, err := c.NewDecryptReader(context.Background(), bytes.NewReader(bad), envelope.WithFrameWorkers(conc))
		if err != nil {
			t.Fatal(err)
		}
		got, err := readIn(r, 5)
		if !errors.Is(err, envelope.ErrAuthentication) || !bytes.Equal(got, pt[:48]) {
			t.Fatalf("concurrency %d: released %d bytes, %v", conc, len(got), err)
		}
	}
}

// gatedSource serves its bytes up to gate until opened; a Read past the
// gate before that is recorded, and served, so that a reader that waits
// for more input fails the test instead of hanging it.
type gatedSource struct {
	b         []byte
	off, gate int
	open      atomic.Bool
	early     atomic.Bool
}

func (g *gatedSource) Read(p []byte) (int, error) {
	if g.off == len(g.b) {
		return 0, io.EOF
	}
	end := len(g.b)
	if !g.open.Load() {
		if g.off >= g.gate {
			g.early.Store(true)
		} else {
			end = g.gate
		}
	}
	n := copy(p, g.b[g.off:end])
	g.off += n
	return n, nil
}

// TestStreamReleasesEarly: with one worker, a frame is released as soon as
// it has arrived and verified, before the rest of the message is read.
func TestStreamReleasesEarly(t *testing.T) {
	for _, id := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		c := newClient(t, aesKeyring(t), id, envelope.WithFrameLength(16))
		pt := testPlaintext(tamperSize)
		ct := mustEncrypt(t, c, pt, nil)
		src := &gatedSource{b: ct, gate: messageLayout(ct, id).frames[0][1]} // header and frame 1
		r, err := c.NewDecryptReader(context.Background(), src, envelope.WithFrameWorkers(1))
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 16)
		if _, err := io.ReadFull(r, first); err != nil || !bytes.Equal(first, pt[:16]) {
			t.Fatalf("%s: frame 1: %v", id, err)
		}
		if src.early.Load() {
			t.Fatalf("%s: the reader read past frame 1 before releasing it", id)
		}
		src.open.Store(true)
		rest, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(rest, pt[16:]) {
			t.Fatalf("%s: rest: %v", id, err)
		}
	}
}

// TestDecryptReaderSmallMessage: streaming a 1 KiB message costs buffers
// its size, not a stream's: the source is read through a 4 KiB buffer and
// the frame reader's first chunk is 4 KiB (they were 32 KiB and 8 KiB:
// 43-55 KiB allocated per message).
func TestDecryptReaderSmallMessage(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what is allocated")
	}
	ctx := context.Background()
	pt := testPlaintext(1 << 10)
	for _, frame := range []int{4 << 10, 64 << 10, 1 << 20} {
		for _, workers := range []int{1, 2} {
			c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit,
				envelope.WithFrameLength(frame), envelope.WithFrameWorkers(workers))
			ct := mustEncrypt(t, c, pt, map[string]string{"tenant": "clinic-7"})
			per := uint64(math.MaxUint64)
			for range 3 { // the least of three: other goroutines allocate too
				const runs = 50
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for range runs {
					r, err := c.NewDecryptReader(ctx, bytes.NewReader(ct))
					if err != nil {
						t.Fatal(err)
					}
					var got bytes.Buffer
					got.Grow(2 << 10)
					if _, err := io.Copy(&got, r); err != nil || !bytes.Equal(got.Bytes(), pt) {
						t.Fatalf("frame %d, %d workers: %v", frame, workers, err)
					}
				}
				runtime.ReadMemStats(&after)
				per = min(per, (after.TotalAlloc-before.TotalAlloc)/runs)
			}
			if per > 24<<10 {
				t.Errorf("frame %d, %d workers: %d bytes allocated to stream a %d-byte message", frame, workers, per, len(pt))
			}
		}
	}
}
