package stream

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// A ReaderAt decrypts any plaintext range of an unsigned framed body held
// in an io.ReaderAt (a file, an S3 object), reading only the frames that
// cover the range (the bytes SealedRange gives). Each frame is
// authenticated before any of its bytes is returned, and a range that
// reaches the end reads and verifies the final frame, so a truncated body
// fails there. It is safe for concurrent use.
//
// The layout follows from the body length alone, as PlaintextLength
// computes it; a frame whose header disagrees fails with
// ErrMalformedBody.
type ReaderAt struct {
	src     io.ReaderAt
	off     int64 // where the body starts in src
	k       keyed
	workers int
	s       shape
	bufs    sync.Pool
}

// NewReaderAt returns a ReaderAt of the body of bodyLen bytes at offset
// off in src.
func NewReaderAt(src io.ReaderAt, off, bodyLen int64, cfg Config) (*ReaderAt, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s, err := shapeOf(bodyLen, cfg.FrameLength)
	if err != nil {
		return nil, err
	}
	return &ReaderAt{src: src, off: off, k: cfg.keyed(), workers: workersFor(cfg.Workers), s: s}, nil
}

// Size returns the plaintext length.
func (r *ReaderAt) Size() int64 { return r.s.size() }

// ReadAt reads len(p) plaintext bytes from offset off. Like io.ReaderAt,
// it returns io.EOF when fewer bytes remain. Frames are read and opened
// on Config.Workers goroutines, one frame at a time each (a source may be
// slow); on an error p holds nothing and the error is the lowest failing
// frame's.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	size := r.s.size()
	if off < 0 {
		return 0, errors.New("stream: negative offset")
	}
	if off >= size {
		if len(p) == 0 && off == size {
			return 0, nil
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := min(off+int64(len(p)), size)
	first, last := r.s.span(off, end)
	err := run(int(last-first+1), 1, r.workers, func(i int, aad []byte) error {
		return r.frame(p, off, end, first+int64(i), aad)
	})
	if err != nil {
		clear(p) // nothing of a range that failed is released
		return 0, err
	}
	n := int(end - off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// frame reads, authenticates and copies frame i into the part of p, which
// holds plaintext [off, end), that it covers.
func (r *ReaderAt) frame(p []byte, off, end, i int64, aad []byte) error {
	want, o := r.s.frame(i)
	bp, _ := r.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer r.bufs.Put(bp)
	buf := grow(*bp, want.size(), 0)
	*bp = buf
	if err := readFullAt(r.src, buf, r.off+o); err != nil {
		return fmt.Errorf("stream: frame %d: %w", want.seq, err)
	}
	f, err := parseFrame(buf, want.seq, int(r.s.F))
	if err != nil {
		return err
	}
	if f != want {
		return fmt.Errorf("stream: frame %d: header does not match the body length: %w", want.seq, ErrMalformedBody)
	}
	ct := buf[f.kind.hdrLen():]
	pt, err := r.k.open(ct[:0], ct, f.iv(buf), f, aad)
	if err != nil {
		return err
	}
	start := i * r.s.F
	if lo, hi := max(off, start), min(end, start+int64(f.n)); lo < hi {
		copy(p[lo-off:hi-off], pt[lo-start:hi-start])
	}
	clear(pt)
	return nil
}

// readFullAt fills p from src at off. io.ReaderAt lets a source return
// io.EOF with a read that reaches the end of its input, so only a short
// read is an error: ErrTruncated when the source ended (or gave no reason).
func readFullAt(src io.ReaderAt, p []byte, off int64) error {
	n, err := src.ReadAt(p, off)
	switch {
	case n == len(p):
		return nil
	case err == nil || errors.Is(err, io.EOF):
		return ErrTruncated
	}
	return err
}
