package batch

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hookProgress is a Progress that calls onList as inputs are listed and
// onAdd as bytes are read.
type hookProgress struct {
	mu     sync.Mutex
	listed int
	added  int64
	onList func(i int) // i: the number of inputs listed before
	onAdd  func(total int64)
}

func (p *hookProgress) Start()          {}
func (p *hookProgress) ListingDone()    {}
func (p *hookProgress) FileDone(string) {}
func (p *hookProgress) Skipped(int)     {}
func (p *hookProgress) Stop()           {}

func (p *hookProgress) Listed(n int, _ int64) {
	p.mu.Lock()
	i := p.listed
	p.listed += n
	p.mu.Unlock()
	if p.onList != nil {
		p.onList(i)
	}
}

func (p *hookProgress) Add(n int64) {
	p.mu.Lock()
	p.added += n
	total := p.added
	p.mu.Unlock()
	if p.onAdd != nil {
		p.onAdd(total)
	}
}

// TestListedFileBecomesFIFO: an input listed as a regular file and
// replaced by a FIFO before it is opened fails with ErrInputChanged. Before,
// the run blocked forever opening it.
func TestListedFileBecomesFIFO(t *testing.T) {
	d := t.TempDir()
	src := filepath.Join(d, "src")
	putFile(t, filepath.Join(src, "a"), []byte("hello"))
	putFile(t, filepath.Join(src, "b"), []byte("world"))
	fifo := filepath.Join(src, "a")
	pr := &hookProgress{onList: func(i int) {
		if i == 0 {
			os.Remove(fifo)
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Error(err)
			}
		}
	}}
	done := make(chan error, 1)
	var sum *Summary
	go func() {
		var err error
		sum, err = Run(context.Background(), Encrypt, src, filepath.Join(d, "out"), Options{Keys: testKey(t), Progress: pr, Concurrency: 1})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || sum.Failed != 1 || sum.OK != 1 || !errors.Is(sum.Failures[0].Err, ErrInputChanged) {
			t.Fatalf("%+v, %v: want a failed with ErrInputChanged and b written", sum, err)
		}
	case <-time.After(10 * time.Second):
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close() // unblock the run so the test ends
		}
		<-done
		t.Fatal("the run blocked opening a FIFO that replaced a listed file")
	}
}

// TestStreamedInputRewritten: a streamed (larger than 1 MiB) input
// rewritten in place while it is read, same size, fails with
// ErrInputChanged and no output, as a small one does. Before, a mix of
// old and new bytes was committed and reported done.
func TestStreamedInputRewritten(t *testing.T) {
	d := t.TempDir()
	src := filepath.Join(d, "src")
	in := filepath.Join(src, "big")
	const size = 3 << 20
	putFile(t, in, bytes.Repeat([]byte("a"), size))
	var once sync.Once
	pr := &hookProgress{onAdd: func(int64) {
		once.Do(func() {
			f, err := os.OpenFile(in, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteAt(bytes.Repeat([]byte("Z"), 1<<20), size-(1<<20))
			f.Close()
			later := time.Now().Add(time.Hour)
			os.Chtimes(in, later, later) // past any timestamp granularity
		})
	}}
	out := filepath.Join(d, "out")
	sum, err := Run(context.Background(), Encrypt, src, out, Options{Keys: testKey(t), Progress: pr, Concurrency: 1})
	if err == nil || sum.Failed != 1 || !errors.Is(sum.Failures[0].Err, ErrInputChanged) {
		t.Fatalf("%+v, %v: want ErrInputChanged", sum, err)
	}
	if _, err := os.Lstat(filepath.Join(out, "big.enc")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an output was committed: %v", err)
	}
}
