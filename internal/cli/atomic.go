package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// ErrExists reports an output that already exists and may not be replaced
// (no --overwrite).
var ErrExists = errors.New("output exists (use --overwrite to replace it)")

// ErrSameFile reports an output that is the input itself.
var ErrSameFile = errors.New("output is the input file")

// atomicFile is an output written to a temporary file beside its target.
// Invariant: the target path holds either its previous content or the
// complete, fsync'd new content, never part of it; the temporary file
// exists only between createAtomic and commit or abort.
type atomicFile struct {
	*os.File
	target    string
	overwrite bool
	done      bool
	dirs      *dirSet // nil: fsync the directory at commit
}

// dirSet collects the directories of committed outputs, to fsync each once
// at the end of a run rather than once per file.
type dirSet struct {
	mu   sync.Mutex
	dirs map[string]bool
}

func (d *dirSet) add(dir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dirs == nil {
		d.dirs = map[string]bool{}
	}
	d.dirs[dir] = true
}

// sync makes every rename recorded so far durable.
func (d *dirSet) sync() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for dir := range d.dirs {
		syncDir(dir)
	}
	d.dirs = nil
}

// createAtomic creates the parent directories of target (mode 0700) and a
// temporary file beside it (mode 0600). It fails with ErrExists if target
// exists and overwrite is false, and with ErrSameFile if target is input.
func createAtomic(target, input string, overwrite bool) (*atomicFile, error) {
	if err := checkTarget(target, input, overwrite); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+base+".s3crypt-*.tmp")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, target: target, overwrite: overwrite}, nil
}

// checkTarget refuses a target that is the input, or that exists when
// overwrite is false.
func checkTarget(target, input string, overwrite bool) error {
	fi, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	if input != "" {
		if in, err := os.Stat(input); err == nil && os.SameFile(in, fi) {
			return fmt.Errorf("%s: %w", target, ErrSameFile)
		}
	}
	if !overwrite {
		return fmt.Errorf("%s: %w", target, ErrExists)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: output is a directory", target)
	}
	return nil
}

// commit makes the written content visible under the target name: fsync,
// then a hard link (which fails if the target appeared meanwhile) or, with
// overwrite, a rename; then an fsync of the directory, now or (with dirs)
// when the run ends.
func (a *atomicFile) commit() error {
	if a.done {
		return errors.New("output already finished")
	}
	a.done = true
	tmp := a.Name()
	err := a.Sync()
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = a.publish(tmp)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if a.dirs != nil {
		a.dirs.add(filepath.Dir(a.target))
	} else {
		syncDir(filepath.Dir(a.target))
	}
	return nil
}

func (a *atomicFile) publish(tmp string) error {
	if a.overwrite {
		return os.Rename(tmp, a.target)
	}
	err := os.Link(tmp, a.target)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", a.target, ErrExists)
	}
	// A file system without hard links: check, then rename.
	if _, serr := os.Lstat(a.target); serr == nil {
		return fmt.Errorf("%s: %w", a.target, ErrExists)
	}
	return os.Rename(tmp, a.target)
}

// abort removes the temporary file; the target is untouched. It is a no-op
// after commit.
func (a *atomicFile) abort() {
	if a.done {
		return
	}
	a.done = true
	a.Close()
	os.Remove(a.Name())
}

// syncDir makes a rename in dir durable; errors are ignored as some file
// systems refuse fsync on directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
