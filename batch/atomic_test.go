package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGroupCommit: outputs committed at once form one group; a group's
// data is synced before any of its names exists, its names exist before
// its directories are synced, and no commit returns before that; an
// output whose target appeared meanwhile fails alone.
func TestGroupCommit(t *testing.T) {
	for _, named := range []bool{false, true} {
		for _, syncfs := range []bool{false, true} {
			t.Run(fmt.Sprintf("named=%v,syncfs=%v", named, syncfs), func(t *testing.T) { testGroupCommit(t, named, syncfs) })
		}
	}
}

func testGroupCommit(t *testing.T, named, syncfs bool) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	g := &groupCommit{}
	if syncfs {
		if !syncFSReportsErrors() {
			t.Skip("no syncfs that reports errors here")
		}
		if g.fs, err = root.Open("."); err != nil {
			t.Fatal(err)
		}
		defer g.fs.Close()
	}
	const n = 8
	rels := make([]string, n)
	files := make([]*atomicFile, n)
	for i := range n {
		rels[i] = fmt.Sprintf("f%d.enc", i)
		if i%2 == 1 {
			rels[i] = filepath.Join("sub", rels[i])
		}
		if files[i], err = createAtomic(newOutDirs(root), rels[i], rels[i], nil, false, named); err != nil {
			t.Fatal(err)
		}
		files[i].group = g
		fmt.Fprintf(files[i], "content %d", i)
	}
	const taken = 3 // its target appears before its commit
	if err := os.WriteFile(filepath.Join(dir, rels[taken]), []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	steps := map[*atomicFile][]string{} // by the group's first output
	var sizes []int
	returned := map[string]bool{}
	g.step = func(step string, group []*atomicFile) {
		mu.Lock()
		defer mu.Unlock()
		steps[group[0]] = append(steps[group[0]], step)
		for _, a := range group {
			rel := filepath.Join(a.dirRel, a.name)
			_, err := root.Lstat(rel)
			switch {
			case step == "data" && err == nil && rel != rels[taken]:
				t.Errorf("%s exists before its data was synced", rel)
			case step == "link" && err != nil:
				t.Errorf("%s missing after the links: %v", rel, err)
			case returned[rel]:
				t.Errorf("commit of %s returned before step %s of its group", rel, step)
			}
		}
		if step != "data" {
			return
		}
		sizes = append(sizes, len(group))
		if len(sizes) > 1 {
			return
		}
		// Hold the first group until every other output waits, so that
		// they all form the second.
		mu.Unlock()
		for {
			g.mu.Lock()
			k := len(g.pending)
			g.mu.Unlock()
			if k == n-len(group) {
				break
			}
			runtime.Gosched()
		}
		mu.Lock()
	}

	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = files[i].commit()
			mu.Lock()
			returned[rels[i]] = true
			mu.Unlock()
		})
	}
	wg.Wait()

	// Two groups, or one when every commit had joined before the first
	// group's sync (a loaded machine: -race on 2 cores did it).
	total := 0
	for _, k := range sizes {
		total += k
	}
	if len(sizes) < 1 || len(sizes) > 2 || total != n {
		t.Errorf("groups of %v outputs, want 1 or 2 groups of %d in all", sizes, n)
	}
	for a, s := range steps {
		if got := strings.Join(s, ","); got != "data,link,dirs" {
			t.Errorf("group of %s: steps %s", a.name, got)
		}
	}
	for i := range n {
		b, _ := os.ReadFile(filepath.Join(dir, rels[i]))
		switch {
		case i == taken && !errors.Is(errs[i], ErrExists):
			t.Errorf("commit over a target that appeared: %v, want ErrExists", errs[i])
		case i == taken && string(b) != "theirs":
			t.Errorf("the target that appeared was replaced: %q", b)
		case i != taken && errs[i] != nil:
			t.Errorf("commit %s: %v", rels[i], errs[i])
		case i != taken && string(b) != fmt.Sprintf("content %d", i):
			t.Errorf("%s = %q", rels[i], b)
		}
	}
	if names := listDir(t, filepath.Join(dir, "sub")); len(names) != n/2 {
		t.Errorf("sub holds %v, want %d outputs and no temporary file", names, n/2)
	}
	if names := listDir(t, dir); len(names) != n/2+1 {
		t.Errorf("root holds %v, want %d outputs, sub, and no temporary file", names, n/2)
	}
}

