//go:build !linux

package batch

import (
	"errors"
	"os"
)

// openUnnamed: unnamed files are Linux only; elsewhere a named temporary
// file is used.
func openUnnamed(*os.File) (*os.File, error) { return nil, errNoUnnamed }

func linkUnnamed(_, _ *os.File, _ string) error { return errNoUnnamed }

// startWriteback: sync_file_range(2) is Linux only; elsewhere commit's
// fsync writes the whole file.
func startWriteback(*os.File, int64, int64) error { return nil }

// syncFS: syncfs(2) is Linux only; elsewhere each file is fsync'd.
func syncFS(*os.File) error { return errors.ErrUnsupported }

func syncFSReportsErrors() bool { return false }

func sameFileSystem(_, _ *os.File) bool { return false }
