package envelope

import (
	"crypto/ecdsa"
	"hash"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/phicrypt/phicrypt/stream"
)

// asyncHash is a hash.Hash that hashes on another goroutine, so that a
// signed stream costs about max(AES-GCM, SHA-384) rather than their sum.
//
// The first asyncHashChunk bytes are hashed inline, in the caller: a small
// message starts no goroutine and allocates no buffer. Past them, Write
// copies into chunks of asyncHashChunk bytes and sends each full chunk to
// one hashing goroutine, started on the first chunk, which hashes them in
// order and hands the buffers back. At most asyncHashChunks buffers exist
// (one being filled, the others queued or being hashed): Write blocks
// until asyncHashWake are handed back, so memory stays bounded when the
// caller outruns the hash. With GOMAXPROCS 1 everything is hashed inline.
//
// Sum, Reset and flush end the goroutine after it hashed every chunk
// sent; a later Write starts a new one. An asyncHash dropped without any
// of them (a stream abandoned or failed mid-way) ends its goroutine when
// it is collected: the goroutine holds only its hashWorker and the
// underlying hash, never the asyncHash. Not safe for concurrent use.
type asyncHash struct {
	h      hash.Hash
	serial bool   // GOMAXPROCS was 1: hash everything inline
	inline int64  // bytes hashed inline since the last Reset, ≤ asyncHashChunk
	cur    []byte // chunk being filled, or nil; non-nil only while w is
	nbuf   int    // chunk buffers made for w
	w      *hashWorker
	// The goroutines' lives, the time they waited for a chunk and the
	// time they took to hand hashed buffers back, summed at flush: how
	// much of the hash's time the stream it hashes took from it
	// (BenchmarkSignedHashIdle).
	life, idle, back time.Duration
	sleeps           int // times a Write slept for buffers (TestAsyncHashSleeps)
}

// hashWorker is the hashing goroutine's side: what it reads and closes.
//
// A Write that finds no buffer free sleeps until asyncHashWake are, not
// until the first is: each wake-up costs the hashing goroutine, the
// stream's bottleneck, a few microseconds (on a VM an interrupt to the
// sleeping core), once per asyncHashWake chunks instead of per chunk.
// nfree counts the buffers in free; waiting is set by a Write about to
// sleep on wake, and whoever clears it (the Write finding enough free
// after all, or the goroutine having handed enough back) decides whether
// a wake is sent: exactly one per sleep.
type hashWorker struct {
	work    chan hashChunk // chunks to hash, in order; closed to stop
	free    chan []byte    // hashed chunk buffers handed back
	wake    chan struct{}  // a Write waiting (see waiting) may go on
	nfree   atomic.Int32   // buffers in free
	waiting atomic.Bool    // a Write waits for asyncHashWake buffers
	done    chan struct{}  // closed as the goroutine's last act
	cleanup runtime.Cleanup
	// Written by the goroutine, read after done: its life, the time it
	// waited with no chunk to hash and the time its sends on free took
	// (a send that wakes a Write waiting for a buffer).
	life, idle, back time.Duration
}

// hashChunk is bytes to hash; own marks a buffer of the asyncHash, to
// hand back once hashed.
type hashChunk struct {
	b   []byte
	own bool
}

const (
	asyncHashChunk  = 128 << 10
	asyncHashChunks = 8 // at most 1 MiB of chunks per asyncHash
	asyncHashWake   = asyncHashChunks / 2
)

func newAsyncHash(h hash.Hash) *asyncHash {
	return &asyncHash{h: h, serial: runtime.GOMAXPROCS(0) == 1}
}

func (a *asyncHash) Write(p []byte) (int, error) {
	n := len(p)
	if a.serial {
		return a.h.Write(p)
	}
	if a.w == nil && a.inline < asyncHashChunk {
		k := int(min(int64(len(p)), asyncHashChunk-a.inline))
		a.h.Write(p[:k])
		a.inline += int64(k)
		p = p[k:]
	}
	for len(p) > 0 {
		if a.cur == nil {
			a.cur = a.buffer()
		}
		c := copy(a.cur[len(a.cur):cap(a.cur)], p)
		a.cur, p = a.cur[:len(a.cur)+c], p[c:]
		if len(a.cur) == cap(a.cur) {
			a.w.work <- hashChunk{a.cur, true}
			a.cur = nil
		}
	}
	return n, nil
}

// buffer returns an empty chunk buffer, starting the goroutine if it is
// not running, and waiting for a hashed chunk if asyncHashChunks exist.
func (a *asyncHash) buffer() []byte {
	if a.w == nil {
		a.start()
	}
	w := a.w
	if w.nfree.Load() == 0 && a.nbuf < asyncHashChunks {
		a.nbuf++
		return make([]byte, 0, asyncHashChunk)
	}
	if w.nfree.Load() == 0 {
		// Every buffer is queued or being hashed: all come back.
		w.waiting.Store(true)
		if w.nfree.Load() < asyncHashWake || !w.waiting.CompareAndSwap(true, false) {
			<-w.wake
			a.sleeps++
		}
	}
	w.nfree.Add(-1)
	return (<-w.free)[:0]
}

