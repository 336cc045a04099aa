package stream

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
)

// The content strings of the additional data, from the specification.
const (
	specFrame  = "AWSKMSEncryptionClient Frame"
	specFinal  = "AWSKMSEncryptionClient Final Frame"
	specSingle = "AWSKMSEncryptionClient Single Block"
)

// specSeal writes a framed body straight from the format description,
// independently of Writer and Seal. With emptyFinal a plaintext that fills
// its last frame ends in an empty final frame, as the JavaScript SDK writes.
func specSeal(aead cipher.AEAD, msgID []byte, frame int, pt []byte, emptyFinal bool) []byte {
	var out []byte
	seal := func(seq uint32, content string, p []byte) {
		iv := make([]byte, 12)
		binary.BigEndian.PutUint32(iv[8:], seq)
		aad := slices.Concat(msgID, []byte(content), binary.BigEndian.AppendUint32(nil, seq), binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		if content == specFrame {
			out = binary.BigEndian.AppendUint32(out, seq)
			out = append(out, iv...)
		} else {
			out = append(out, 0xFF, 0xFF, 0xFF, 0xFF)
			out = binary.BigEndian.AppendUint32(out, seq)
			out = append(out, iv...)
			out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		}
		out = aead.Seal(out, iv, p, aad)
	}
	seq := uint32(1)
	for len(pt) > frame || emptyFinal && len(pt) == frame {
		seal(seq, specFrame, pt[:frame])
		pt, seq = pt[frame:], seq+1
	}
	seal(seq, specFinal, pt)
	return out
}

// streamPlaintext is the first n bytes of one fixed stream: every
// plaintext of these tests is a prefix of every longer one.
func streamPlaintext(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8 + 1)
	}
	return b
}

// readBody reads a body through a Reader with reads of n bytes (0: WriteTo)
// and returns the plaintext and the final error, io.EOF included.
func readBody(body []byte, cfg Config, n int) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(body), cfg)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if n == 0 {
		_, err = r.WriteTo(&out)
	} else {
		_, err = io.CopyBuffer(struct{ io.Writer }{&out}, struct{ io.Reader }{r}, make([]byte, n))
	}
	if err == nil {
		err = io.EOF
	}
	return out.Bytes(), err
}

// TestWriterMatchesSpec: Writer and Seal write the specification's bytes
// (full-length final frame) for every frame boundary, worker count and
// message ID length; Reader (every read size), Open and ReaderAt read both
// final-frame layouts.
func TestWriterMatchesSpec(t *testing.T) {
	for _, frame := range []int{1, 16, 64} {
		for _, size := range []int{0, 1, frame - 1, frame, frame + 1, 3 * frame, 3*frame + 7} {
			for _, idLen := range []int{16, 32} {
				for _, workers := range []int{1, 4} {
					t.Run(fmt.Sprintf("frame=%d/size=%d/id=%d/workers=%d", frame, size, idLen, workers), func(t *testing.T) {
						cfg := testConfig(t, frame, workers)
						cfg.MessageID = cfg.MessageID[:idLen]
						pt := streamPlaintext(size)
						want := specSeal(cfg.AEAD, cfg.MessageID, frame, pt, false)
						if got := sealed(t, cfg, pt); !bytes.Equal(got, want) {
							t.Fatal("Writer differs from the specification")
						}
						if got, err := Seal([]byte("prefix"), pt, cfg); err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
							t.Fatalf("Seal differs from the specification: %v", err)
						}
						if n, err := SealedLength(int64(size), frame); err != nil || n != int64(len(want)) {
							t.Fatalf("SealedLength %d, %v; want %d", n, err, len(want))
						}
						checkOpens(t, "full final frame", want, cfg, pt, int64(max(1, (size+frame-1)/frame)))
						if size > 0 && size%frame == 0 {
							checkOpens(t, "empty final frame", specSeal(cfg.AEAD, cfg.MessageID, frame, pt, true), cfg, pt, int64(size/frame+1))
						}
					})
				}
			}
		}
	}
}

