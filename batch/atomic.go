package batch

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrExists reports an output that already exists and may not be replaced
// (no --overwrite).
var ErrExists = errors.New("output exists (use --overwrite to replace it)")

// ErrSameFile reports an output that is the input itself.
var ErrSameFile = errors.New("output is the input file")

// ErrAuditOutput reports an output that is the run's audit log
// (--metadata-output), which --overwrite would replace, losing its lines.
var ErrAuditOutput = errors.New("output is the audit log (--metadata-output)")

// ErrReservedName reports an output whose name is of the form of the
// named temporary files (".NAME.s3crypt-pPID-N.tmp"), which a later run
// writing into its directory would remove as stale.
var ErrReservedName = errors.New("name reserved for s3crypt's temporary files")

// errNoUnnamed reports a platform or file system without unnamed
// temporary files (O_TMPFILE); a named temporary file is used instead.
var errNoUnnamed = errors.New("no unnamed temporary files here")

// Named temporary files are ".NAME.s3crypt-p<PID>-<RAND>.tmp": the PID
// lets a later run tell a dead process's leftovers from a live one's.
const (
	tmpMark   = ".s3crypt-p"
	tmpSuffix = ".tmp"
)

// atomicFile is an output written to a temporary file in its target's
// directory, below a root. Invariant: the target holds either its previous
// content or the complete, fsync'd new content, never part of it. Where
// the OS allows (Linux O_TMPFILE), the temporary file has no name until
// commit, so a killed process leaves nothing; otherwise it is named
// ".NAME.s3crypt-p<PID>-*.tmp" and exists only between createAtomic and
// commit or abort (or until a later run removes it, see cleanStale).
type atomicFile struct {
	*os.File
	root      *os.Root
	dir       *outDir // the target's directory, opened through root
	dirRel    string  // its name below root
	name      string  // the target's base name
	display   string  // the target as shown to the user
	tmp       string  // base name of the named temporary file; "" while unnamed
	overwrite bool
	done      bool
	group     *groupCommit // nil: commit alone, with its own fsyncs
	// Write has written written bytes and started the write-back of the
	// first flushed of them (all of them once a grouped commit began) with
	// writeback (startWriteback; in tests, a recorder).
	written, flushed int64
	writeback        func(f *os.File, off, n int64) error
}

// writebackStep is how many bytes an output is written between two
// starts of their write-back.
const writebackStep = 8 << 20

// Write writes p and, once writebackStep bytes are written since the last
// time, starts writing them to disk without waiting (startWriteback:
// sync_file_range(2) on Linux, nothing elsewhere). The disk then writes a
// large output while the rest is encrypted, rather than all of it in
// commit's fsync, which still makes the whole file durable: a large file
// costs about the longer of encryption and disk, not their sum.
func (a *atomicFile) Write(p []byte) (int, error) {
	n, err := a.File.Write(p)
	if a.written += int64(n); a.written-a.flushed >= writebackStep {
		a.writebackRest()
	}
	return n, err
}

// writebackRest starts the write-back of the bytes written since the last
// start. Its errors show in the sync that makes the output durable.
func (a *atomicFile) writebackRest() {
	_ = a.writeback(a.File, a.flushed, a.written-a.flushed)
	a.flushed = a.written
}

// createAtomic creates the parent directories of rel below dirs' root
// (mode 0700) and a temporary file there (mode 0600). It fails with
// ErrExists if rel exists and overwrite is false, and with ErrSameFile if
// rel is the file input (nil when the input is no local file). display
// names the target in errors. named forces a named temporary file (for
// tests).
func createAtomic(dirs *outDirs, rel, display string, input fs.FileInfo, overwrite, named bool) (*atomicFile, error) {
	root := dirs.root
	dirRel, name := filepath.Dir(rel), filepath.Base(rel)
	if staleTmpPID(name) != 0 {
		return nil, fmt.Errorf("%s: %w", Quote(display), ErrReservedName)
	}
	dir, err := dirs.open(dirRel)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(dir.in, name, display, input, dirs.audit, overwrite); err != nil {
		dir.release()
		return nil, err
	}
	a := &atomicFile{root: root, dir: dir, dirRel: dirRel, name: name, display: display, overwrite: overwrite, writeback: startWriteback}
	err = errNoUnnamed
	if !named {
		a.File, err = openUnnamed(dir.File)
	}
	if errors.Is(err, errNoUnnamed) {
		a.File, a.tmp, err = a.createNamed()
	}
	if err != nil {
		dir.release()
		return nil, err
	}
	return a, nil
}

