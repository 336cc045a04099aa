// Package cli is the s3crypt command's printing and flag parsing: the
// progress display, size and key=value flags, and the demo. The work itself
// is package batch's.
//
// # Progress
//
// --progress auto (the default) draws a bar on stderr when it is a
// terminal and otherwise, so that logs and pipelines see progress too,
// writes a plain line every --progress-interval (default 10s):
//
//	s3crypt: progress: 120/500 inputs done (1 failed, 3 skipped), 1.2 GiB / 4.0 GiB read, 35.1 MiB/s, 40s elapsed
//
// (the counts and sizes after "/" only when known). --progress bar, lines
// or none choose; --quiet means none unless --progress names a display.
package cli
