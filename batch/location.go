package batch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
)

// EncSuffix is added to a name on encrypt and removed on decrypt.
const EncSuffix = ".enc"

// ErrUsage reports arguments that cannot work together.
var ErrUsage = errors.New("usage")

type locKind int

const (
	locLocal locKind = iota
	locStdio
	locS3
)

// location is a parsed SRC or DST argument.
type location struct {
	kind   locKind
	path   string // local path
	bucket string // s3
	key    string // s3 key or prefix
}

func parseLocation(s string) (location, error) {
	switch {
	case s == "-":
		return location{kind: locStdio}, nil
	case strings.HasPrefix(s, "s3://"):
		rest := strings.TrimPrefix(s, "s3://")
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return location{}, fmt.Errorf("%w: %q names no bucket", ErrUsage, s)
		}
		return location{kind: locS3, bucket: bucket, key: key}, nil
	case s == "":
		return location{}, fmt.Errorf("%w: empty path", ErrUsage)
	}
	return location{kind: locLocal, path: s}, nil
}

func (l location) String() string {
	switch l.kind {
	case locStdio:
		return "-"
	case locS3:
		return "s3://" + l.bucket + "/" + l.key
	}
	return l.path
}

// item is one input: a file, an object, or stdin.
type item struct {
	name string // as shown to the user and written to the audit log
	rel  string // slash-separated path below the source root; base name for a single input
	size int64  // -1 when unknown
	path string // S3 key, local path, or (viaRoot) the name below the source's root
	// viaRoot: path is opened through the source's os.Root, which refuses
	// to leave the source directory, symbolic links included.
	viaRoot bool
	fi      fs.FileInfo // a local file's, to recognise it as an output; else nil
	// bucket and version, for an S3 object: path is its key.
	bucket  string
	version *string
}

// source lists and opens inputs. Its listing streams: a source holds no
// more than the page (S3) or directory (local) it is reading, so that a
// source of a manifest, say, is one more implementation of list.
type source interface {
	// single reports whether the source is one input (a file, an object,
	// stdin) rather than a tree (a directory, a prefix). It is called
	// once, before list, and fails for a source that does not exist.
	single(ctx context.Context) (bool, error)
	// list calls yield with each input whose rel keep keeps, in listing
	// order, as it is listed, and stops at yield's first error, which it
	// returns. skipped counts the names keep refused and the entries that
	// are not regular files.
	list(ctx context.Context, keep func(rel string) bool, yield func(item) error) (skipped int, err error)
	open(ctx context.Context, it item) (io.ReadCloser, error)
}

// output is where one result is written. Nothing is visible under its
// final name before commit; abort (a no-op after commit) removes all trace.
type output interface {
	io.Writer
	commit() error
	abort()
}

// sink creates outputs.
type sink interface {
	// target maps an input to its output: name as shown (rel joined to the
	// sink's root for a tree; for a single input, the sink itself, or rel
	// inside it when it is a directory or prefix) and where it is below the
	// sink's root. It refuses a rel that is not a plain relative path
	// (ErrUnsafeName).
	target(rel string, single bool) (name, below string, err error)
	create(ctx context.Context, name, below string, in item, overwrite bool) (output, error)
	// complete reports whether the output named name exists and is whole,
	// for --skip-existing: an op's output that a rerun need not write.
	// suite, if not 0, is the suite an encrypted output must use.
	complete(ctx context.Context, name string, op Op, suite envelope.SuiteID) (bool, error)
}

// ErrUnsafeName reports an input whose name is no plain relative path
// ("..", an absolute path, an empty or "." segment, a NUL byte), so that
// its output could land outside the destination.
var ErrUnsafeName = errors.New("name is not a plain relative path")

// ErrSameOutput reports inputs whose names map to the same output.
var ErrSameOutput = errors.New("another input has the same output")