// outDirs shares among the outputs open at once below root one descriptor
// of each directory they are in: opened (and created, mode 0700, if need
// be) by the first, closed after the last commits or aborts.
type outDirs struct {
	root  *os.Root
	audit fs.FileInfo // the run's audit log, if a local file: never an output
	mu    sync.Mutex
	byRel map[string]*outDir // by name below root; each with refs > 0

	// newParents holds the parent of each directory open created whose
	// entry there is not yet durable; syncNewParents syncs them under
	// syncMu, so that no output is reported done before its directory's
	// whole path is.
	newParents map[string]bool
	syncMu     sync.Mutex
}

// outDir is an open directory of outDirs and the outputs that use it.
type outDir struct {
	*os.File
	in   *os.Root // the same directory: its names looked up without a walk from the root
	dirs *outDirs
	rel  string
	refs int
}

func newOutDirs(root *os.Root) *outDirs {
	return &outDirs{root: root, byRel: map[string]*outDir{}, newParents: map[string]bool{}}
}

// open returns rel, opened, creating it if need be; the caller releases
// it once.
func (o *outDirs) open(rel string) (*outDir, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d := o.byRel[rel]; d != nil {
		d.refs++
		return d, nil
	}
	if rel != "." {
		if err := o.mkdirs(rel); err != nil {
			return nil, err
		}
	}
	in, err := o.root.OpenRoot(rel)
	if err != nil {
		return nil, err
	}
	f, err := in.Open(".")
	if err != nil {
		in.Close()
		return nil, err
	}
	d := &outDir{File: f, in: in, dirs: o, rel: rel, refs: 1}
	o.byRel[rel] = d
	return d, nil
}

// mkdirs creates rel and its missing parents below root, mode 0700, one
// at a time, noting the parent of each it creates. Called with o.mu held.
func (o *outDirs) mkdirs(rel string) error {
	if fi, err := o.root.Stat(rel); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(rel)
	if parent != "." {
		if err := o.mkdirs(parent); err != nil {
			return err
		}
	}
	switch err := o.root.Mkdir(rel, 0o700); {
	case err == nil:
		o.newParents[parent] = true
	case !errors.Is(err, fs.ErrExist): // another job's, or not a directory: OpenRoot tells
		return err
	}
	return nil
}

// syncNewParents syncs the parents of the directories created so far,
// before the outputs in them are reported done. A caller that finds none
// left waits for those another is syncing.
func (o *outDirs) syncNewParents() {
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	o.mu.Lock()
	ps := o.newParents
	o.newParents = map[string]bool{}
	o.mu.Unlock()
	for p := range ps {
		if f, err := o.root.Open(p); err == nil {
			syncDir(f)
			f.Close()
		}
	}
}

// release closes d after its last user released it.
func (d *outDir) release() {
	o := d.dirs
	o.mu.Lock()
	defer o.mu.Unlock()
	if d.refs--; d.refs == 0 {
		delete(o.byRel, d.rel)
		d.Close()
		d.in.Close()
	}
}

// tmpName returns a fresh temporary name for the target name.
func tmpName(name string) string {
	if len(name) > 100 { // stay below NAME_MAX (255) whatever the target
		name = name[:100]
	}
	return "." + name + tmpMark + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(uint64(rand.Uint32()), 10) + tmpSuffix
}

