package batch

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// openUnnamed opens an unnamed file in dir (O_TMPFILE): it has no name
// until linkUnnamed gives it one, so a killed process leaves nothing
// behind. It fails with errNoUnnamed where the file system refuses.
func openUnnamed(dir *os.File) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		return nil, errNoUnnamed
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: dir.Name(), Err: err}
	}
	return os.NewFile(uintptr(fd), dir.Name()), nil
}

// linkUnnamed gives the unnamed file f the name name in dir; it fails
// (with an error matching fs.ErrExist) if name exists. AT_EMPTY_PATH needs
// CAP_DAC_READ_SEARCH on older kernels; /proc/self/fd works without it.
func linkUnnamed(f, dir *os.File, name string) error {
	err := unix.Linkat(int(f.Fd()), "", int(dir.Fd()), name, unix.AT_EMPTY_PATH)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), int(dir.Fd()), name, unix.AT_SYMLINK_FOLLOW)
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: "(unnamed)", New: name, Err: err}
	}
	return nil
}

// startWriteback starts writing n bytes of f from off to disk and returns
// without waiting for them; errors in writing them show in the next fsync.
func startWriteback(f *os.File, off, n int64) error {
	return unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// syncFS writes back every dirty file of dir's file system (syncfs(2)).
func syncFS(dir *os.File) error {
	return unix.Syncfs(int(dir.Fd()))
}

// sameFileSystem reports whether a syncfs(2) of dir writes f back: false
// for a file below a mount point inside the destination (another file
// system), or one that cannot be looked at (its own fsync tells); true
// when dir cannot be (its syncfs tells).
func sameFileSystem(dir, f *os.File) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(dir.Fd()), &a) != nil {
		return true
	}
	return unix.Fstat(int(f.Fd()), &b) == nil && a.Dev == b.Dev
}

// syncFSReportsErrors reports whether syncfs(2) returns the write-back
// errors of the files it wrote, which Linux does since 5.8; before, it
// returned 0 whatever happened.
func syncFSReportsErrors() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	major, minor, ok := kernelVersion(unix.ByteSliceToString(u.Release[:]))
	return ok && (major > 5 || major == 5 && minor >= 8)
}

// kernelVersion parses the major and minor numbers of a release such as
// "6.1.0-18-amd64".
func kernelVersion(release string) (major, minor int, ok bool) {
	ma, rest, ok1 := strings.Cut(release, ".")
	mi, _, _ := strings.Cut(rest, ".")
	if i := strings.IndexFunc(mi, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		mi = mi[:i] // "8-rc1"
	}
	major, err1 := strconv.Atoi(ma)
	minor, err2 := strconv.Atoi(mi)
	return major, minor, ok1 && err1 == nil && err2 == nil
}
