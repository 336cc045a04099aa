//go:build unix

package batch

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f, failing at once if another
// process holds it.
func lockFile(f *os.File) (func(), error) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }, nil
}

// processAlive reports whether a process with this PID exists (EPERM: it
// exists but belongs to someone else).
func processAlive(pid int) bool {
	if pid <= 0 {
		return true // 0 and negative PIDs name process groups
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
