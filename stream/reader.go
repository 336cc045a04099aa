package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A Reader opens a framed (or legacy non-framed) body read from an
// io.Reader. It never reads past the end of the body, so the caller can
// read a footer from the same source afterwards.
type Reader struct {
	src       io.Reader
	cfg       Config
	nonFrame  bool
	maxSingle int64

	buf []byte // ciphertext and tag of the current frame; opened in place
	out []byte // verified plaintext not yet returned
	seq uint32 // last frame read
	aad []byte
	hdr [finalHdr]byte
	err error // returned once out is drained
}

// NewReader returns a Reader of the framed body in src.
func NewReader(src io.Reader, cfg Config) (*Reader, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Reader{src: src, cfg: cfg, aad: make([]byte, 0, aadCap)}, nil
}

// MaxNonFramedLength is the largest content a non-framed body may declare:
// the GCM limit of 2^36-32 bytes.
const MaxNonFramedLength = 1<<36 - 32

// NewNonFramedReader returns a Reader of the legacy non-framed body in src.
// Such a body has a single tag at its end, so the Reader buffers all of it
// and releases nothing until it verified; it refuses a body declaring more
// than max bytes (at most MaxNonFramedLength).
func NewNonFramedReader(src io.Reader, cfg Config, max int64) (*Reader, error) {
	cfg.FrameLength = 1 // unused; satisfies check
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Reader{src: src, cfg: cfg, nonFrame: true, maxSingle: min(max, MaxNonFramedLength), aad: make([]byte, 0, aadCap)}, nil
}

// Read reads verified plaintext. It returns io.EOF only after the whole
// body authenticated and Config.Final accepted it.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.nonFrame {
			r.err = r.single()
		} else {
			r.err = r.next()
		}
		if r.err != nil && r.err != io.EOF {
			r.out = nil // never release what did not verify
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// WriteTo writes the verified plaintext to w, frame by frame, without an
// intermediate copy.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.out) > 0 {
			n, err := w.Write(r.out)
			total += int64(n)
			r.out = r.out[n:]
			if err != nil {
				return total, err
			}
		}
		if r.err != nil {
			if r.err == io.EOF {
				return total, nil
			}
			return total, r.err
		}
		if r.nonFrame {
			r.err = r.single()
		} else {
			r.err = r.next()
		}
		if r.err != nil && r.err != io.EOF {
			r.out = nil
		}
	}
}

// next reads and opens one frame into r.out. It returns io.EOF with the
// final frame.
func (r *Reader) next() error {
	if err := r.readFull(r.hdr[:4]); err != nil {
		return r.truncated(err)
	}
	final := binary.BigEndian.Uint32(r.hdr[:4]) == finalMarker
	var seq uint32
	var n int
	var iv []byte
	if final {
		if err := r.readFull(r.hdr[4:]); err != nil {
			return r.truncated(err)
		}
		seq = binary.BigEndian.Uint32(r.hdr[4:])
		iv = r.hdr[8 : 8+ivLen]
		clen := binary.BigEndian.Uint32(r.hdr[8+ivLen:])
		if uint64(clen) > uint64(r.cfg.FrameLength) {
			return fmt.Errorf("stream: final frame %d: content length %d exceeds frame length %d: %w", seq, clen, r.cfg.FrameLength, ErrMalformedBody)
		}
		n = int(clen)
	} else {
		seq = binary.BigEndian.Uint32(r.hdr[:4])
		if err := r.readFull(r.hdr[4 : 4+ivLen]); err != nil {
			return r.truncated(err)
		}
		iv = r.hdr[4 : 4+ivLen]
		n = r.cfg.FrameLength
	}
	if seq != r.seq+1 {
		return fmt.Errorf("stream: frame %d where %d was expected: %w", seq, r.seq+1, ErrMalformedBody)
	}
	r.seq = seq
	ct, err := r.readFrame(n + tagLen)
	if err != nil {
		return r.truncated(err)
	}
	content := frameString
	if final {
		content = finalString
	}
	r.aad = bodyAAD(r.aad, r.cfg.MessageID, content, seq, uint64(n))
	pt, err := r.cfg.AEAD.Open(ct[:0], iv, ct, r.aad)
	if err != nil {
		return fmt.Errorf("stream: frame %d: %w", seq, ErrAuthentication)
	}
	if !final {
		r.out = pt
		return nil
	}
	if r.cfg.Final != nil {
		if err := r.cfg.Final(); err != nil {
			return err
		}
	}
	r.out = pt
	return io.EOF
}

// single reads and opens a whole non-framed body.
func (r *Reader) single() error {
	if err := r.readFull(r.hdr[:ivLen+8]); err != nil {
		return r.truncated(err)
	}
	iv := r.hdr[:ivLen]
	n := binary.BigEndian.Uint64(r.hdr[ivLen:])
	if n > uint64(r.maxSingle) {
		return fmt.Errorf("stream: non-framed body of %d bytes exceeds the limit of %d: %w", n, r.maxSingle, ErrMalformedBody)
	}
	ct, err := r.readFrame(int(n) + tagLen)
	if err != nil {
		return r.truncated(err)
	}
	r.aad = bodyAAD(r.aad, r.cfg.MessageID, singleString, 1, n)
	pt, err := r.cfg.AEAD.Open(ct[:0], iv, ct, r.aad)
	if err != nil {
		return fmt.Errorf("stream: non-framed body: %w", ErrAuthentication)
	}
	if r.cfg.Final != nil {
		if err := r.cfg.Final(); err != nil {
			return err
		}
	}
	r.out = pt
	return io.EOF
}

func (r *Reader) readFull(p []byte) error {
	_, err := io.ReadFull(r.src, p)
	return err
}

// readFrame reads n bytes into r.buf. Memory grows with the bytes that
// actually arrive, never to a declared length alone.
func (r *Reader) readFrame(n int) ([]byte, error) {
	if n <= cap(r.buf) {
		r.buf = r.buf[:n]
		return r.buf, r.readFull(r.buf)
	}
	r.buf = r.buf[:0]
	for len(r.buf) < n {
		step := min(n-len(r.buf), max(eagerAlloc, len(r.buf)))
		start := len(r.buf)
		if cap(r.buf)-start < step {
			grown := make([]byte, start, start+step)
			copy(grown, r.buf)
			r.buf = grown
		}
		r.buf = r.buf[:start+step]
		if err := r.readFull(r.buf[start:]); err != nil {
			return nil, err
		}
	}
	return r.buf, nil
}

func (r *Reader) truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("stream: after frame %d: %w", r.seq, ErrTruncated)
	}
	return err
}