// TestGroupCommitSyncFails: when the data of a group cannot be synced, no
// output of the group gets a name, and each reports the failure; a group
// of one is fsync'd, not syncfs'd.
func TestGroupCommitSyncFails(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("named=%v", named), func(t *testing.T) {
			dir, root := tempRoot(t)
			broken, err := root.Open(".")
			if err != nil {
				t.Fatal(err)
			}
			broken.Close() // its syncfs fails (EBADF)
			g := &groupCommit{fs: broken}
			const n = 3
			g.step = holdFirstGroup(g, n)
			errs := commitGroup(t, g, root, n, named)
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
				}
			}
			if failed != n-1 {
				t.Fatalf("commits: %v; want the first alone to succeed, the group of %d after it to fail", errs, n-1)
			}
			if names := listDir(t, dir); len(names) != 1 {
				t.Fatalf("after a failed sync: %v, want the first output only", names)
			}
		})
	}
}

// commitGroup writes n outputs f0..f{n-1} into root, each committed
// through g on a goroutine of its own, and returns each commit's error.
func commitGroup(t *testing.T, g *groupCommit, root *os.Root, n int, named bool) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		a, err := createAtomic(newOutDirs(root), fmt.Sprintf("f%d", i), "f", nil, false, named)
		if err != nil {
			t.Fatal(err)
		}
		a.group = g
		a.Write([]byte("data"))
		wg.Go(func() { errs[i] = a.commit() })
	}
	wg.Wait()
	return errs
}

// holdFirstGroup returns a groupCommit.step that holds g's first group
// after its data step until the other n-1 outputs wait, so that they form
// the second group.
func holdFirstGroup(g *groupCommit, n int) func(string, []*atomicFile) {
	first := true
	return func(step string, group []*atomicFile) {
		if step != "data" || !first {
			return
		}
		first = false
		for {
			g.mu.Lock()
			k := len(g.pending)
			g.mu.Unlock()
			if k == n-len(group) {
				return
			}
			runtime.Gosched()
		}
	}
}

// readingSource lists n names and counts the inputs being read at once,
// from open to EOF.
type readingSource struct {
	n        int
	mu       sync.Mutex
	now, max int
}

func (*readingSource) single(context.Context) (bool, error) { return false, nil }

