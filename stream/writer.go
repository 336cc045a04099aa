package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// A Writer seals plaintext into frames and writes them to an io.Writer.
// It holds at most one frame of plaintext: a full frame is sealed as a
// regular frame only once more plaintext arrives, so that Close can seal
// the last FrameLength bytes as a full-length final frame, as the official
// SDKs do.
type Writer struct {
	dst io.Writer
	cfg Config

	// buf holds the frame being filled: header space (finalHdr bytes),
	// then plaintext, then room for the tag. Sealing is in place.
	buf []byte
	n   int    // plaintext bytes in buf
	seq uint32 // frames written so far
	aad []byte
	err error
}

const finalHdr = 4 + 4 + ivLen + 4 // marker | seq | IV | len

// NewWriter returns a Writer that writes a framed body to dst.
func NewWriter(dst io.Writer, cfg Config) (*Writer, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	size := min(cfg.FrameLength, eagerAlloc)
	return &Writer{
		dst: dst,
		cfg: cfg,
		buf: make([]byte, finalHdr, finalHdr+size+tagLen),
		aad: make([]byte, 0, aadCap),
	}, nil
}

// Write buffers p and writes every frame that fills. It returns an error
// only if a frame could not be written, after which the Writer is unusable.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.n == w.cfg.FrameLength {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
		k := min(len(p), w.cfg.FrameLength-w.n)
		w.buf = append(w.buf[:finalHdr+w.n], p[:k]...)
		w.n += k
		written += k
		p = p[k:]
	}
	return written, nil
}

// flush seals and writes the full buffered frame as a regular frame.
func (w *Writer) flush() error {
	if w.seq >= MaxFrames-1 {
		w.err = ErrTooManyFrames
		return w.err
	}
	w.seq++
	pt := w.sealSpace()
	hdr := w.buf[finalHdr-4-ivLen : finalHdr]
	binary.BigEndian.PutUint32(hdr, w.seq)
	frameIV(hdr[4:], w.seq)
	w.aad = bodyAAD(w.aad, w.cfg.MessageID, frameString, w.seq, uint64(w.n))
	w.cfg.AEAD.Seal(pt[:0], hdr[4:], pt, w.aad)
	if _, err := w.dst.Write(w.buf[finalHdr-4-ivLen : finalHdr+w.n+tagLen]); err != nil {
		w.err = err
		return err
	}
	w.n = 0
	return nil
}

// Close seals the buffered plaintext, possibly none, as the final frame
// and writes it. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.seq >= MaxFrames {
		w.err = ErrTooManyFrames
		return w.err
	}
	w.seq++
	pt := w.sealSpace()
	hdr := w.buf[:finalHdr]
	binary.BigEndian.PutUint32(hdr[0:], finalMarker)
	binary.BigEndian.PutUint32(hdr[4:], w.seq)
	frameIV(hdr[8:], w.seq)
	binary.BigEndian.PutUint32(hdr[8+ivLen:], uint32(w.n))
	w.aad = bodyAAD(w.aad, w.cfg.MessageID, finalString, w.seq, uint64(w.n))
	w.cfg.AEAD.Seal(pt[:0], hdr[8:8+ivLen], pt, w.aad)
	_, err := w.dst.Write(w.buf[:finalHdr+w.n+tagLen])
	w.err = errClosed
	if err != nil {
		w.err = err
	}
	clear(w.buf[:cap(w.buf)])
	return err
}

// sealSpace returns the buffered plaintext, with capacity for its tag
// right after it so that sealing happens in place.
func (w *Writer) sealSpace() []byte {
	w.buf = slices.Grow(w.buf[:finalHdr+w.n], tagLen)
	return w.buf[finalHdr : finalHdr+w.n]
}

var errClosed = errors.New("stream: write after Close")

// SealedLength returns the length of the framed body of n plaintext bytes
// written with frame length frameLen.
func SealedLength(n int64, frameLen int) (int64, error) {
	if n < 0 || frameLen < 1 {
		return 0, fmt.Errorf("stream: invalid length %d or frame length %d", n, frameLen)
	}
	regular := int64(0)
	if n > 0 {
		regular = (n - 1) / int64(frameLen)
	}
	if regular+1 > MaxFrames {
		return 0, ErrTooManyFrames
	}
	return n + regular*RegularOverhead + FinalOverhead, nil
}
