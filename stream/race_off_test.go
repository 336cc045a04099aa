//go:build !race

package stream

// raceEnabled reports whether the race detector is on: sync.Pool then
// drops some of what is put in it, so reuse is checked without it.
const raceEnabled = false
