package stream

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// A turnstile is what the W goroutines of a Writer's or Reader's turns
// (turns.go, readturns.go) share: the read turn, the wait for a slot of
// one's own, the lock of whoever writes, and a panic to raise again on
// the caller's goroutine.
type turnstile struct {
	busy   atomic.Bool // the read turn is taken
	stop   atomic.Bool // nothing more is to be read
	failed atomic.Bool // nothing more is to be written either

	turn, room waiters // for the read turn; for a slot of one's own

	wmu   sync.Mutex  // held by whoever writes
	dirty atomic.Bool // something may have become writable since wmu was tried

	pmu      sync.Mutex
	panicked any // a worker's panic (pmu)

	spawn func() // starts the helpers of run, once; work(0) only
}

func (ts *turnstile) init() {
	ts.turn.init()
	ts.room.init()
}

// run runs work(i) on n goroutines, i = 0 the caller's, and raises the
// first panic of any of them again once all returned. The others start
// when work(0) calls spawn, once it knows there is work for them. One
// that starts only after work(0) returned does not run work at all, and
// the caller does not wait for it: on a virtual machine an idle core may
// take 100 µs or more to start a goroutine, and work(0) may have done
// everything by then. So work(i) for i > 0 must hold nothing before it
// starts: work(0) finishes without it.
func (ts *turnstile) run(n int, work func(i int)) {
	// join[i-1]: 0 until helper i or the caller swaps it, 1 once the
	// helper joined (it then closes done[i-1] when it returns), 2 once the
	// caller closed the door on a helper that had not joined.
	join := make([]atomic.Int32, n-1)
	done := make([]chan struct{}, n-1)
	ts.spawn = func() {
		ts.spawn = func() {}
		for i := 1; i < n; i++ {
			done[i-1] = make(chan struct{})
			go func() {
				if !join[i-1].CompareAndSwap(0, 1) {
					return
				}
				defer close(done[i-1])
				defer ts.recover()
				work(i)
			}()
		}
	}
	func() {
		defer ts.recover()
		work(0)
	}()
	for i := range join {
		if !join[i].CompareAndSwap(0, 2) {
			<-done[i]
		}
	}
	if ts.panicked != nil {
		panic(ts.panicked)
	}
}

// recover keeps a worker's panic (a source's, a destination's) and stops
// the others.
func (ts *turnstile) recover() {
	if p := recover(); p != nil {
		ts.pmu.Lock() // not wmu: a Write may have panicked holding it
		if ts.panicked == nil {
			ts.panicked = p
		}
		ts.pmu.Unlock()
		ts.fail()
	}
}

// fail stops every worker.
func (ts *turnstile) fail() {
	ts.failed.Store(true)
	ts.stop.Store(true)
	ts.turn.wake()
	ts.room.wake()
}

// take waits until free, which reads only atomics, reports a slot of the
// caller's own free, runs ready (the slot's buffers are made there, by the
// core that uses them, and outside the turn), then waits for the read
// turn. It returns false, holding nothing, once reading stopped.
func (ts *turnstile) take(free func() bool, ready func()) bool {
	ok := false
	ts.room.wait(func() bool {
		ok = free()
		return ok || ts.failed.Load()
	})
	if !ok {
		return false
	}
	ready()
	for {
		ts.turn.wait(func() bool { return ts.stop.Load() || !ts.busy.Load() })
		if ts.stop.Load() {
			return false
		}
		if ts.tryTurn() {
			return true
		}
	}
}

// tryTurn takes the read turn if it is free, and reports whether it holds
// it: never once reading stopped. (Not from a waiters.wait condition: give
// wakes waiters under their lock.)
func (ts *turnstile) tryTurn() bool {
	if !ts.busy.CompareAndSwap(false, true) {
		return false
	}
	if ts.stop.Load() {
		ts.give()
		return false
	}
	return true
}

// give gives the read turn up.
func (ts *turnstile) give() {
	ts.busy.Store(false)
	ts.turn.wake()
}

// write runs ready, which writes what is writable, with wmu, unless
// another worker holds it: that one sees dirty and runs it again.
func (ts *turnstile) write(ready func()) {
	ts.dirty.Store(true)
	for ts.dirty.Load() && ts.wmu.TryLock() {
		ts.dirty.Store(false)
		ready()
		ts.wmu.Unlock()
	}
}

// waiters is what goroutines wait on for a condition another goroutine
// makes true: they spin briefly, then sleep until wake. On a virtual
// machine a sleeping goroutine's core may take 30-50 µs to wake, about a
// read turn's length.
type waiters struct {
	mu       sync.Mutex
	cond     sync.Cond
	sleepers atomic.Int32
}

func (ws *waiters) init() { ws.cond.L = &ws.mu }

// spinTries is how many times wait yields before it sleeps.
const spinTries = 200

// wait returns once ok, which reads only atomics, returns true.
func (ws *waiters) wait(ok func() bool) {
	for range spinTries {
		if ok() {
			return
		}
		runtime.Gosched()
	}
	ws.mu.Lock()
	ws.sleepers.Add(1)
	for !ok() {
		ws.cond.Wait()
	}
	ws.sleepers.Add(-1)
	ws.mu.Unlock()
}

// wake wakes the sleepers after what they wait on changed: a sleeper
// counted itself before it last looked, so it sees the change or is
// woken.
func (ws *waiters) wake() {
	if ws.sleepers.Load() > 0 {
		ws.mu.Lock()
		ws.cond.Broadcast()
		ws.mu.Unlock()
	}
}