// checkOpens asserts that every reader opens body, of wantFrames frames,
// to pt and that the length functions agree with it.
func checkOpens(t *testing.T, name string, body []byte, cfg Config, pt []byte, wantFrames int64) {
	t.Helper()
	for _, n := range []int{0, 1, 7, cfg.FrameLength + 1} {
		if got, err := readBody(body, cfg, n); err != io.EOF || !bytes.Equal(got, pt) {
			t.Fatalf("%s: Reader with reads of %d: %v", name, n, err)
		}
	}
	withFooter := append(bytes.Clone(body), "footer"...)
	got, n, err := Open([]byte("x"), withFooter, cfg)
	if err != nil || n != len(body) || !bytes.Equal(got, append([]byte("x"), pt...)) {
		t.Fatalf("%s: Open: %d of %d bytes, %v", name, n, len(body), err)
	}
	src := &spanReaderAt{b: body}
	ra, err := NewReaderAt(src, 0, int64(len(body)), cfg)
	if err != nil {
		t.Fatalf("%s: NewReaderAt: %v", name, err)
	}
	all := make([]byte, len(pt))
	if k, err := ra.ReadAt(all, 0); k != len(pt) || (err != nil && err != io.EOF) || !bytes.Equal(all, pt) {
		t.Fatalf("%s: ReaderAt: %d, %v", name, k, err)
	}
	checkRanges(t, name, ra, src, pt, cfg.FrameLength)
	checkLengths(t, name, withFooter, len(body), cfg.FrameLength, int64(len(pt)), wantFrames)
}

// checkRanges asserts that ra, reading src, reads every range of pt from
// exactly the bytes SealedRange gives.
func checkRanges(t *testing.T, name string, ra *ReaderAt, src *spanReaderAt, pt []byte, frameLen int) {
	t.Helper()
	for off := range len(pt) {
		for end := off + 1; end <= len(pt); end++ {
			lo, hi, err := SealedRange(int64(off), int64(end), int64(len(src.b)), frameLen)
			if err != nil {
				t.Fatalf("%s: SealedRange [%d, %d): %v", name, off, end, err)
			}
			src.lo, src.hi = int64(len(src.b)), 0
			p := make([]byte, end-off)
			if k, err := ra.ReadAt(p, int64(off)); k != len(p) || (err != nil && err != io.EOF) || !bytes.Equal(p, pt[off:end]) {
				t.Fatalf("%s: ReadAt [%d, %d): %d, %v", name, off, end, k, err)
			}
			if src.lo != lo || src.hi != hi {
				t.Fatalf("%s: ReadAt [%d, %d) read [%d, %d), SealedRange says [%d, %d)", name, off, end, src.lo, src.hi, lo, hi)
			}
		}
	}
}

// checkLengths asserts that BodyLength, PlaintextLength and Scan agree
// on the body of bodyLen bytes at the start of withFooter, followed by
// "footer".
func checkLengths(t *testing.T, name string, withFooter []byte, bodyLen, frameLen int, size, wantFrames int64) {
	t.Helper()
	if n, err := BodyLength(withFooter, frameLen); err != nil || n != bodyLen {
		t.Fatalf("%s: BodyLength %d, %v; want %d", name, n, err, bodyLen)
	}
	if n, err := PlaintextLength(int64(bodyLen), frameLen); err != nil || n != size {
		t.Fatalf("%s: PlaintextLength %d, %v; want %d", name, n, err, size)
	}
	for _, seek := range []bool{true, false} {
		var src io.Reader = bytes.NewReader(withFooter)
		if !seek {
			src = struct{ io.Reader }{src}
		}
		frames, gotSize, n, err := Scan(src, frameLen)
		rest, _ := io.ReadAll(src)
		if err != nil || frames != wantFrames || gotSize != size || n != int64(bodyLen) || string(rest) != "footer" {
			t.Fatalf("%s: Scan (seeking %v): %d frames, %d, %d bytes, %v, %q left; want %d frames, %d, %d", name, seek, frames, gotSize, n, err, rest, wantFrames, size, bodyLen)
		}
	}
}

// spanReaderAt records the span of the bytes read from it.
type spanReaderAt struct {
	b      []byte
	mu     sync.Mutex
	lo, hi int64
}

func (s *spanReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	s.lo, s.hi = min(s.lo, off), max(s.hi, off+int64(len(p)))
	s.mu.Unlock()
	return bytes.NewReader(s.b).ReadAt(p, off)
}

