package s3crypt

import (
	"context"
	"io"
	"sync"
)

// fetcher reads an object in order, its ranges fetched ahead in parallel.
//
// Invariants: chunks enter queue in object order, each before its GET
// starts, so at most readAhead+1 GETs run and at most readAhead+2 buffers
// exist (queued, being read, being queued); Read returns bytes of a chunk
// only after its GET completed.
type fetcher struct {
	ob     *object
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan *chunk
	free   chan []byte
	wg     sync.WaitGroup
	prog   *progress

	cur  *chunk
	pos  int
	read int64 // bytes returned by Read
	err  error // the first error Read returned

	mu     sync.Mutex
	srcErr error // the GET error Read returned, for sourceErr
}

type chunk struct {
	off  int64
	buf  []byte
	err  error
	done chan struct{} // closed once buf is filled or err set
}

// newFetcher returns a fetcher of ob from the end of its prefix, in
// ranges of chunkSize bytes.
func newFetcher(ctx context.Context, ob *object, chunkSize int64, readAhead int, prog *progress) *fetcher {
	f := &fetcher{ob: ob, queue: make(chan *chunk, readAhead), free: make(chan []byte, readAhead+2), prog: prog}
	f.ctx, f.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	close(done)
	f.cur = &chunk{buf: ob.prefix, done: done}
	f.wg.Add(1)
	go f.run(int64(len(ob.prefix)), chunkSize, readAhead+1)
	return f
}

// run queues the chunks from start and starts their GETs; it allocates at
// most maxBufs buffers besides the prefix.
func (f *fetcher) run(start, chunkSize int64, maxBufs int) {
	defer f.wg.Done()
	defer close(f.queue)
	nbufs := 0
	for off := start; off < f.ob.size; off += chunkSize {
		var buf []byte
		select {
		case buf = <-f.free:
		default:
			if nbufs < maxBufs {
				nbufs++
				buf = make([]byte, chunkSize)
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

// Read reads the object's bytes in order.
func (f *fetcher) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	for f.pos == len(f.cur.buf) {
		if cap(f.cur.buf) > 0 && len(f.cur.buf) > 0 {
			select {
			case f.free <- f.cur.buf[:cap(f.cur.buf)]:
			default: // the prefix, when the free list is full
			}
		}
		f.cur, f.pos = &chunk{}, 0
		c, ok := <-f.queue
		if !ok {
			if f.read < f.ob.size {
				f.err = context.Cause(f.ctx)
				if f.err == nil {
					f.err = io.ErrUnexpectedEOF
				}
				return 0, f.err
			}
			return 0, io.EOF
		}
		<-c.done
		if c.err != nil {
			f.err = c.err
			f.mu.Lock()
			f.srcErr = c.err
			f.mu.Unlock()
			return 0, c.err
		}
		f.cur = c
	}
	n := copy(p, f.cur.buf[f.pos:])
	f.pos += n
	f.read += int64(n)
	return n, nil
}

func (f *fetcher) sourceErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.srcErr
}

// Close stops the GETs and waits for them.
func (f *fetcher) Close() {
	f.cancel()
	f.wg.Wait()
}