func (s *readingSource) list(_ context.Context, _ func(string) bool, yield func(item) error) (int, error) {
	for i := range s.n {
		n := fmt.Sprintf("f%03d", i)
		if err := yield(item{name: n, rel: n, size: 9, path: n}); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func (s *readingSource) open(context.Context, item) (io.ReadCloser, error) {
	s.mu.Lock()
	s.now++
	s.max = max(s.max, s.now)
	s.mu.Unlock()
	return io.NopCloser(&eofCounter{r: strings.NewReader("plaintext"), s: s}), nil
}

type eofCounter struct {
	r    io.Reader
	s    *readingSource
	done bool
}

func (e *eofCounter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && !e.done {
		e.done = true
		e.s.mu.Lock()
		e.s.now--
		e.s.mu.Unlock()
	}
	return n, err
}

// TestFilesAtOnceLocal: the outputs waiting for their group commit do not
// count among the files at once, but no more inputs than that are read at
// once, and every output is there when Run returns.
func TestFilesAtOnceLocal(t *testing.T) {
	src := &readingSource{n: 50}
	dst := t.TempDir()
	k, err := LoadKeys(context.Background(), testKey(t), true)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Materials: k, Concurrency: 2}
	o.notes = &notifier{}
	r := &runner{op: Encrypt, o: &o, workers: 1}
	if _, _, r.client, r.dclient, err = o.clients(context.Background(), Encrypt); err != nil {
		t.Fatal(err)
	}
	in, err := inputFilter(Encrypt, location{kind: locS3}, location{kind: locLocal, path: dst}, &o)
	if err != nil {
		t.Fatal(err)
	}
	p := &plan{op: Encrypt, src: src, dst: newLocalSink(dst, o.notes), in: in, suffix: EncSuffix, outputs: newOutputSet(false)}
	sum := &Summary{}
	listed, err := r.runJobs(context.Background(), p, 2, sum)
	p.close()
	if err != nil || listed != src.n || sum.OK != src.n {
		t.Fatalf("runJobs = %d, %v; %+v", listed, err, sum)
	}
	if src.max > 2 {
		t.Errorf("%d inputs read at once, want at most 2", src.max)
	}
	if names := listDir(t, dst); len(names) != src.n {
		t.Errorf("%d outputs, want %d", len(names), src.n)
	}
}

// TestOutDirsShared: outputs open at once in one directory share its
// descriptor, which closes after the last of them commits or aborts.
func TestOutDirsShared(t *testing.T) {
	dir, root := tempRoot(t)
	dirs := newOutDirs(root)
	var files []*atomicFile
	for _, rel := range []string{"a", "b", filepath.Join("sub", "c"), filepath.Join("sub", "d")} {
		a, err := createAtomic(dirs, rel, rel, nil, false, false)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, a)
	}
	if files[0].dir != files[1].dir || files[2].dir != files[3].dir || files[0].dir == files[2].dir {
		t.Fatal("outputs of one directory do not share its descriptor, or of two directories do")
	}
	if len(dirs.byRel) != 2 {
		t.Fatalf("%d directories open, want 2", len(dirs.byRel))
	}
	top, sub := files[0].dir.File, files[2].dir.File
	files[0].Write([]byte("a"))
	if err := files[0].commit(); err != nil {
		t.Fatal(err)
	}
	files[2].abort()
	if top.Fd() == ^uintptr(0) || sub.Fd() == ^uintptr(0) {
		t.Fatal("a directory closed while an output in it is open")
	}
	files[1].abort()
	files[3].Write([]byte("d"))
	if err := files[3].commit(); err != nil {
		t.Fatal(err)
	}
	if top.Fd() != ^uintptr(0) || sub.Fd() != ^uintptr(0) || len(dirs.byRel) != 0 {
		t.Fatal("a directory left open after its last output")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sub", "d")); err != nil || string(b) != "d" {
		t.Fatalf("sub/d: %q, %v", b, err)
	}
}

