package stream

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The pipeline of a Writer or Reader with W > 1 workers: a ring of frames
// in flight, handed out in groups of consecutive slots. W-1 pool
// goroutines take the groups from a queue; the owner's goroutine is the
// W-th worker: when it would wait for a frame, it first runs the oldest
// group nobody has started (pool.wait). So W goroutines, not W+1, share
// W cores, and the owner sleeps only when every job in flight is taken.
//
// Each group is claimed exactly once, by whoever swaps its claim word
// first, and its runner seals or opens every frame of it and sets each
// slot's done flag; the owner resets the flag when it takes the frame.

// groupBytes is the plaintext of one job, sized in bytes, not frames: a
// hand-off and a wake-up cost nothing next to sealing it, whatever the
// frame length (a job is one frame if frames are larger, and at most
// maxGroup frames).
const (
	groupBytes = 256 << 10
	maxGroup   = 256
)

// groupFrames is the number of frames of length F in a job.
func groupFrames(F int) int { return max(1, min(maxGroup, groupBytes/F)) }

// slotsPerWorker bounds the frames in flight per worker: two jobs, one
// being worked on and one waiting, so that a worker rarely sleeps between
// jobs. Memory in flight is workers × max(2 × groupBytes, 2 frames).
func slotsPerWorker(F int) int { return 2 * groupFrames(F) }

// MinParallel is the least plaintext for which a Writer or Reader with
// two workers beats one with one on a 2-core machine, however it is fed:
// below it, starting the pipeline's goroutine and handing it jobs cost
// more than they save (BenchmarkStreamWorkers: 2 workers up to 1.3 ×
// slower than 1 at 1 MiB; at 2 MiB faster for one Write and for a Reader,
// still slower for io.Copy; faster for all at 4 MiB). Seal and Open decide
// for themselves (minChunkBytes); a stream's length is known only to its
// caller: envelope seals or opens a stream it knows to be shorter (a
// declared length, a source that tells its own) in the calling goroutine
// alone.
const MinParallel = 4 << 20

// workersFor returns the number of workers for a configured value.
func workersFor(n int) int {
	if n <= 0 {
		return min(runtime.GOMAXPROCS(0), MaxWorkers)
	}
	return n // at most MaxWorkers: Config.check
}

// MaxWorkers is the most goroutines that seal or open one message's
// frames: each holds ring slots or chunk buffers of its own. A Config
// asking for more fails with ErrInvalidConfig; the default (0) uses
// GOMAXPROCS, capped at MaxWorkers.
const MaxWorkers = 256

// group is a job: ring slots first .. first+n-1 (mod the ring length),
// whose first frame has sequence number seq (never 0).
type group struct {
	first, n int
	seq      uint32
}

// pool runs groups of ring slots on its goroutines and, in wait, on the
// owner's. It starts on the first job and stops on stop, or when its owner
// becomes unreachable (an abandoned Reader or Writer leaks no goroutines).
type pool struct {
	n   int                // goroutines: the owner's workers less one
	run func(first, n int) // runs a claimed group
	// claim holds, at a group's first slot, the group's seq until it is
	// claimed, then 0. A slot is reused only after its group ran, so a
	// stale job (a group the owner ran) never matches a later group.
	claim []atomic.Uint32
	jobs  chan group
	once  sync.Once
	// The owner sleeps on wake only with sleeping set; a goroutine that
	// finished a group and sees sleeping sends a token.
	sleeping atomic.Bool
	wake     chan struct{}

	// Owner only: the groups submitted and not yet seen claimed, oldest
	// first, in a ring of the owner's ring length (there are never more
	// groups in flight than slots).
	queue  []group
	qh, qn int
	sent   int // jobs submitted, for tests of the hand-off size
}

// newPool returns a pool for a ring of size slots, owned by owner: it
// stops when owner is collected. run must not reference owner.
func newPool[O any](owner *O, workers, size int, run func(first, n int)) *pool {
	p := &pool{n: workers - 1, run: run, claim: make([]atomic.Uint32, size), queue: make([]group, size), wake: make(chan struct{}, 1)}
	runtime.AddCleanup(owner, func(p *pool) { p.stop() }, p)
	return p
}

func (p *pool) submit(g group) {
	if p.jobs == nil {
		p.jobs = make(chan group, len(p.queue))
		for range p.n {
			go func(jobs <-chan group, claim []atomic.Uint32, run func(int, int), sleeping *atomic.Bool, wake chan<- struct{}) {
				for g := range jobs {
					if claim[g.first].CompareAndSwap(g.seq, 0) {
						run(g.first, g.n)
						if sleeping.Load() {
							// One wake-up per group, not per frame; a
							// token already waiting will do as well.
							select {
							case wake <- struct{}{}:
							default:
							}
						}
					}
				}
			}(p.jobs, p.claim, p.run, &p.sleeping, p.wake)
		}
	}
	p.claim[g.first].Store(g.seq)
	if p.qn == len(p.queue) {
		p.pop() // it has left the ring: no more groups than slots are in flight
	}
	p.queue[(p.qh+p.qn)%len(p.queue)] = g
	p.qn++
	p.jobs <- g // a job the owner runs first is skipped by the goroutines
	p.sent++
}

func (p *pool) pop() group {
	g := p.queue[p.qh]
	p.qh = (p.qh + 1) % len(p.queue)
	p.qn--
	return g
}

// wait returns once a slot's done is set, and resets it. Meanwhile the
// owner runs the oldest unclaimed groups, and sleeps only when every
// group in flight is claimed. A nil pool (every frame run by the owner
// already) only resets.
func (p *pool) wait(done *atomic.Bool) {
	for p != nil && !done.Load() {
		if p.qn > 0 {
			if g := p.pop(); p.claim[g.first].CompareAndSwap(g.seq, 0) {
				p.run(g.first, g.n)
			}
			continue
		}
		// Announce the sleep, then look again: a goroutine finishing a
		// group sets done, then looks at sleeping, so one of the two
		// sees the other (sequentially consistent atomics) and a wake-up
		// is never lost.
		p.sleeping.Store(true)
		if !done.Load() {
			<-p.wake
		}
		p.sleeping.Store(false)
	}
	if !done.Load() {
		panic("stream: internal error: waiting for a frame no one runs")
	}
	done.Store(false)
}

func (p *pool) stop() {
	p.once.Do(func() {
		if p.jobs != nil {
			close(p.jobs)
		}
	})
}
