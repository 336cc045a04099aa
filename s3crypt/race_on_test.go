//go:build race

package s3crypt_test

// raceEnabled reports whether the race detector is on: under it sync.Pool
// drops a share of what is put back on purpose, so reuse is not measurable.
const raceEnabled = true