// TestGroupCommitOverlaps: the data of the next group syncs while a group's
// outputs are linked and their directory synced.
func TestGroupCommitOverlaps(t *testing.T) {
	dir, root := tempRoot(t)
	g := &groupCommit{}
	hold := holdFirstGroup(g, 3)
	var first *atomicFile
	nextData := make(chan struct{})
	g.step = func(step string, group []*atomicFile) {
		hold(step, group)
		switch {
		case step == "data" && first == nil:
			first = group[0]
		case step == "data":
			close(nextData)
		case step == "link" && group[0] == first:
			select {
			case <-nextData:
			case <-time.After(time.Minute): // it never comes unless overlapped
				t.Error("the next group's data waited for this group's links")
			}
		}
	}
	dirs := newOutDirs(root)
	var wg sync.WaitGroup
	for i := range 3 {
		a, err := createAtomic(dirs, fmt.Sprintf("f%d", i), "f", nil, false, false)
		if err != nil {
			t.Fatal(err)
		}
		a.group = g
		a.Write([]byte("data"))
		wg.Go(func() {
			if err := a.commit(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if names := listDir(t, dir); len(names) != 3 {
		t.Fatalf("outputs %v, want 3", names)
	}
}

// tempRoot opens a new temporary directory as a root, closed when t ends.
func tempRoot(t *testing.T) (string, *os.Root) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return dir, root
}

// TestAtomicWriteback: an output starts the write-back of every
// writebackStep bytes as they are written, in order, each range once,
// whatever the Write sizes, and a file smaller than that starts none;
// the content and commit are unchanged.
func TestAtomicWriteback(t *testing.T) {
	for _, size := range []int{0, 1000, writebackStep - 1, writebackStep, 3*writebackStep + 12345} {
		for _, chunk := range []int{4096, 1 << 20, 3*writebackStep + 12345} {
			for _, grouped := range []bool{false, true} {
				testAtomicWriteback(t, size, chunk, grouped)
			}
		}
	}
}

// testAtomicWriteback writes size bytes in chunk-byte writes and checks
// the write-back started: every whole step while written, the rest too
// when the commit is grouped.
func testAtomicWriteback(t *testing.T, size, chunk int, grouped bool) {
	t.Run(fmt.Sprintf("size=%d/chunk=%d/grouped=%v", size, chunk, grouped), func(t *testing.T) {
		dir := t.TempDir()
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		a, err := createAtomic(newOutDirs(root), "out.enc", "out.enc", nil, false, false)
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]int64
		a.writeback = func(f *os.File, off, n int64) error {
			if f != a.File {
				t.Error("write-back of another file")
			}
			got = append(got, [2]int64{off, n})
			return startWriteback(f, off, n)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		for p := data; len(p) > 0; p = p[min(chunk, len(p)):] {
			if _, err := a.Write(p[:min(chunk, len(p))]); err != nil {
				t.Fatal(err)
			}
		}
		var end int64
		for _, r := range got {
			if r[0] != end || r[1] < writebackStep {
				t.Fatalf("write-back ranges %v: want consecutive ranges of at least %d bytes from 0", got, writebackStep)
			}
			end += r[1]
		}
		if size-int(end) >= writebackStep || end > int64(size) {
			t.Errorf("write-back ranges %v for %d bytes: want all but less than %d started", got, size, writebackStep)
		}
		if grouped {
			a.group = &groupCommit{}
		}
		before := len(got)
		if err := a.commit(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "out.enc"))
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("committed content: %d bytes, %v", len(b), err)
		}
		switch tail := got[before:]; {
		case !grouped && len(tail) != 0:
			t.Errorf("an ungrouped commit (which fsyncs at once) started write-back %v", tail)
		case grouped && int(end) < size && (len(tail) != 1 || tail[0] != [2]int64{end, int64(size) - end}):
			t.Errorf("a grouped commit started write-back %v; want the rest, [%d, %d)", tail, end, size)
		case grouped && int(end) == size && len(tail) != 0:
			t.Errorf("a grouped commit started write-back %v with none left", tail)
		}
	})
}

// TestTargetSymlink: a target that is a symbolic link exists (ErrExists),
// dangling too, before anything is encrypted; with overwrite the link is
// replaced, never what it points to.
func TestTargetSymlink(t *testing.T) {
	dir, root := tempRoot(t)
	if err := os.WriteFile(filepath.Join(dir, "theirs"), []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink("theirs", filepath.Join(dir, "link"))
	os.Symlink("nowhere", filepath.Join(dir, "dangling"))
	dirs := newOutDirs(root)
	for _, name := range []string{"link", "dangling"} {
		if _, err := createAtomic(dirs, name, name, nil, false, false); !errors.Is(err, ErrExists) {
			t.Errorf("%s: %v, want ErrExists", name, err)
		}
		a, err := createAtomic(dirs, name, name, nil, true, false)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("mine"))
		if err := a.commit(); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(filepath.Join(dir, name))
		if b, _ := os.ReadFile(filepath.Join(dir, name)); err != nil || fi.Mode()&fs.ModeSymlink != 0 || string(b) != "mine" {
			t.Errorf("%s after overwrite: %v, %v, %q; want a file holding the output", name, fi, err, b)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "theirs")); string(b) != "theirs" {
		t.Errorf("written through the link: %q", b)
	}
	if len(dirs.byRel) != 0 {
		t.Errorf("directories left open: %v", dirs.byRel)
	}
}