// checkRel refuses a slash-separated name that is not plain and local.
func checkRel(rel string) error {
	ok := rel != "" && !strings.ContainsRune(rel, 0) && filepath.IsLocal(filepath.FromSlash(rel))
	for seg := range strings.SplitSeq(rel, "/") {
		ok = ok && seg != "" && seg != "." && seg != ".."
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnsafeName, Quote(rel))
	}
	return nil
}

// notifier prints notices, one line each, to w (nil: nowhere), each
// after prefix ("": "s3crypt: notice: ").
type notifier struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (n *notifier) printf(format string, args ...any) {
	if n == nil || n.w == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.w, cmp.Or(n.prefix, "s3crypt: notice: ")+format+"\n", args...)
}

// --- local files ---

// localSource is a file or a directory. A directory is read through an
// os.Root: no name, and no symbolic link, leads out of it unless
// follow is set and the link was listed as leading out.
type localSource struct {
	root   string
	follow bool
	notes  *notifier
	file   fs.FileInfo // the root's, when it is a file (set by single)
	r      *os.Root    // for a directory, once listed
}

func (s *localSource) single(context.Context) (bool, error) {
	fi, err := os.Stat(s.root)
	switch {
	case err != nil:
		return false, err
	case fi.IsDir():
		return false, nil
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s: not a regular file or directory", s.root)
	}
	s.file = fi
	return true, nil
}

// maxTreeDepth is the most directories deep a local source is walked:
// each directory is opened from the root, one name at a time, so a chain
// of n costs n²/2 opens; a deeper one (no real tree is, 4096-byte paths
// hold ~2,000 levels) fails the listing with ErrTreeTooDeep.
const maxTreeDepth = 256

// ErrTreeTooDeep reports a local source holding a directory more than
// maxTreeDepth directories below its root.
var ErrTreeTooDeep = errors.New("directory tree too deep")

// list walks the directory in lexical order (each directory's entries are
// read whole to sort them) or yields the file.
func (s *localSource) list(ctx context.Context, keep func(string) bool, yield func(item) error) (int, error) {
	if s.file != nil {
		return 0, yield(item{name: s.root, rel: filepath.Base(s.root), size: s.file.Size(), path: s.root, fi: s.file})
	}
	var err error
	if s.r, err = os.OpenRoot(s.root); err != nil {
		return 0, err
	}
	realRoot, err := realPath(s.root)
	if err != nil {
		return 0, err
	}
	skipped := 0
	err = fs.WalkDir(s.r.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // an interrupt stops the walk, not only what it yields
		}
		if d.IsDir() && strings.Count(rel, "/") >= maxTreeDepth {
			return fmt.Errorf("%s: more than %d directories deep: %w", Quote(filepath.Join(s.root, filepath.FromSlash(rel))), maxTreeDepth, ErrTreeTooDeep)
		}
		if d.IsDir() || !keep(rel) {
			if !d.IsDir() {
				skipped++
			}
			return nil
		}
		it := item{name: filepath.Join(s.root, filepath.FromSlash(rel)), rel: rel, path: filepath.FromSlash(rel), viaRoot: true}
		if d.Type()&fs.ModeSymlink != 0 {
			if !s.resolve(realRoot, &it) {
				skipped++
				return nil
			}
		}
		switch {
		case d.Type()&fs.ModeSymlink == 0:
			it.fi, err = d.Info() // read with the directory: no walk from the root
		case it.viaRoot:
			it.fi, err = s.r.Stat(it.path)
		default:
			it.fi, err = os.Stat(it.path)
		}
		if err != nil || !it.fi.Mode().IsRegular() {
			s.notes.printf("skipped %s: not a regular file", Quote(it.name))
			skipped++
			return nil
		}
		it.size = it.fi.Size()
		return yield(it)
	})
	return skipped, err
}