// TestReaderStopsAtBodyEnd: a Reader never reads past the final frame, so
// a footer can be read from the same source after it.
func TestReaderStopsAtBodyEnd(t *testing.T) {
	cfg := testConfig(t, 16, 4)
	body := sealed(t, cfg, streamPlaintext(50))
	src := bytes.NewReader(append(bytes.Clone(body), "footer"...))
	r, err := NewReader(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(src); string(rest) != "footer" {
		t.Fatalf("left %q after the body", rest)
	}
}

// bodyRegions maps each field of a body to the errors a bit flip in it
// gives: sequence numbers and the final marker fail to parse; IVs,
// ciphertexts and tags fail authentication; the final content length fails
// to parse (above the frame length), reads past the end, or fails the tag.
func bodyRegions(body []byte, frame int) [][3]int {
	const seq, auth, length = 0, 1, 2
	var out [][3]int
	add := func(start, n, kind int) int { out = append(out, [3]int{start, start + n, kind}); return start + n }
	for o := 0; o < len(body); {
		if binary.BigEndian.Uint32(body[o:]) == finalMarker {
			n := int(binary.BigEndian.Uint32(body[o+20:]))
			o = add(o, 8, seq)
			o = add(o, 12, auth)
			o = add(o, 4, length)
			o = add(o, n+16, auth)
			continue
		}
		o = add(o, 4, seq)
		o = add(o, 12+frame+16, auth)
	}
	return out
}

var bodyErrs = [][]error{
	{ErrMalformedBody},
	{ErrAuthentication},
	{ErrMalformedBody, ErrAuthentication, ErrTruncated},
}

// expectBodyFailure asserts that Reader and Open fail on body with one of
// want, Open with no plaintext, the Reader after releasing only a prefix of
// pt and never io.EOF.
func expectBodyFailure(t *testing.T, what string, body []byte, cfg Config, pt []byte, want ...error) {
	t.Helper()
	is := func(err error) bool {
		return slices.ContainsFunc(want, func(w error) bool { return errors.Is(err, w) })
	}
	got, n, err := Open(nil, body, cfg)
	if !is(err) || got != nil || n != 0 {
		t.Fatalf("%s: Open: %d bytes, %v; want one of %v", what, len(got), err, want)
	}
	for _, reads := range []int{0, 5} {
		got, err := readBody(body, cfg, reads)
		if err == io.EOF || !is(err) {
			t.Fatalf("%s: Reader: %v, want one of %v", what, err, want)
		}
		if !bytes.HasPrefix(pt, got) {
			t.Fatalf("%s: Reader released %d bytes that are not a prefix of the plaintext", what, len(got))
		}
	}
}

// TestTamperBody: a flipped bit anywhere, a dropped, swapped, repeated
// or renumbered frame and every truncation fail with the field's error,
// Open with no plaintext and the Reader after a prefix of it.
func TestTamperBody(t *testing.T) {
	const frame = 16
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			cfg := testConfig(t, frame, workers)
			pt := streamPlaintext(50)
			body := sealed(t, cfg, pt)
			t.Run("bit flips", func(t *testing.T) {
				for _, r := range bodyRegions(body, frame) {
					for i := r[0]; i < r[1]; i++ {
						for bit := range 8 {
							bad := bytes.Clone(body)
							bad[i] ^= 1 << bit
							expectBodyFailure(t, fmt.Sprintf("byte %d bit %d", i, bit), bad, cfg, pt, bodyErrs[r[2]]...)
						}
					}
				}
			})
			R := frame + RegularOverhead
			f := func(i int) []byte { return body[i*R : (i+1)*R] }
			renumbered := func(i int, seq uint32) []byte {
				b := bytes.Clone(f(i))
				binary.BigEndian.PutUint32(b, seq)
				return b
			}
			final := body[3*R:]
			for _, tc := range []struct {
				name string
				body []byte
				want error
			}{
				{"no final frame", body[:3*R], ErrTruncated},
				{"frame 2 dropped", slices.Concat(f(0), f(2), final), ErrMalformedBody},
				{"frames 1 and 2 swapped", slices.Concat(f(1), f(0), f(2), final), ErrMalformedBody},
				{"frames 1 and 2 swapped, renumbered", slices.Concat(renumbered(1, 1), renumbered(0, 2), f(2), final), ErrAuthentication},
				{"frame 1 twice", slices.Concat(f(0), f(0), f(1), f(2), final), ErrMalformedBody},
				{"frame 1 again as frame 2", slices.Concat(f(0), renumbered(0, 2), f(2), final), ErrAuthentication},
				{"empty", nil, ErrTruncated},
			} {
				t.Run(tc.name, func(t *testing.T) { expectBodyFailure(t, tc.name, tc.body, cfg, pt, tc.want) })
			}
			t.Run("final frame twice", func(t *testing.T) {
				// A Reader stops at the first final frame and Open reports
				// the body's length: what follows is the caller's (a footer).
				if got, n, err := Open(nil, slices.Concat(body, final), cfg); err != nil || n != len(body) || !bytes.Equal(got, pt) {
					t.Fatalf("Open: %d, %v", n, err)
				}
			})
			t.Run("truncated", func(t *testing.T) {
				for n := range len(body) {
					expectBodyFailure(t, fmt.Sprintf("cut at %d", n), body[:n], cfg, pt, ErrTruncated)
					if _, _, _, err := Scan(bytes.NewReader(body[:n]), frame); !errors.Is(err, ErrTruncated) {
						t.Fatalf("cut at %d: Scan: %v, want ErrTruncated", n, err)
					}
				}
			})
		})
	}
}

