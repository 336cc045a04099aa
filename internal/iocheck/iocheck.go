// Package iocheck checks what an io.Reader says it read and an
// io.Writer says it wrote. Their contracts (0 <= n <= len(p); a Write of
// fewer than len(p) bytes returns an error) are a stream's only proof of
// how much of p moved: a source that breaks them would make a stream drop
// plaintext (a negative count), invent or panic on it (a count past p) or
// spin (a Read that returns nothing and no error, forever), and a
// destination would leave a hole in a message or its plaintext that the
// stream reports as written. Package stream reads every source through a
// Reader and writes every destination through Write; package envelope
// wraps a message's source in a Reader before the bufio.Reader that reads
// its header, which panics on a negative count.
package iocheck

import (
	"fmt"
	"io"
)

// MaxEmptyReads is how many Reads in a row may return nothing and no
// error before Read fails with io.ErrNoProgress, as for bufio.Reader.
const MaxEmptyReads = 100

// A Reader reads from R and checks every count: one outside [0, len(p)]
// is an io.ErrShortBuffer error, never returned as a count; MaxEmptyReads
// Reads in a row with nothing and no error are io.ErrNoProgress.
type Reader struct {
	R     io.Reader
	empty int // Reads in a row that returned nothing and no error
}

func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.R.Read(p)
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("source Read returned %d of %d bytes: %w", n, len(p), io.ErrShortBuffer)
	}
	if n > 0 || err != nil {
		r.empty = 0
	} else if r.empty++; r.empty >= MaxEmptyReads {
		err = io.ErrNoProgress
	}
	return n, err
}

// Write writes p to w and checks the count: a count outside [0, len(p)]
// is reported as 0 bytes written, and a short one without an error, as
// io.Copy reports them, with an error wrapping io.ErrShortWrite.
func Write(w io.Writer, p []byte) (int, error) {
	n, err := w.Write(p)
	switch {
	case n < 0 || n > len(p):
		return 0, fmt.Errorf("destination Write returned %d of %d bytes: %w", n, len(p), io.ErrShortWrite)
	case n < len(p) && err == nil:
		return n, fmt.Errorf("destination Write took %d of %d bytes and no error: %w", n, len(p), io.ErrShortWrite)
	}
	return n, err
}
