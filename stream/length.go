package stream

import "fmt"

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