// TestFinalHook: Config.Final runs once, after the final frame verified and
// before its plaintext is released; its error withholds the final frame.
func TestFinalHook(t *testing.T) {
	pt := streamPlaintext(40)
	for _, workers := range []int{1, 3} {
		cfg := testConfig(t, 16, workers)
		body := sealed(t, cfg, pt)
		hookErr := errors.New("footer rejected")
		for _, tc := range []struct {
			name  string
			body  []byte
			ret   error
			calls int
			want  error
			got   int
		}{
			{"accepted", body, nil, 1, io.EOF, 40},
			{"rejected", body, hookErr, 1, hookErr, 32},
			{"final frame tampered", slices.Concat(body[:len(body)-1], []byte{body[len(body)-1] ^ 1}), nil, 0, ErrAuthentication, 32},
		} {
			t.Run(fmt.Sprintf("workers=%d/%s", workers, tc.name), func(t *testing.T) {
				calls := 0
				cfg := cfg
				cfg.Final = func() error { calls++; return tc.ret }
				got, err := readBody(tc.body, cfg, 3)
				if !errors.Is(err, tc.want) || calls != tc.calls || !bytes.Equal(got, pt[:tc.got]) {
					t.Fatalf("%d bytes, %v, %d calls; want %d bytes, %v, %d calls", len(got), err, calls, tc.got, tc.want, tc.calls)
				}
			})
		}
	}
}

// nonFramedBody writes a legacy non-framed body:
// IV (12) | content length (8) | ciphertext | tag (16).
func nonFramedBody(cfg Config, pt []byte) []byte {
	iv := make([]byte, 12)
	iv[11] = 1
	aad := slices.Concat(cfg.MessageID, []byte(specSingle), []byte{0, 0, 0, 1}, binary.BigEndian.AppendUint64(nil, uint64(len(pt))))
	out := binary.BigEndian.AppendUint64(slices.Clone(iv), uint64(len(pt)))
	return cfg.AEAD.Seal(out, iv, pt, aad)
}

func TestNonFramed(t *testing.T) {
	cfg := testConfig(t, 16, 1)
	cfg.MessageID = cfg.MessageID[:16]
	read := func(body []byte, max int64) ([]byte, error) {
		r, err := NewNonFramedReader(bytes.NewReader(body), cfg, max)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	for _, size := range []int{0, 1, 100} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			pt := streamPlaintext(size)
			body := nonFramedBody(cfg, pt)
			if got, err := read(body, 1<<20); err != nil || !bytes.Equal(got, pt) {
				t.Fatal(err)
			}
			for i := range body {
				bad := bytes.Clone(body)
				bad[i] ^= 0x10
				got, err := read(bad, 1<<20)
				if len(got) != 0 || !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformedBody) {
					t.Fatalf("byte %d: released %d bytes, %v", i, len(got), err)
				}
			}
			for n := range len(body) {
				if got, err := read(body[:n], 1<<20); len(got) != 0 || !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut at %d: %d bytes, %v", n, len(got), err)
				}
			}
		})
	}
	t.Run("over the limit", func(t *testing.T) {
		if _, err := read(nonFramedBody(cfg, streamPlaintext(100)), 99); !errors.Is(err, ErrMalformedBody) {
			t.Fatalf("%v, want ErrMalformedBody", err)
		}
	})
}

