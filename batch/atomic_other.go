//go:build !linux

package batch

import "os"

// openUnnamed: unnamed files are Linux only; elsewhere a named temporary
// file is used.
func openUnnamed(*os.File) (*os.File, error) { return nil, errNoUnnamed }

func linkUnnamed(_, _ *os.File, _ string) error { return errNoUnnamed }
