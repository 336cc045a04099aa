package stream

import "sync"

// Buffers keeps the large buffers of finished Writers and Readers for the
// next ones that share it (Config.Buffers), so that a program streaming
// one message after another reuses memory it already touched rather than
// having the runtime hand every stream fresh pages, each faulted in and
// zeroed by the kernel (with 2 workers a Writer fed by io.Copy holds 4 MiB).
//
// Every buffer is zeroed before it is kept, so none carries a message's
// bytes into another, and a buffer is kept only once no goroutine uses
// it: when a Writer's Close returns, or a Reader has returned all its
// plaintext. A Writer or Reader dropped before then keeps its buffers
// to itself, for the garbage collector. Kept buffers go as sync.Pool's do,
// after two collections unused.
//
// Buffers of at most maxBufferShapes lengths are kept (a Reader's come
// from the frame length a message declares): asked for another, it drops
// the buffers of the length least recently asked for. The zero value is
// ready to use; Buffers is safe for concurrent use.
type Buffers struct {
	mu    sync.Mutex
	pools map[bufShape]*shapePool
	tick  uint64 // calls of pool, for the least recently used shape
}

// shapePool is the pool of one shape and when it was last asked for.
type shapePool struct {
	sync.Pool
	used uint64
}

// maxBufferShapes bounds the lengths a Buffers keeps buffers of: a
// Client streaming with one frame length uses up to 6 (a Writer's frames,
// in and out arrays; a Reader's frames, chunks and their plaintext).
const maxBufferShapes = 16

// bufShape is what a buffer is kept by: its capacity and the offset in it
// that lies on a readAlign boundary.
type bufShape struct{ c, off int }

// pool returns the pool of buffers of shape sh, or nil if b is nil.
func (b *Buffers) pool(sh bufShape) *sync.Pool {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick++
	p := b.pools[sh]
	if p == nil {
		if b.pools == nil {
			b.pools = make(map[bufShape]*shapePool)
		}
		if len(b.pools) == maxBufferShapes {
			var old bufShape
			oldest := ^uint64(0)
			for s, q := range b.pools {
				if q.used < oldest {
					old, oldest = s, q.used
				}
			}
			delete(b.pools, old)
		}
		p = new(shapePool)
		b.pools[sh] = p
	}
	p.used = b.tick
	return &p.Pool
}

// get returns a zeroed slice of length and capacity c whose byte at off
// lies on a readAlign boundary, kept or new.
func (b *Buffers) get(c, off int) []byte {
	if k := b.take(c, off); k != nil {
		return k
	}
	return alignedAt(c, c, off)
}

// take is get of a kept buffer only: nil if b keeps none of that shape.
func (b *Buffers) take(c, off int) []byte {
	if p := b.pool(bufShape{c, off}); p != nil {
		if v, ok := p.Get().(*[]byte); ok {
			return *v
		}
	}
	return nil
}

// put zeroes buf, which get returned and nothing uses any more, and keeps
// it. Only buf[:used] may have been written since get: the rest is still
// zero. off must be what get was given.
func (b *Buffers) put(buf []byte, used, off int) {
	clear(buf[:used])
	buf = buf[:cap(buf)]
	if p := b.pool(bufShape{len(buf), off}); p != nil {
		box := buf // a heap box only when kept: not buf, whose address would escape on every call
		p.Put(&box)
	}
}
