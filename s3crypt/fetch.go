package s3crypt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// fetcher reads an object in order: the first part from the body of the
// GET that told the object's size and ETag, read as it arrives, and later
// parts by ranged GETs that run ahead of the reader in parallel.
//
// Invariants: at most readAhead+1 part buffers exist, the first part's and
// the one being read included, so at most readAhead GETs run or wait
// beyond the part being read; chunks enter queue in object order, each
// before its GET starts; Read returns bytes of the first chunk only once
// they arrived, and of a later chunk only once its GET completed. Part
// buffers come from, and return to, pool once Close has stopped every GET
// and Read: no Read runs while or after they are released.
type fetcher struct {
	ob     *object
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan *chunk
	free   chan []byte
	wg     sync.WaitGroup
	prog   *progress
	size   int64 // of a part buffer
	pool   *bufPools

	bufsMu sync.Mutex
	bufs   [][]byte // every part buffer taken from pool

	readMu sync.Mutex // held by Read, and by Close to end reading
	closed bool
	cur    *chunk
	pos    int
	read   int64 // bytes returned by Read
	err    error // the first error Read returned

	mu     sync.Mutex
	srcErr error // the GET error Read returned, for sourceErr
}

type chunk struct {
	off  int64
	buf  []byte
	err  error
	done chan struct{} // closed once buf is filled or err set

	// The first chunk is read as its body arrives: bytes [0, n) of buf
	// arrived, and err, once set, ends it. Both are guarded by mu; more
	// has a token after either changes.
	streamed bool
	mu       sync.Mutex
	n        int
	more     chan struct{}
}

// newFetcher returns a fetcher of ob under ctx, which cancel cancels: its
// first chunk, object bytes [0, len(first)), is read from body into first
// (of capacity chunkSize if later chunks follow), later ones in ranges of
// chunkSize bytes.
func newFetcher(ctx context.Context, cancel context.CancelFunc, ob *object, body io.ReadCloser, first []byte,
	chunkSize int64, readAhead int, prog *progress, pool *bufPools) *fetcher {
	f := &fetcher{ob: ob, ctx: ctx, cancel: cancel, queue: make(chan *chunk, readAhead),
		free: make(chan []byte, readAhead+1), prog: prog, size: chunkSize, pool: pool}
	if int64(cap(first)) == chunkSize {
		f.bufs = append(f.bufs, first)
	}
	f.cur = &chunk{buf: first, done: make(chan struct{}), streamed: true, more: make(chan struct{}, 1)}
	f.wg.Add(2)
	go f.fill(f.cur, body)
	go f.run(int64(len(first)), chunkSize, readAhead+1)
	return f
}

// fill reads body into the streamed chunk c.
func (f *fetcher) fill(c *chunk, body io.ReadCloser) {
	defer f.wg.Done()
	defer body.Close()
	defer close(c.done)
	var err error
	for n := 0; n < len(c.buf) && err == nil; { // n: c.n, written only here
		var k int
		k, err = body.Read(c.buf[n:])
		n += k
		if err == io.EOF && n < len(c.buf) {
			err = io.ErrUnexpectedEOF
		} else if err == io.EOF {
			err = nil
		}
		if err != nil {
			err = fmt.Errorf("s3crypt: get %s at %d: %w", objName(f.ob.bucket, f.ob.key), n, err)
		}
		c.mu.Lock()
		c.n, c.err = n, err
		c.mu.Unlock()
		select {
		case c.more <- struct{}{}:
		default:
		}
	}
	if err == nil {
		f.prog.add(int64(len(c.buf)))
	}
}

// run queues the chunks from start and starts their GETs; besides the
// first chunk's buffer it allocates at most maxBufs-1.
func (f *fetcher) run(start, chunkSize int64, maxBufs int) {
	defer f.wg.Done()
	defer close(f.queue)
	nbufs := 1 // the first chunk's
	for off := start; off < f.ob.size; off += chunkSize {
		var buf []byte
		select {
		case buf = <-f.free:
		default:
			if nbufs < maxBufs {
				nbufs++
				buf = f.buffer()
				break
			}
			select {
			case buf = <-f.free:
			case <-f.ctx.Done():
				return
			}
		}
		c := &chunk{off: off, buf: buf[:min(chunkSize, f.ob.size-off)], done: make(chan struct{})}
		select {
		case f.queue <- c:
		case <-f.ctx.Done():
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer close(c.done)
			if c.err = f.ob.get(f.ctx, c.buf, c.off); c.err == nil {
				f.prog.add(int64(len(c.buf)))
			}
		}()
	}
}

// buffer returns a part buffer of length f.size from the pool.
func (f *fetcher) buffer() []byte {
	b := f.pool.part(f.size)[:f.size]
	f.bufsMu.Lock()
	f.bufs = append(f.bufs, b)
	f.bufsMu.Unlock()
	return b
}

// avail waits until chunk bytes past f.pos are readable or the chunk
// failed, and returns how many bytes of it are readable.
func (f *fetcher) avail() (int, error) {
	c := f.cur
	if !c.streamed {
		<-c.done
		if c.err != nil {
			return 0, c.err
		}
		return len(c.buf), nil
	}
	for {
		c.mu.Lock()
		n, err := c.n, c.err
		c.mu.Unlock()
		if n > f.pos || err != nil || n == len(c.buf) {
			return n, err
		}
		<-c.more
	}
}

// errClosed is what Read returns after Close.
var errClosed = errors.New("s3crypt: read after Close")

// Read reads the object's bytes in order.
func (f *fetcher) Read(p []byte) (int, error) {
	f.readMu.Lock()
	defer f.readMu.Unlock()
	if f.closed {
		return 0, errClosed
	}
	if f.err != nil {
		return 0, f.err
	}
	for {
		n, err := f.avail()
		if f.pos < n {
			k := copy(p, f.cur.buf[f.pos:n])
			f.pos += k
			f.read += int64(k)
			return k, nil
		}
		if err != nil {
			f.err = err
			f.mu.Lock()
			f.srcErr = err
			f.mu.Unlock()
			return 0, err
		}
		// f.cur is read whole: reuse its buffer, read the next chunk.
		if int64(cap(f.cur.buf)) == f.size {
			f.free <- f.cur.buf[:f.size] // never blocks: free holds every buffer
		}
		f.pos = 0
		c, ok := <-f.queue
		if !ok {
			f.cur = &chunk{done: f.cur.done} // read whole
			if f.read < f.ob.size {
				f.err = context.Cause(f.ctx)
				if f.err == nil {
					f.err = io.ErrUnexpectedEOF
				}
				return 0, f.err
			}
			return 0, io.EOF
		}
		f.cur = c
	}
}

func (f *fetcher) sourceErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.srcErr
}

// Close stops the GETs and waits for them and for a Read in progress,
// then returns the part buffers to the pool. Read fails after it.
func (f *fetcher) Close() {
	f.cancel()
	f.wg.Wait()
	f.readMu.Lock()
	defer f.readMu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	f.cur = nil
	for _, b := range f.bufs {
		f.pool.putPart(b[:0])
	}
	f.bufs = nil
}
