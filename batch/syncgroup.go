package batch

import "sync"

// syncGroup shares one file's syncs among concurrent callers: wait returns
// once a sync that started after wait was called has finished, so what
// the caller wrote before is durable; callers that arrive while a sync
// runs are served together by the next one. A file of N lines appended
// by concurrent workers costs about as many syncs as there are rounds of
// workers, not N.
type syncGroup struct {
	sync func() error // the file's (os.File.Sync)

	mu      sync.Mutex
	cond    sync.Cond
	running bool   // a sync is in progress
	started uint64 // syncs started; the n-th has id n
	done    uint64 // id of the last sync finished
	// failed is the id of the first sync that failed (0: none) and err
	// its error. From then on every wait fails: after a failed fsync the
	// file's state is unknown, and a later sync that succeeds proves
	// nothing about what was written before it.
	failed uint64
	err    error
}

func newSyncGroup(sync func() error) *syncGroup {
	g := &syncGroup{sync: sync}
	g.cond.L = &g.mu
	return g
}

// wait returns once a sync started after the call has finished, with the
// error of the first failed sync at or before it, if any.
func (g *syncGroup) wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	need := g.started + 1 // a running sync may have started before our write
	for g.done < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		id := g.started
		g.mu.Unlock()
		err := g.sync()
		g.mu.Lock()
		g.running, g.done = false, id
		if err != nil && g.failed == 0 {
			g.failed, g.err = id, err
		}
		g.cond.Broadcast()
	}
	if g.failed != 0 && g.failed <= g.done {
		return g.err
	}
	return nil
}