// resolve points it, a symbolic link, at its target: a name below the root
// when the target is inside realRoot (the root's real path), else, with
// follow, the target's path. It reports false (after a notice) for a link
// that leads out without follow, and for a dangling one.
func (s *localSource) resolve(realRoot string, it *item) bool {
	t, err := realPath(it.name)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		// Not resolvable by its absolute path (one past PATH_MAX, say):
		// read through the root, which follows a link only within it.
		return true
	case err != nil:
		s.notes.printf("skipped %s: a symbolic link that leads nowhere", Quote(it.name))
		return false
	}
	if rel, err := filepath.Rel(realRoot, t); err == nil && filepath.IsLocal(rel) {
		it.path = rel
		return true
	}
	if !s.follow {
		s.notes.printf("skipped %s: a symbolic link to %s, outside %s (--follow-symlinks follows it)", Quote(it.name), Quote(t), Quote(s.root))
		return false
	}
	it.path, it.viaRoot = t, false
	return true
}

// realPath is p, absolute, without symbolic links.
func realPath(p string) (string, error) {
	p, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

func (s *localSource) open(_ context.Context, it item) (io.ReadCloser, error) {
	var f *os.File
	var err error
	if it.viaRoot {
		f, err = s.r.OpenFile(it.path, os.O_RDONLY|openNonblock, 0)
	} else {
		f, err = os.OpenFile(it.path, os.O_RDONLY|openNonblock, 0)
	}
	if err != nil {
		return nil, err
	}
	if err := checkRegular(f, it.path); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkRegular fails with ErrInputChanged unless f, opened as name, is a
// regular file: the listing saw one, and a FIFO or device would block a
// read, or never end.
func checkRegular(f *os.File, name string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is now %s, not a regular file: %w", Quote(name), fi.Mode().Type(), ErrInputChanged)
	}
	return nil
}

func (s *localSource) close() {
	if s.r != nil {
		s.r.Close()
	}
}

// localSink writes below an os.Root at dir: a name that would leave it,
// through ".." or a symbolic link, fails.
type localSink struct {
	path  string // as given
	dir   string // the root: path, or its parent for a single output file (set by target)
	isDir bool   // path is an existing directory or ends in a separator
	named bool   // named temporary files only (tests)
	start time.Time
	notes *notifier

	once    sync.Once
	root    *os.Root
	rootErr error
	group   *groupCommit
	dirs    *outDirs

	mu        sync.Mutex
	scanned   map[string]bool // directories cleaned of stale temporary files
	keepStale bool            // clean none: the destination is the source
	audit     fs.FileInfo     // the run's audit log, if a local file: never replaced
}

func newLocalSink(path string, notes *notifier) *localSink {
	fi, err := os.Stat(path)
	isDir := (err == nil && fi.IsDir()) || strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator))
	return &localSink{path: path, dir: path, isDir: isDir, start: time.Now(), notes: notes, scanned: map[string]bool{}}
}

// mkdirAllDurable is os.MkdirAll(dir, 0700) that then syncs the parent
// of each directory it created, so that the destination's path is as
// durable as the outputs reported done in it.
func mkdirAllDurable(dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if f, err := os.Open(filepath.Dir(d)); err == nil {
			syncDir(f)
			f.Close()
		}
	}
	return nil
}

// flush closes the root; every output committed is durable already.
func (s *localSink) flush() {
	if s.root != nil {
		if s.group.fs != nil {
			s.group.fs.Close()
		}
		s.root.Close()
	}
}

func (s *localSink) target(rel string, single bool) (string, string, error) {
	if single && !s.isDir {
		s.dir = filepath.Dir(s.path)
		return s.path, filepath.Base(s.path), nil
	}
	if err := checkRel(rel); err != nil {
		return "", "", err
	}
	below := filepath.FromSlash(rel)
	return filepath.Join(s.path, below), below, nil
}

