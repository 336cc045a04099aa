package stream

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/phicrypt/phicrypt/internal/alias"
)

const (
	// MaxFrameLength is the largest frame length the format allows.
	MaxFrameLength = math.MaxUint32

	// MaxFrames is the largest number of frames in one body, the final
	// frame included.
	MaxFrames = math.MaxUint32

	ivLen  = 12
	tagLen = 16

	// RegularOverhead and FinalOverhead are the bytes a frame adds to its
	// plaintext.
	RegularOverhead = regularHdr + tagLen
	FinalOverhead   = finalHdr + tagLen

	finalMarker = math.MaxUint32

	// Header lengths: seq | IV (regular), marker | seq | IV | length
	// (final), IV | length (8) (non-framed). A Writer keeps finalHdr bytes
	// before a frame's plaintext; a regular frame's header is their last
	// regularHdr.
	regularHdr = 4 + ivLen
	finalHdr   = 4 + 4 + ivLen + 4
	singleHdr  = ivLen + 8

	// eagerAlloc bounds what is allocated for a frame before its bytes
	// arrive: a header may declare a 4 GiB frame, but memory follows the
	// input.
	eagerAlloc = 1 << 20
)

// kind is a frame's place in a body: it fixes the header layout and the
// content string of the additional data.
type kind uint8

const (
	regularFrame kind = iota
	finalFrame
	singleBlock // the legacy non-framed body: one frame, opened, never written
)

func (k kind) hdrLen() int {
	switch k {
	case regularFrame:
		return regularHdr
	case finalFrame:
		return finalHdr
	}
	return singleHdr
}

// ivAt is where the IV starts in the header.
func (k kind) ivAt() int {
	switch k {
	case regularFrame:
		return 4
	case finalFrame:
		return 8
	}
	return 0
}

func (k kind) content() string {
	switch k {
	case regularFrame:
		return "AWSKMSEncryptionClient Frame"
	case finalFrame:
		return "AWSKMSEncryptionClient Final Frame"
	}
	return "AWSKMSEncryptionClient Single Block"
}

// aadCap is the capacity a frame.aad buffer needs: the longest message
// ID and content string.
const aadCap = 32 + len("AWSKMSEncryptionClient Single Block") + 4 + 8

// frame is what seals and opens one frame besides the key: its sequence
// number, kind and plaintext length. Every reader and writer of this
// package goes through frame, seal, open and parseFrame; nothing else
// knows the layout of a frame.
type frame struct {
	seq  uint32
	kind kind
	n    int
}

// size returns the frame's length in the body: header, ciphertext, tag.
func (f frame) size() int { return f.kind.hdrLen() + f.n + tagLen }

// iv returns the IV in hdr, the frame's header.
func (f frame) iv(hdr []byte) []byte { o := f.kind.ivAt(); return hdr[o : o+ivLen] }

// aad returns the frame's additional data, built in buf:
//
//	message ID | content string | seq (4) | content length (8)
func (f frame) aad(buf, msgID []byte) []byte {
	buf = append(buf[:0], msgID...)
	buf = append(buf, f.kind.content()...)
	buf = binary.BigEndian.AppendUint32(buf, f.seq)
	return binary.BigEndian.AppendUint64(buf, uint64(f.n))
}

// seal writes frame f of plaintext pt into out[:f.size()]: the header,
// whose IV is the sequence number, then ciphertext and tag. pt is either
// out's content bytes (sealed in place) or does not overlap out; aad is
// scratch space of capacity aadCap.
func (k keyed) seal(out, pt []byte, f frame, aad []byte) {
	if len(pt) != f.n || len(out) < f.size() {
		panic("stream: internal error: frame buffer of the wrong size")
	}
	switch f.kind {
	case regularFrame:
		binary.BigEndian.PutUint32(out, f.seq)
	case finalFrame:
		binary.BigEndian.PutUint32(out, finalMarker)
		binary.BigEndian.PutUint32(out[4:], f.seq)
		binary.BigEndian.PutUint32(out[8+ivLen:], uint32(f.n))
	default:
		panic("stream: internal error: sealing a non-framed body")
	}
	iv := f.iv(out)
	clear(iv[:ivLen-4])
	binary.BigEndian.PutUint32(iv[ivLen-4:], f.seq)
	h := f.kind.hdrLen()
	k.aead.Seal(out[h:h], iv, pt, f.aad(aad, k.msgID))
}

// open authenticates ct, the ciphertext and tag of frame f, under iv and
// appends its plaintext to dst (ct[:0] opens in place). Readers use the
// IV stored in the frame, as the official SDKs do: a wrong IV fails like
// any other flipped bit.
func (k keyed) open(dst, ct, iv []byte, f frame, aad []byte) ([]byte, error) {
	if len(ct) != f.n+tagLen {
		panic("stream: internal error: ciphertext of the wrong size")
	}
	pt, err := k.aead.Open(dst, iv, ct, f.aad(aad, k.msgID))
	if err == nil {
		return pt, nil
	}
	if f.kind == singleBlock {
		return nil, fmt.Errorf("stream: non-framed body: %w", ErrAuthentication)
	}
	return nil, fmt.Errorf("stream: frame %d: %w", f.seq, ErrAuthentication)
}

// headerLen returns the length of the framed-body header that starts
// with the 4 bytes of b.
func headerLen(b []byte) int {
	if binary.BigEndian.Uint32(b) == finalMarker {
		return finalHdr
	}
	return regularHdr
}

