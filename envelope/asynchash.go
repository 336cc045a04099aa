package envelope

import "hash"

// asyncHash is a hash.Hash that hashes on other goroutines, so that a
// signed stream costs about max(AES-GCM, SHA-384) rather than their sum.
//
// Write copies p into the current chunk buffer; a full chunk is handed to a
// new goroutine that first waits for the previous chunk's goroutine, so
// chunks are hashed in order, one at a time. At most len(slots) chunks are
// in flight: before a slot is refilled, its last chunk must be hashed.
// Every goroutine ends once the chunks before it are hashed, so an
// abandoned asyncHash leaks nothing. Not safe for concurrent use.
type asyncHash struct {
	h     hash.Hash
	slots [4]struct {
		buf  []byte
		done chan struct{}
	}
	i    int           // slot being filled
	last chan struct{} // closed when everything dispatched is hashed
}

const asyncHashChunk = 64 << 10

func newAsyncHash(h hash.Hash) *asyncHash { return &asyncHash{h: h} }

func (a *asyncHash) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		s := &a.slots[a.i]
		if len(s.buf) == cap(s.buf) {
			// A chunk buffer starts at the size of the first write and
			// doubles up to asyncHashChunk, so that a small message does
			// not allocate a whole chunk.
			nb := make([]byte, len(s.buf), min(max(2*cap(s.buf), len(s.buf)+len(p), 1024), asyncHashChunk))
			copy(nb, s.buf)
			s.buf = nb
		}
		c := copy(s.buf[len(s.buf):cap(s.buf)], p)
		s.buf, p = s.buf[:len(s.buf)+c], p[c:]
		if len(s.buf) == asyncHashChunk {
			a.dispatch()
		}
	}
	return n, nil
}

// dispatch hashes the current slot's chunk after the ones before it and
// moves to the next slot, waiting until that slot's chunk is hashed.
func (a *asyncHash) dispatch() {
	s := &a.slots[a.i]
	buf, prev, done := s.buf, a.last, make(chan struct{})
	go func() {
		if prev != nil {
			<-prev
		}
		a.h.Write(buf)
		close(done)
	}()
	s.done, a.last = done, done
	a.i = (a.i + 1) % len(a.slots)
	next := &a.slots[a.i]
	if next.done != nil {
		<-next.done
		next.done = nil
	}
	next.buf = next.buf[:0]
}

// wait hashes what is buffered and waits until everything is hashed.
func (a *asyncHash) wait() {
	if buf := a.slots[a.i].buf; len(buf) > 0 {
		if a.last != nil {
			<-a.last
		}
		a.h.Write(buf) // nothing in flight: hash the tail here
		a.slots[a.i].buf = buf[:0]
	} else if a.last != nil {
		<-a.last
	}
}

func (a *asyncHash) Sum(b []byte) []byte {
	a.wait()
	return a.h.Sum(b)
}

func (a *asyncHash) Reset() {
	a.wait()
	a.h.Reset()
}

func (a *asyncHash) Size() int      { return a.h.Size() }
func (a *asyncHash) BlockSize() int { return a.h.BlockSize() }
