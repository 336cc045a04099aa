// Package readcheck checks what an io.Reader says it read. The io.Reader
// contract (0 <= n <= len(p)) is the caller's only proof of how much of p
// holds data; a source that breaks it would make a stream drop plaintext
// (a negative count), invent or panic on it (a count past p), or spin (a
// Read that returns nothing and no error, forever). Package stream reads
// every source through a Reader, and package envelope wraps a message's
// source in one before its bufio.Reader, which panics on a negative count.
package readcheck

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
