//go:build unix

package batch

import "syscall"

// openNonblock opens without blocking on a FIFO or device: an input listed
// as a regular file may have been replaced by one since.
const openNonblock = syscall.O_NONBLOCK
