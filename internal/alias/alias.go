// Package alias tells whether an append-style call's output would land on
// its input.
package alias

import "unsafe"

// SpareOverlaps reports whether dst's spare capacity, dst[len(dst):cap(dst)],
// shares memory with in: where output appended to dst could overwrite
// input not yet read. In place (dst = in[:0]) is an overlap.
func SpareOverlaps(dst, in []byte) bool {
	spare := dst[len(dst):cap(dst)]
	if len(spare) == 0 || len(in) == 0 {
		return false
	}
	a, b := addr(spare), addr(in)
	return a < b+uintptr(len(in)) && b < a+uintptr(len(spare))
}

func addr(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }
