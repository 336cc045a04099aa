package stream

import (
	"fmt"
	"io"
)

// source is what a Reader and a Writer's ReadFrom read through: every
// Read's count is checked, never taken at its word (a count past p would
// make a stream invent plaintext or panic, a negative one drop plaintext
// with no error), and maxEmptyReads Reads in a row that return nothing
// and no error end the stream with io.ErrNoProgress rather than spin.
type source struct {
	r     io.Reader
	empty int // Reads in a row that returned nothing and no error
}

// maxEmptyReads is how many Reads in a row may return nothing and no
// error, as for bufio.Reader.
const maxEmptyReads = 100

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("stream: Read returned %d of %d bytes: %w", n, len(p), io.ErrShortBuffer)
	}
	if n > 0 || err != nil {
		s.empty = 0
	} else if s.empty++; s.empty >= maxEmptyReads {
		err = io.ErrNoProgress
	}
	return n, err
}
