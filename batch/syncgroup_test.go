package batch

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/internal/auditlog"
)

// lockedBuffer is a log file: lines written under the log's lock, counted
// by the test's sync concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Count(l.b.Bytes(), []byte("\n"))
}

// TestAuditGroupSync: concurrent appends to an audit log share syncs (the
// 7 lines written while the first line's sync runs cost one more, not 7),
// and no Append returns before a sync that started after its line was
// written has finished.
func TestAuditGroupSync(t *testing.T) {
	const n = 8
	var buf lockedBuffer
	var mu sync.Mutex
	var covered []int // per sync, the lines written when it started
	syncs := 0
	g := newSyncGroup(func() error {
		mu.Lock()
		syncs++
		first := syncs == 1
		mu.Unlock()
		if first { // hold the first sync until every line is written
			for buf.lines() < n {
				runtime.Gosched()
			}
			// and a while more, for each writer to reach wait(): one
			// that reaches it only once the second sync has started
			// needs a third (correctly: that sync may predate its line).
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		covered = append(covered, buf.lines())
		mu.Unlock()
		return nil
	})
	l := &AuditLog{w: auditlog.NewWriter(&buf, auditlog.Result{}, auditlog.Options{}), synced: g, ctx: t.Context()}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := l.Append(Record{Op: "encrypt", Input: string(rune('a' + i)), Result: ResultOK}); err != nil {
				t.Error(err)
			}
			// Our line is among those some finished sync covered.
			mu.Lock()
			defer mu.Unlock()
			if len(covered) == 0 {
				t.Error("Append returned before any sync")
			}
		})
	}
	wg.Wait()
	// 2 syncs, or 3 if a writer was descheduled between its line and
	// wait() for the whole hold above; one a line would be 8.
	if syncs < 2 || syncs > 3 || covered[len(covered)-1] != n {
		t.Fatalf("%d appends: %d syncs covering %v lines; want 2 (3 at most), the last covering %d", n, syncs, covered, n)
	}
}

// TestSyncGroupFails: a failed sync fails every wait it serves and every
// later one.
func TestSyncGroupFails(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	g := newSyncGroup(func() error {
		calls++
		if calls == 2 {
			return boom
		}
		return nil
	})
	for i, want := range []error{nil, boom, boom} {
		if err := g.wait(); !errors.Is(err, want) {
			t.Errorf("wait %d = %v, want %v", i, err, want)
		}
	}
}
