//go:build !unix

package cli

import "os"

// lockFile is a no-op where flock is not available.
func lockFile(*os.File) (func(), error) { return func() {}, nil }