// complete reports whether a regular file exists at name: local outputs
// appear only whole (linked or renamed into place after fsync).
func (s *localSink) complete(_ context.Context, name string, _ Op, _ envelope.SuiteID) (bool, error) {
	if _, err := os.Lstat(s.dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil // nothing is complete, and a dry run creates nothing
	}
	root, err := s.open()
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(s.dir, name)
	if err != nil {
		return false, err
	}
	// Through the root, as the output would be written: a link leading
	// out of the destination is an error there, not a complete output.
	fi, err := root.Lstat(rel)
	switch {
	case err == nil:
		return fi.Mode().IsRegular(), nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// open creates the root directory and opens it, once.
func (s *localSink) open() (*os.Root, error) {
	s.once.Do(func() {
		if s.rootErr = mkdirAllDurable(s.dir); s.rootErr == nil {
			s.root, s.rootErr = os.OpenRoot(s.dir)
		}
		if s.rootErr == nil {
			s.dirs = newOutDirs(s.root)
			s.dirs.audit = s.audit
			s.group = &groupCommit{}
			if syncFSReportsErrors() {
				s.group.fs, _ = s.root.Open(".") // nil on failure: fsync each file
			}
		}
	})
	return s.root, s.rootErr
}

func (s *localSink) create(_ context.Context, name, below string, in item, overwrite bool) (output, error) {
	root, err := s.open()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(below)
	s.mu.Lock()
	if !s.scanned[dir] && !s.keepStale {
		s.scanned[dir] = true
		cleanStale(root, dir, s.start, s.notes.printf)
	}
	s.mu.Unlock()
	a, err := createAtomic(s.dirs, below, name, in.fi, overwrite, s.named)
	if err != nil {
		return nil, err
	}
	a.group = s.group
	return a, nil
}

// --- stdin and stdout ---

type stdinSource struct{ r io.Reader }

func (stdinSource) single(context.Context) (bool, error) { return true, nil }

func (stdinSource) list(_ context.Context, _ func(string) bool, yield func(item) error) (int, error) {
	return 0, yield(item{name: "-", rel: "stdin", size: -1})
}

func (s stdinSource) open(context.Context, item) (io.ReadCloser, error) {
	return io.NopCloser(s.r), nil
}

// stdoutSink writes to w. With spool set (decrypt), the result goes first
// to an unlinked temporary file and is copied to w only on commit, so a
// message that fails verification writes nothing to w.
type stdoutSink struct {
	w     io.Writer
	spool bool
}

func (stdoutSink) target(string, bool) (string, string, error) { return "-", "", nil }

// complete is false: what stdout received before cannot be known.
func (stdoutSink) complete(context.Context, string, Op, envelope.SuiteID) (bool, error) {
	return false, nil
}

func (s stdoutSink) create(context.Context, string, string, item, bool) (output, error) {
	if !s.spool {
		return directOutput{s.w}, nil
	}
	f, err := os.CreateTemp("", "s3crypt-spool-*")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the plaintext has no name and vanishes with the
	// file descriptor, even if the process is killed.
	os.Remove(f.Name())
	return &spoolOutput{f: f, w: s.w}, nil
}

type directOutput struct{ io.Writer }

func (directOutput) commit() error { return nil }
func (directOutput) abort()        {}

type spoolOutput struct {
	f    *os.File
	w    io.Writer
	done bool
}

func (s *spoolOutput) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *spoolOutput) commit() error {
	s.done = true
	defer s.f.Close()
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(s.w, s.f)
	return err
}

func (s *spoolOutput) abort() {
	if !s.done {
		s.done = true
		s.f.Close()
	}
}

// --- name filters ---

// Filter is one --include (Exclude false) or --exclude of a run, as in
// aws s3 cp and sync: every name starts included, each filter whose Glob
// matches it includes or excludes it, in order, and the last match wins,
// so that "--exclude '*' --include '*.csv'" keeps the CSV files only.
//
// Glob is matched against the whole slash-separated path below the source
// (a single input: its base name) as Python's fnmatch, which aws s3 uses:
// "*" matches any characters, "/" included; "?" any one character;
// "[seq]" and "[!seq]" a character in seq or not, "a-z" a range; there is
// no escape character (match a literal "*" with "[*]").
type Filter struct {
	Exclude bool
	Glob    string
}

// filters decide which relative paths a run keeps: the ordered Filters,
// then the older Include/Exclude globs (legacy), both of which must keep a
// name.
type filters struct {
	ordered []globFilter
	legacy  legacyFilter
	n       int // len(ordered) + legacy globs: 0 keeps everything
}

type globFilter struct {
	exclude bool
	re      *regexp.Regexp
}

// newFilters compiles fs and the legacy include/exclude globs, refusing a
// legacy glob that path.Match cannot parse (the ordered ones always parse).
func newFilters(fs []Filter, include, exclude []string) (*filters, error) {
	f := &filters{legacy: legacyFilter{include: include, exclude: exclude}, n: len(fs) + len(include) + len(exclude)}
	if err := f.legacy.validate(); err != nil {
		return nil, err
	}
	for _, g := range fs {
		re, err := globRegexp(g.Glob)
		if err != nil {
			return nil, fmt.Errorf("%w: glob %s: %v", ErrUsage, Quote(g.Glob), err)
		}
		f.ordered = append(f.ordered, globFilter{exclude: g.Exclude, re: re})
	}
	return f, nil
}

func (f *filters) keep(rel string) bool {
	ok := true
	for _, g := range f.ordered {
		if g.re.MatchString(rel) {
			ok = !g.exclude
		}
	}
	return ok && f.legacy.keep(rel)
}

// globRegexp translates an fnmatch glob into an anchored regular
// expression, as Python's fnmatch.translate does.
func globRegexp(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	rs := []rune(glob)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			// The class ends at the next "]", not counting one right
			// after "[" or "[!"; without an end, "[" is literal.
			j := i + 1
			if j < len(rs) && rs[j] == '!' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(globClass(rs[i+1 : j]))
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`\z`)
	return regexp.Compile(b.String())
}

