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

// syncFS: syncfs(2) is Linux only; elsewhere each file is fsync'd.
func syncFS(*os.File) error { return errors.ErrUnsupported }

func syncFSReportsErrors() bool { return false }
