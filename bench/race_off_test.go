//go:build !race

package bench

// raceEnabled reports whether the race detector is on: it slows streaming
// tenfold, so the 1 GiB memory test skips.
const raceEnabled = false