// TestConfigRejected: every constructor and one-shot function refuses a
// Config it cannot use with ErrInvalidConfig; the length functions refuse
// what they cannot compute.
func TestConfigRejected(t *testing.T) {
	good := testConfig(t, 16, 1)
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	nonce16, err := cipher.NewGCMWithNonceSize(block, 16)
	if err != nil {
		t.Fatal(err)
	}
	body := sealed(t, good, []byte("x"))
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"nil AEAD", func(c *Config) { c.AEAD = nil }},
		{"16-byte nonce", func(c *Config) { c.AEAD = nonce16 }},
		{"20-byte message ID", func(c *Config) { c.MessageID = make([]byte, 20) }},
		{"no message ID", func(c *Config) { c.MessageID = nil }},
		{"frame length 0", func(c *Config) { c.FrameLength = 0 }},
		{"negative frame length", func(c *Config) { c.FrameLength = -1 }},
		{"frame length 2^32", func(c *Config) { c.FrameLength = MaxFrameLength + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err1 := NewWriter(io.Discard, cfg)
			_, err2 := NewReader(bytes.NewReader(body), cfg)
			_, err3 := Seal(nil, []byte("x"), cfg)
			_, _, err4 := Open(nil, body, cfg)
			_, err5 := NewReaderAt(bytes.NewReader(body), 0, int64(len(body)), cfg)
			for i, err := range []error{err1, err2, err3, err4, err5} {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Errorf("%s: %v, want ErrInvalidConfig", []string{"NewWriter", "NewReader", "Seal", "Open", "NewReaderAt"}[i], err)
				}
			}
		})
	}
	for _, tc := range []struct {
		n     int64
		frame int
		want  error // nil: any error
		ok    bool
	}{
		{0, 1, nil, true},
		{MaxFrames - 1, 1, nil, true},
		{MaxFrames, 1, nil, true},
		{MaxFrames + 1, 1, ErrTooManyFrames, false},
		{-1, 16, nil, false},
		{1, 0, ErrInvalidConfig, false},
	} {
		t.Run(fmt.Sprintf("SealedLength(%d,%d)", tc.n, tc.frame), func(t *testing.T) {
			_, err := SealedLength(tc.n, tc.frame)
			if (err == nil) != tc.ok || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("%v, want ok %v, %v", err, tc.ok, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		bodyLen int64
		frame   int
		want    error
	}{
		{FinalOverhead - 1, 16, ErrTruncated},
		{FinalOverhead + 17, 16, ErrMalformedBody},
		{FinalOverhead + 16 + RegularOverhead + 17, 16, ErrMalformedBody},
		{int64(MaxFrames)*(1+RegularOverhead) + FinalOverhead, 1, ErrTooManyFrames},
		{FinalOverhead, 0, ErrInvalidConfig},
	} {
		t.Run(fmt.Sprintf("PlaintextLength(%d,%d)", tc.bodyLen, tc.frame), func(t *testing.T) {
			if _, err := PlaintextLength(tc.bodyLen, tc.frame); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			if _, _, err := SealedRange(0, 1, tc.bodyLen, tc.frame); !errors.Is(err, tc.want) {
				t.Fatalf("SealedRange: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("SealedRange outside the plaintext", func(t *testing.T) {
		bodyLen := int64(2*RegularOverhead + 32 + FinalOverhead + 5) // 37 bytes
		for _, r := range [][2]int64{{-1, 1}, {0, 0}, {5, 4}, {0, 38}, {37, 38}} {
			if _, _, err := SealedRange(r[0], r[1], bodyLen, 16); err == nil {
				t.Errorf("[%d, %d) accepted", r[0], r[1])
			}
		}
	})
}

// TestReaderLargeFrames: frames larger than eagerAlloc, which the Reader
// reads in chunks before it allocates them whole, open to their plaintext,
// the final frame shorter, equal or longer than the first regular frame.
func TestReaderLargeFrames(t *testing.T) {
	for _, frame := range []int{eagerAlloc - tagLen + 1, 2*eagerAlloc + 5, 3 * eagerAlloc} {
		for _, size := range []int{frame / 3, 2*frame + frame/2, 2 * frame} {
			for _, workers := range []int{1, 2} {
				t.Run(fmt.Sprintf("frame=%d/size=%d/workers=%d", frame, size, workers), func(t *testing.T) {
					cfg := testConfig(t, frame, workers)
					pt := streamPlaintext(size)
					body := sealed(t, cfg, pt)
					for _, n := range []int{0, 100 << 10} {
						if got, err := readBody(body, cfg, n); err != io.EOF || !bytes.Equal(got, pt) {
							t.Fatalf("reads %d: %v", n, err)
						}
					}
					if got, err := readBody(body[:len(body)-1], cfg, 0); !errors.Is(err, ErrTruncated) || len(got) > size-size%frame {
						t.Fatalf("truncated: %d bytes, %v", len(got), err)
					}
				})
			}
		}
	}
}