func (a *atomicFile) createNamed() (*os.File, string, error) {
	for range 100 {
		tmp := tmpName(a.name)
		f, err := a.root.OpenFile(filepath.Join(a.dirRel, tmp), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err == nil {
			lockFile(f) // held until closed: cleanStale leaves it alone
		}
		return f, tmp, err
	}
	return nil, "", fmt.Errorf("%s: no free temporary name", Quote(a.display))
}

// checkTarget refuses a target, name in dir, that is the input or the
// audit log (audit, if not nil), or that exists when overwrite is false. A
// symbolic link is not followed: it exists, and an overwrite replaces the
// link, never what it points to.
func checkTarget(dir *os.Root, name, display string, input, audit fs.FileInfo, overwrite bool) error {
	fi, err := dir.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	if input != nil && os.SameFile(input, fi) {
		return fmt.Errorf("%s: %w", Quote(display), ErrSameFile)
	}
	if audit != nil && os.SameFile(audit, fi) {
		return fmt.Errorf("%s: %w", Quote(display), ErrAuditOutput)
	}
	if !overwrite {
		return fmt.Errorf("%s: %w", Quote(display), ErrExists)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: output is a directory", Quote(display))
	}
	return nil
}

// commit makes the written content visible under the target name, durably:
// fsync, then a link (which fails if the target appeared meanwhile) or,
// with overwrite, a rename, then an fsync of the directory. With a group,
// it does so together with the other outputs committing at the time.
func (a *atomicFile) commit() error {
	if a.done {
		return errors.New("output already finished")
	}
	a.done = true
	if a.group != nil {
		// The rest's write-back starts now, not at the group's syncfs: the
		// disk works while the group gathers (a small file: all of it).
		if a.written > a.flushed {
			a.writebackRest()
		}
		return a.group.commit(a)
	}
	err := a.Sync()
	err = a.finish(err)
	if err == nil {
		a.dir.dirs.syncNewParents()
		syncDir(a.dir.File)
	}
	a.dir.release()
	return err
}

// finish publishes the file unless err (its sync's) is set, closes it, and
// removes its temporary name, if any, on failure. The directory stays open.
func (a *atomicFile) finish(err error) error {
	if err == nil {
		err = a.publish() // before Close: an unnamed file is linked by descriptor
	}
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err != nil && a.tmp != "" {
		a.root.Remove(filepath.Join(a.dirRel, a.tmp))
	}
	return err
}

func (a *atomicFile) publish() error {
	target := filepath.Join(a.dirRel, a.name)
	if a.tmp == "" {
		if !a.overwrite {
			return a.exists(linkUnnamed(a.File, a.dir.File, a.name))
		}
		// A rename replaces; it needs a name to rename from.
		for range 100 {
			tmp := tmpName(a.name)
			err := linkUnnamed(a.File, a.dir.File, tmp)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			if err != nil {
				return err
			}
			a.tmp = tmp
			break
		}
		if a.tmp == "" {
			return fmt.Errorf("%s: no free temporary name", Quote(a.display))
		}
	}
	tmp := filepath.Join(a.dirRel, a.tmp)
	if a.overwrite {
		return a.root.Rename(tmp, target)
	}
	err := a.root.Link(tmp, target)
	if err == nil {
		return a.root.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return a.exists(err)
	}
	// A file system without hard links: check, then rename.
	if _, serr := a.root.Lstat(target); serr == nil {
		return a.exists(fs.ErrExist)
	}
	return a.root.Rename(tmp, target)
}

// exists maps "file exists" to ErrExists naming the target.
func (a *atomicFile) exists(err error) error {
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", Quote(a.display), ErrExists)
	}
	return err
}

// abort removes the temporary file; the target is untouched. It is a no-op
// after commit.
func (a *atomicFile) abort() {
	if a.done {
		return
	}
	a.done = true
	a.Close()
	if a.tmp != "" {
		a.root.Remove(filepath.Join(a.dirRel, a.tmp))
	}
	a.dir.release()
}

// syncDir makes a link or rename in dir durable; errors are ignored as
// some file systems refuse fsync on directories.
func syncDir(dir *os.File) { dir.Sync() }

// staleTmpPID returns the PID in a named temporary file's name, or 0.
func staleTmpPID(name string) int {
	if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, tmpSuffix) {
		return 0
	}
	i := strings.LastIndex(name, tmpMark)
	if i < 0 {
		return 0
	}
	pid, _, ok := strings.Cut(name[i+len(tmpMark):], "-")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || n <= 0 {
		return 0
	}
	return n
}

// cleanStale removes from dirRel below root the named temporary files of
// processes that are gone: the PID in the name is not alive, no process
// holds the file's lock, and it is older than since. It reports each
// removal to notice.
func cleanStale(root *os.Root, dirRel string, since time.Time, notice func(string, ...any)) {
	d, err := root.Open(dirRel)
	if err != nil {
		return
	}
	ents, _ := d.ReadDir(-1)
	d.Close()
	for _, e := range ents {
		pid := staleTmpPID(e.Name())
		if pid == 0 || pid == os.Getpid() || !e.Type().IsRegular() || processAlive(pid) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(since) {
			continue
		}
		p := filepath.Join(dirRel, e.Name())
		if removeUnlocked(root, p) {
			notice("removed %s, a temporary file left by process %d, which has ended", Quote(filepath.Join(root.Name(), p)), pid)
		}
	}
}

// removeUnlocked removes the file p below root unless a process holds its
// lock (one in another PID namespace, say).
func removeUnlocked(root *os.Root, p string) bool {
	f, err := root.OpenFile(p, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if checkRegular(f, p) != nil {
		return false
	}
	if _, err := lockFile(f); err != nil {
		return false
	}
	return root.Remove(p) == nil
}
