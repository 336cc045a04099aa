package batch

import "testing"

// TestWorkersForDefault: a large file gets the library's default frame
// workers (WithFrameWorkers(0): one fewer than the CPUs for a signing
// suite, leaving its hash a core) unless the user set --concurrency; a
// small one works serially.
func TestWorkersForDefault(t *testing.T) {
	for _, c := range []struct {
		concurrency int
		size        int64
		want        int
	}{
		{0, bigFile, 0},
		{0, -1, 0}, // unknown size: may be large
		{0, bigFile - 1, 1},
		{3, bigFile, 3},
		{3, -1, 3},
		{3, 10, 1},
		{-1, bigFile, 0},
	} {
		r := &runner{o: &Options{Concurrency: c.concurrency}}
		r.workers, _ = concurrency(c.concurrency)
		if got := r.workersFor(c.size); got != c.want {
			t.Errorf("Concurrency %d, size %d: %d frame workers, want %d", c.concurrency, c.size, got, c.want)
		}
	}
}
