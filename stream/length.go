package stream

import (
	"errors"
	"fmt"
	"io"

	"github.com/phicrypt/phicrypt/internal/iocheck"
)

// The lengths of a framed body follow from the frame length alone (see
// the package documentation for the layout); the format layers above
// compute theirs with these functions, never from the constants.

// SealedLength returns the length of the framed body that Writer and Seal
// write for n plaintext bytes with frame length frameLen: the final frame
// is full-length, never empty unless n is 0. It fails with
// ErrTooManyFrames beyond MaxFrames frames.
func SealedLength(n int64, frameLen int) (int64, error) {
	s, err := sealedShape(n, frameLen)
	if err != nil {
		return 0, err
	}
	return s.bodyLen(), nil
}

// PlaintextLength returns the plaintext length of a framed body of
// bodyLen bytes with frame length frameLen, from its length alone: every
// frame but the final one is full, so the final frame holds the rest,
// which must be at most frameLen (ErrMalformedBody otherwise). The frame
// headers are not read: a body whose headers disagree fails when read.
func PlaintextLength(bodyLen int64, frameLen int) (int64, error) {
	s, err := shapeOf(bodyLen, frameLen)
	if err != nil {
		return 0, err
	}
	return s.size(), nil
}

// SealedRange returns the bytes [lo, hi) of a framed body of bodyLen bytes
// that hold the frames covering plaintext [off, end), where
// 0 ≤ off < end ≤ PlaintextLength(bodyLen, frameLen). When end is the
// plaintext length the range includes the final frame, which must be
// read to verify that the body is whole; ReaderAt reads exactly these
// bytes.
func SealedRange(off, end, bodyLen int64, frameLen int) (lo, hi int64, err error) {
	s, err := shapeOf(bodyLen, frameLen)
	if err != nil {
		return 0, 0, err
	}
	if off < 0 || end <= off || end > s.size() {
		return 0, 0, fmt.Errorf("stream: plaintext range [%d, %d) outside the %d bytes of the body", off, end, s.size())
	}
	first, last := s.span(off, end)
	_, lo = s.frame(first)
	f, o := s.frame(last)
	return lo, o + int64(f.size()), nil
}

// BodyLength returns the length of the framed body at the start of body,
// from its frame headers alone (sequence numbers and the final frame's
// length are checked); nothing is authenticated.
func BodyLength(body []byte, frameLen int) (int, error) {
	if err := checkFrameLength(frameLen); err != nil {
		return 0, err
	}
	s, err := layout(body, frameLen)
	if err != nil {
		return 0, err
	}
	return int(s.bodyLen()), nil
}

// Scan reads the framed body at the start of r without decrypting it:
// it checks every frame header as a Reader does (sequence numbers, the
// final frame's length) and skips the ciphertexts, seeking past them when
// r is an io.Seeker. It reads nothing past the final frame and returns the
// number of frames, the final one included, the plaintext length and the
// body length. Nothing is authenticated.
func Scan(r io.Reader, frameLen int) (frames, plaintextLen, bodyLen int64, err error) {
	if err := checkFrameLength(frameLen); err != nil {
		return 0, 0, 0, err
	}
	var hdr [finalHdr]byte
	src := &iocheck.Reader{R: r}
	for seq := uint32(1); ; seq++ {
		if _, err := io.ReadFull(src, hdr[:4]); err != nil {
			return 0, 0, 0, scanErr(err, errTruncated(seq-1))
		}
		h := hdr[:headerLen(hdr[:4])]
		if _, err := io.ReadFull(src, h[4:]); err != nil {
			return 0, 0, 0, scanErr(err, errTruncated(seq-1))
		}
		f, err := parseFrame(h, seq, frameLen)
		if err != nil {
			return 0, 0, 0, err
		}
		if err := skip(r, src, int64(f.n+tagLen)); err != nil {
			return 0, 0, 0, scanErr(err, fmt.Errorf("stream: frame %d: %w", seq, ErrTruncated))
		}
		if f.kind == finalFrame {
			s := shape{int64(frameLen), int64(seq - 1), int64(f.n)}
			return s.frames(), s.size(), s.bodyLen(), nil
		}
	}
}

// scanErr returns truncated for an early end of input, else err.
func scanErr(err, truncated error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated
	}
	return err
}

// skip discards the next n bytes of r: by seeking if r is an io.Seeker
// (an early end is io.ErrUnexpectedEOF, as for any reader), else by
// reading them.
func skip(r io.Reader, src *iocheck.Reader, n int64) error {
	if s, ok := r.(io.Seeker); ok {
		if pos, err := s.Seek(0, io.SeekCurrent); err == nil {
			end, err := s.Seek(0, io.SeekEnd)
			if err != nil {
				return err
			}
			if end-pos < n {
				return io.ErrUnexpectedEOF
			}
			_, err = s.Seek(pos+n, io.SeekStart)
			return err
		}
	}
	m, err := io.CopyN(io.Discard, src, n)
	if m < n && (err == nil || err == io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
