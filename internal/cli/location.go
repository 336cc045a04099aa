package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
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
	path string // local path or S3 key
}

// source lists and opens inputs.
type source interface {
	// list returns the inputs and whether the source is a single input
	// (a file, an object, stdin) rather than a tree.
	list(ctx context.Context, keep func(rel string) bool) (items []item, single bool, skipped int, err error)
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
	// target maps an input to its output name: for a tree, rel joined to
	// the sink's root; for a single input, the sink itself, or name inside
	// it when it is a directory or prefix.
	target(rel string, single bool) (string, error)
	create(ctx context.Context, target string, in item, overwrite bool) (output, error)
}

// --- local files ---

type localSource struct{ root string }

func (s localSource) list(_ context.Context, keep func(string) bool) ([]item, bool, int, error) {
	fi, err := os.Stat(s.root)
	if err != nil {
		return nil, false, 0, err
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return nil, false, 0, fmt.Errorf("%s: not a regular file or directory", s.root)
		}
		return []item{{name: s.root, rel: filepath.Base(s.root), size: fi.Size(), path: s.root}}, true, 0, nil
	}
	var items []item
	skipped := 0
	err = filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := os.Stat(p) // follows a link to a file
		if err != nil || !fi.Mode().IsRegular() || !keep(rel) {
			skipped++
			return nil
		}
		items = append(items, item{name: p, rel: rel, size: fi.Size(), path: p})
		return nil
	})
	return items, false, skipped, err
}

func (localSource) open(_ context.Context, it item) (io.ReadCloser, error) {
	return os.Open(it.path)
}

type localSink struct {
	root  string
	isDir bool // root is an existing directory or ends in a separator
	dirs  *dirSet
}

func newLocalSink(root string) localSink {
	fi, err := os.Stat(root)
	dir := (err == nil && fi.IsDir()) || strings.HasSuffix(root, "/") || strings.HasSuffix(root, string(filepath.Separator))
	return localSink{root: root, isDir: dir, dirs: &dirSet{}}
}

// flush fsyncs the directories of the outputs committed so far.
func (s localSink) flush() { s.dirs.sync() }

func (s localSink) target(rel string, single bool) (string, error) {
	if single && !s.isDir {
		return s.root, nil
	}
	return filepath.Join(s.root, filepath.FromSlash(rel)), nil
}

func (s localSink) create(_ context.Context, target string, in item, overwrite bool) (output, error) {
	input := ""
	if in.name != "-" && !strings.HasPrefix(in.name, "s3://") {
		input = in.path
	}
	a, err := createAtomic(target, input, overwrite)
	if err != nil {
		return nil, err
	}
	a.dirs = s.dirs
	return a, nil
}

// --- stdin and stdout ---

type stdinSource struct{ r io.Reader }

func (stdinSource) list(context.Context, func(string) bool) ([]item, bool, int, error) {
	return []item{{name: "-", rel: "stdin", size: -1}}, true, 0, nil
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

func (stdoutSink) target(string, bool) (string, error) { return "-", nil }

func (s stdoutSink) create(context.Context, string, item, bool) (output, error) {
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

// filter keeps the relative paths matched by an include glob (all when
// there is none) and by no exclude glob. A glob without "/" matches the
// base name at any depth; one with "/" matches the whole relative path.
type filter struct{ include, exclude []string }

func (f filter) validate() error {
	for _, g := range append(append([]string{}, f.include...), f.exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("%w: glob %q: %v", ErrUsage, g, err)
		}
	}
	return nil
}

func (f filter) keep(rel string) bool {
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