// start starts the hashing goroutine.
func (a *asyncHash) start() {
	w := &hashWorker{
		// Buffered for every chunk, so that neither side blocks on a send.
		work: make(chan hashChunk, asyncHashChunks),
		free: make(chan []byte, asyncHashChunks),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go func(h hash.Hash, w *hashWorker) {
		start := time.Now()
		for {
			var t time.Time
			if len(w.work) == 0 {
				t = time.Now() // about to wait
			}
			c, ok := <-w.work
			if !t.IsZero() {
				w.idle += time.Since(t)
			}
			if !ok {
				break
			}
			h.Write(c.b)
			if c.own {
				t := time.Now()
				w.free <- c.b // never blocks: room for every buffer
				if w.nfree.Add(1) >= asyncHashWake && w.waiting.Load() && w.waiting.CompareAndSwap(true, false) {
					w.wake <- struct{}{}
				}
				w.back += time.Since(t)
			}
		}
		w.life = time.Since(start)
		close(w.done)
	}(a.h, w)
	w.cleanup = runtime.AddCleanup(a, func(work chan hashChunk) { close(work) }, w.work)
	a.w, a.nbuf = w, 0
}

// writeStable hashes p, which its caller leaves unchanged until Sum, on
// the goroutine and without a copy.
func (a *asyncHash) writeStable(p []byte) {
	if a.w == nil {
		a.start()
	}
	if len(a.cur) > 0 {
		a.w.work <- hashChunk{a.cur, true}
		a.cur = nil
	}
	a.w.work <- hashChunk{p, false}
}

// flush hashes everything written and ends the goroutine, dropping its
// buffers: after it the underlying hash holds the whole input and no
// goroutine runs. Streams call it when they end, failed or not.
func (a *asyncHash) flush() {
	if a.w == nil {
		return
	}
	a.w.cleanup.Stop()
	close(a.w.work)
	<-a.w.done
	a.life += a.w.life
	a.idle += a.w.idle
	a.back += a.w.back
	a.h.Write(a.cur) // the goroutine is done with h
	a.w, a.cur = nil, nil
}

func (a *asyncHash) Sum(b []byte) []byte {
	a.flush()
	return a.h.Sum(b)
}

func (a *asyncHash) Reset() {
	a.flush()
	a.h.Reset()
	a.inline = 0
}

func (a *asyncHash) Size() int      { return a.h.Size() }
func (a *asyncHash) BlockSize() int { return a.h.BlockSize() }

// signedWorkers returns the frame workers of a signed stream configured
// with n: n if set, else one fewer than GOMAXPROCS (at least 1), so that
// the hashing goroutine, the stream's serial bottleneck, has a core of its
// own.
func signedWorkers(n int) int {
	if n > 0 {
		return n
	}
	return min(max(1, runtime.GOMAXPROCS(0)-1), stream.MaxWorkers)
}

// sealSignedMin is the least plaintext sealSigned hashes beside the
// sealing: below it the goroutine, the copy out of the Writer's frames and
// its frame buffers cost more than the overlap saves (speed-up measured on
// 2 busy cores: 0.7-0.95x at 256 KiB and 1 MiB, 1.0-1.05x at 4 MiB,
// 1.0-1.33x at 16 MiB).
const sealSignedMin = 4 << 20

// sealSigned appends to out, which holds a message's header from start,
// the framed body of plaintext and the footer signed with key over h,
// the suite's hash. From sealSignedMin bytes the message is hashed on
// another goroutine while its frames are sealed (the serial sum of the two
// is what a signed one-shot cost): a stream.Writer seals them into out
// and each stretch of asyncHashChunk bytes appended is hashed in place.
// cfg.Workers is the caller's; the default leaves the hash a core.
func sealSigned(out []byte, start int, plaintext []byte, cfg stream.Config, key *ecdsa.PrivateKey, h hash.Hash) ([]byte, error) {
	if len(plaintext) < sealSignedMin || runtime.GOMAXPROCS(0) == 1 {
		out, err := stream.Seal(out, plaintext, cfg)
		if err != nil {
			return nil, err
		}
		h.Write(out[start:])
		return appendFooter(out, key, h)
	}
	a := newAsyncHash(h)
	defer a.flush() // on error; after Sum it does nothing
	ap := &hashingAppender{b: out, hashed: start, a: a}
	cfg.Workers = signedWorkers(cfg.Workers)
	w, err := stream.NewWriter(ap, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	a.writeStable(ap.b[ap.hashed:])
	return appendFooter(ap.b, key, a)
}

// hashingAppender appends to b and hands a what it appended past hashed
// in stretches of at least asyncHashChunk bytes. The caller gives b room
// for everything appended, so that no stretch handed is moved.
type hashingAppender struct {
	b      []byte
	hashed int
	a      *asyncHash
}

func (w *hashingAppender) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	if len(w.b)-w.hashed >= asyncHashChunk {
		w.a.writeStable(w.b[w.hashed:])
		w.hashed = len(w.b)
	}
	return len(p), nil
}
