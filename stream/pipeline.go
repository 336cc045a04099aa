package stream

import (
	"runtime"
	"sync"
)

// slotsPerWorker bounds the frames in flight per worker: enough queued
// (up to 512 KiB) that a worker rarely sleeps between frames, and at
// least one frame to work on and one waiting. Memory in flight is
// workers × max(512 KiB, 2 frames).
func slotsPerWorker(frameLen int) int { return min(64, max(2, (512<<10)/frameLen)) }

// workersFor returns the number of workers for a configured value.
func workersFor(n int) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}

// pool is a set of worker goroutines running fn on the slots sent to them.
// It starts on the first job and stops on stop, or when its owner becomes
// unreachable (an abandoned Reader or Writer does not leak goroutines).
type pool[S any] struct {
	n    int
	size int // jobs queued at most: the owner's ring length
	fn   func(S)
	jobs chan S
	once sync.Once
	sent int // jobs submitted, for tests of the hand-off size
}

func (p *pool[S]) submit(s S) {
	if p.jobs == nil {
		p.jobs = make(chan S, p.size)
		for range p.n {
			go func(jobs <-chan S, fn func(S)) {
				for s := range jobs {
					fn(s)
				}
			}(p.jobs, p.fn)
		}
	}
	p.jobs <- s
	p.sent++
}

func (p *pool[S]) stop() {
	p.once.Do(func() {
		if p.jobs != nil {
			close(p.jobs)
		}
	})
}

// newPool returns a pool owned by owner; it stops when owner is collected.
func newPool[S any, O any](owner *O, n, size int, fn func(S)) *pool[S] {
	p := &pool[S]{n: n, size: size, fn: fn}
	runtime.AddCleanup(owner, func(p *pool[S]) { p.stop() }, p)
	return p
}
