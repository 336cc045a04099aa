package batch

import (
	"bytes"
	"context"
	"testing"
)

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

// closeCounter counts Close calls.
type closeCounter struct{ n int }

func (c *closeCounter) Close() error { c.n++; return nil }

// checkOutput is an output whose commit calls check.
type checkOutput struct {
	bytes.Buffer
	check func()
}

func (o *checkOutput) commit() error { o.check(); return nil }
func (o *checkOutput) abort()        {}

// TestCommitClosesInput: a job waiting for its output's commit has closed
// its input (once), so that jobs waiting hold their outputs open only.
func TestCommitClosesInput(t *testing.T) {
	in := &closeCounter{}
	j := &job{input: in}
	out := &checkOutput{check: func() {
		if in.n != 1 {
			t.Errorf("input closed %d times when the commit waits, want 1", in.n)
		}
	}}
	if err := commit(context.Background(), j, out, &countWriter{w: out}, &Record{}); err != nil {
		t.Fatal(err)
	}
	j.closeInput()
	if in.n != 1 {
		t.Errorf("input closed %d times, want 1", in.n)
	}
}
