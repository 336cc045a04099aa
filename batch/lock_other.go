//go:build !unix

package batch

import "os"

// lockFile is a no-op where flock is not available.
func lockFile(*os.File) (func(), error) { return func() {}, nil }

// processAlive reports whether a process with this PID exists, as far as
// os.FindProcess can tell (on Windows it opens the process).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
