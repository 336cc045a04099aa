package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// openTemp opens an unnamed file in dir; publish links it as name.
func openTemp(dir *os.File, name string) (*os.File, func() error, error) {
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open O_TMPFILE", Path: dir.Name(), Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	return f, func() error {
		return unix.Linkat(int(f.Fd()), "", int(dir.Fd()), name, unix.AT_EMPTY_PATH)
	}, nil
}

func syncFS(dir *os.File) error { return unix.Syncfs(int(dir.Fd())) }

// startWriteback starts writing n bytes of f from off to disk, not
// waiting.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// refusesExisting: publishing fails on an existing name (linkat).
const refusesExisting = true