// parseFrame parses the header at the start of hdr (headerLen(hdr) bytes
// at least), which must be frame want of a body of frame length F.
func parseFrame(hdr []byte, want uint32, F int) (frame, error) {
	f := frame{seq: binary.BigEndian.Uint32(hdr), kind: regularFrame, n: F}
	if f.seq == finalMarker {
		f.kind, f.seq = finalFrame, binary.BigEndian.Uint32(hdr[4:])
	}
	if f.seq != want {
		return frame{}, fmt.Errorf("stream: frame %d where %d was expected: %w", f.seq, want, ErrMalformedBody)
	}
	if f.kind == finalFrame {
		n := binary.BigEndian.Uint32(hdr[8+ivLen:])
		if uint64(n) > uint64(F) {
			return frame{}, fmt.Errorf("stream: final frame %d: content length %d exceeds frame length %d: %w", f.seq, n, F, ErrMalformedBody)
		}
		f.n = int(n)
	}
	return f, nil
}

// errTruncated reports a body that ended after frame seq (0: before the
// first frame was whole).
func errTruncated(seq uint32) error {
	return fmt.Errorf("stream: after frame %d: %w", seq, ErrTruncated)
}

// shape is the layout of a framed body: regular frames of F plaintext
// bytes, then a final frame of last bytes (0..F). Frame i (from 0) has
// sequence number i+1 and starts at byte i×(F+RegularOverhead).
type shape struct {
	F, regular, last int64
}

// sealedShape returns the shape Writer and Seal write for n plaintext
// bytes: the final frame is empty only if n is 0.
func sealedShape(n int64, F int) (shape, error) {
	if err := checkFrameLength(F); err != nil {
		return shape{}, err
	}
	if n < 0 {
		return shape{}, fmt.Errorf("stream: negative plaintext length %d", n)
	}
	regular := int64(0)
	if n > 0 {
		regular = (n - 1) / int64(F)
	}
	if regular+1 > MaxFrames {
		return shape{}, ErrTooManyFrames
	}
	return shape{int64(F), regular, n - regular*int64(F)}, nil
}

// shapeOf returns the shape of a body of bodyLen bytes, which follows
// from its length alone: with R = F+RegularOverhead the body has
// (bodyLen-FinalOverhead)/R regular frames and a final frame of the rest,
// which must not exceed F.
func shapeOf(bodyLen int64, F int) (shape, error) {
	if err := checkFrameLength(F); err != nil {
		return shape{}, err
	}
	if bodyLen < FinalOverhead {
		return shape{}, fmt.Errorf("stream: body of %d bytes: %w", bodyLen, ErrTruncated)
	}
	R := int64(F) + RegularOverhead
	s := shape{int64(F), (bodyLen - FinalOverhead) / R, (bodyLen - FinalOverhead) % R}
	if s.last > s.F {
		return shape{}, fmt.Errorf("stream: body of %d bytes fits no frame layout of frame length %d: %w", bodyLen, F, ErrMalformedBody)
	}
	if s.regular+1 > MaxFrames {
		return shape{}, ErrTooManyFrames
	}
	return s, nil
}

func (s shape) frames() int64 { return s.regular + 1 }

// size returns the plaintext length.
func (s shape) size() int64 { return s.regular*s.F + s.last }

func (s shape) bodyLen() int64 { return s.regular*(s.F+RegularOverhead) + FinalOverhead + s.last }

// frame returns frame i and the offset in the body where it starts.
func (s shape) frame(i int64) (frame, int64) {
	o := i * (s.F + RegularOverhead)
	switch {
	case i >= 0 && i < s.regular:
		return frame{uint32(i + 1), regularFrame, int(s.F)}, o
	case i == s.regular:
		return frame{uint32(i + 1), finalFrame, int(s.last)}, o
	}
	panic("stream: internal error: frame outside the body")
}

// span returns the frames first..last that hold plaintext [off, end),
// 0 ≤ off < end ≤ size(). A range that reaches the end takes the final
// frame too, so that reading to the end verifies it.
func (s shape) span(off, end int64) (first, last int64) {
	if off < 0 || end <= off || end > s.size() {
		panic("stream: internal error: span outside the plaintext")
	}
	first, last = off/s.F, (end-1)/s.F
	if end == s.size() {
		last = s.regular
	}
	return first, last
}

// layout walks the frame headers at the start of body and returns its
// shape. It checks sequence numbers and lengths, not tags.
func layout(body []byte, F int) (shape, error) {
	o := 0
	for seq := uint32(1); ; seq++ {
		if len(body)-o < 4 || len(body)-o < headerLen(body[o:]) {
			return shape{}, errTruncated(seq - 1)
		}
		f, err := parseFrame(body[o:], seq, F)
		if err != nil {
			return shape{}, err
		}
		if len(body)-o < f.size() {
			return shape{}, fmt.Errorf("stream: frame %d: %w", seq, ErrTruncated)
		}
		if f.kind == finalFrame {
			return shape{int64(F), int64(seq - 1), int64(f.n)}, nil
		}
		o += f.size()
	}
}

// grow returns b with length n and its first keep bytes (as many as it
// has) intact.
func grow(b []byte, n, keep int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	g := make([]byte, n)
	copy(g, b[:min(keep, cap(b))])
	return g
}

// readAlign is the alignment of the buffers a Writer reads its source
// into. The kernel copies a file read 3 to 4 times slower when its
// destination lies 1 to 31 bytes further into a page than its source
// does (seen on AMD EPYC Zen 3: the copy's stores alias its loads), as
// for a read at a page-aligned file position (frames of a multiple of
// 4 KiB) into a Writer's frame buffer, which started 24 bytes into a
// page-aligned allocation; 64-byte-aligned, it never does.
const readAlign = 64

// alignedAt returns a slice of length n and capacity c whose byte at off
// lies on a readAlign boundary.
func alignedAt(n, c, off int) []byte {
	b := make([]byte, c+readAlign-1)
	a := int(-(alias.Addr(b) + uintptr(off)) & (readAlign - 1))
	return b[a : a+n : a+c]
}
