//go:build !race

package manifest

// raceEnabled reports whether the race detector is on. This package starts
// no goroutines, so tests that only measure time or memory skip under it,
// where they run 10 to 30 times slower and check nothing more.
const raceEnabled = false
