//go:build !linux

package main

import (
	"os"
	"path/filepath"
)

// openTemp opens a named temporary file in dir; publish renames it name.
func openTemp(dir *os.File, name string) (*os.File, func() error, error) {
	f, err := os.CreateTemp(dir.Name(), "."+name+".tmp*")
	if err != nil {
		return nil, nil, err
	}
	return f, func() error {
		if err := f.Sync(); err != nil {
			return err
		}
		return os.Rename(f.Name(), filepath.Join(dir.Name(), name))
	}, nil
}

func syncFS(*os.File) error { return nil }

func startWriteback(*os.File, int64, int64) {}

// refusesExisting: publishing replaces an existing name.
const refusesExisting = false