// globClass translates the inside of a glob's [...]: a leading "!"
// negates, "a-z" is a range (a reversed one is dropped), all else literal.
func globClass(rs []rune) string {
	neg := len(rs) > 0 && rs[0] == '!'
	if neg {
		rs = rs[1:]
	}
	var b strings.Builder
	for i := 0; i < len(rs); i++ {
		lo, hi := rs[i], rs[i]
		if i+2 < len(rs) && rs[i+1] == '-' {
			hi = rs[i+2]
			i += 2
		}
		if lo <= hi {
			fmt.Fprintf(&b, `\x{%x}-\x{%x}`, lo, hi)
		}
	}
	switch {
	case b.Len() == 0 && neg:
		return "."
	case b.Len() == 0:
		return `[^\x00-\x{10ffff}]` // matches nothing
	case neg:
		return "[^" + b.String() + "]"
	}
	return "[" + b.String() + "]"
}

// legacyFilter is Options.Include and Exclude: it keeps the relative paths
// matched by an include glob (all when there is none) and by no exclude
// glob. A glob without "/" matches the base name at any depth; one with
// "/" matches the whole relative path (path.Match).
type legacyFilter struct{ include, exclude []string }

func (f legacyFilter) validate() error {
	for _, g := range append(append([]string{}, f.include...), f.exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("%w: glob %q: %v", ErrUsage, g, err)
		}
	}
	return nil
}

func (f legacyFilter) keep(rel string) bool {
	if len(f.include) > 0 && !matchAny(f.include, rel) {
		return false
	}
	return !matchAny(f.exclude, rel)
}

func matchAny(globs []string, rel string) bool {
	base := path.Base(rel)
	for _, g := range globs {
		name := base
		if strings.Contains(g, "/") {
			name = rel
		}
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// ParsePairs parses "key=value" strings (flags, or a list from the
// environment) into a map, refusing empty keys and a key given twice;
// name (a flag or a variable) names them in errors, which wrap ErrUsage.
func ParsePairs(name string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: %s %s: want key=value", ErrUsage, name, Quote(kv))
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%w: %s: key %s given twice", ErrUsage, name, Quote(k))
		}
		m[k] = v
	}
	return m, nil
}
