package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A ReaderAt decrypts any plaintext range of an unsigned framed body held
// in an io.ReaderAt (a file, an S3 object), reading only the frames that
// cover the range. Each frame is authenticated before any of its bytes is
// returned, and a range that reaches the end reads and verifies the final
// frame, so a truncated body fails there. It is safe for concurrent use.
//
// The layout follows from the body length alone: with R = FrameLength+32
// and L the body length, the body has (L-40)/R regular frames and a final
// frame of (L-40)%R bytes, which must not exceed FrameLength.
type ReaderAt struct {
	src      io.ReaderAt
	off      int64 // where the body starts in src
	cfg      Config
	k        keyed
	workers  int
	regular  int64 // regular frames
	finalLen int64
	size     int64 // plaintext length
	bufs     sync.Pool
}

// NewReaderAt returns a ReaderAt of the body of bodyLen bytes at offset
// off in src.
func NewReaderAt(src io.ReaderAt, off, bodyLen int64, cfg Config) (*ReaderAt, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	F := int64(cfg.FrameLength)
	if bodyLen < FinalOverhead {
		return nil, fmt.Errorf("stream: body of %d bytes: %w", bodyLen, ErrTruncated)
	}
	regular, finalLen := (bodyLen-FinalOverhead)/(F+RegularOverhead), (bodyLen-FinalOverhead)%(F+RegularOverhead)
	if finalLen > F {
		return nil, fmt.Errorf("stream: body of %d bytes fits no frame layout of frame length %d: %w", bodyLen, F, ErrMalformedBody)
	}
	if regular+1 > MaxFrames {
		return nil, ErrTooManyFrames
	}
	return &ReaderAt{src: src, off: off, cfg: cfg, k: keyed{cfg.AEAD, cfg.MessageID}, workers: workersFor(cfg.Workers),
		regular: regular, finalLen: finalLen, size: regular*F + finalLen}, nil
}

// Size returns the plaintext length.
func (r *ReaderAt) Size() int64 { return r.size }

// ReadAt reads len(p) plaintext bytes from offset off. Like io.ReaderAt,
// it returns io.EOF when fewer bytes remain.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("stream: negative offset")
	}
	if off >= r.size {
		if len(p) == 0 && off == r.size {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.size)
	F := int64(r.cfg.FrameLength)
	first, last := off/F, (end-1)/F
	if end == r.size {
		last = r.regular // the range reaches the end: verify the final frame
	}
	frames := last - first + 1
	workers := int64(min(int64(r.workers), frames))
	var next sync.Mutex // guards i, errFrame and firstErr
	i := first
	var firstErr error
	var errFrame int64 = -1
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				f := i
				i++
				next.Unlock()
				if f > last {
					return
				}
				if err := r.frame(p, off, end, f); err != nil {
					next.Lock()
					if errFrame < 0 || f < errFrame {
						errFrame, firstErr = f, err
					}
					next.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		clear(p) // nothing of a range that failed is released
		return 0, firstErr
	}
	n := int(end - off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// frame reads, authenticates and copies frame f (0-based) into the part of
// p it covers.
func (r *ReaderAt) frame(p []byte, off, end, f int64) error {
	F := int64(r.cfg.FrameLength)
	final := f == r.regular
	n, hdr := F, int64(regularHdr)
	if final {
		n, hdr = r.finalLen, finalHdr
	}
	bp, _ := r.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer r.bufs.Put(bp)
	buf := grow(*bp, int(hdr+n+tagLen), 0)
	*bp = buf
	if err := readFullAt(r.src, buf, r.off+f*(F+RegularOverhead)); err != nil {
		return fmt.Errorf("stream: frame %d: %w", f+1, err)
	}
	seq := uint32(f + 1)
	var iv []byte
	content := frameString
	if final {
		if binary.BigEndian.Uint32(buf) != finalMarker || binary.BigEndian.Uint32(buf[4:]) != seq || int64(binary.BigEndian.Uint32(buf[8+ivLen:])) != n {
			return fmt.Errorf("stream: final frame %d: header does not match the body length: %w", seq, ErrMalformedBody)
		}
		iv, content = buf[8:8+ivLen], finalString
	} else {
		if binary.BigEndian.Uint32(buf) != seq {
			return fmt.Errorf("stream: frame %d: sequence number %d: %w", seq, binary.BigEndian.Uint32(buf), ErrMalformedBody)
		}
		iv = buf[4:regularHdr]
	}
	var aad [aadCap]byte
	ad := bodyAAD(aad[:0], r.k.msgID, content, seq, uint64(n))
	ct := buf[hdr:]
	pt, err := r.k.aead.Open(ct[:0], iv, ct, ad)
	if err != nil {
		return fmt.Errorf("stream: frame %d: %w", seq, ErrAuthentication)
	}
	lo, hi := max(off, f*F), min(end, f*F+n)
	if lo < hi {
		copy(p[lo-off:hi-off], pt[lo-f*F:hi-f*F])
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
