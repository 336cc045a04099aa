// Package alias tells where a slice lies in memory: whether an
// append-style call's output would land on its input, and a buffer's
// address, for alignment.
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
	a, b := Addr(spare), Addr(in)
	return a < b+uintptr(len(in)) && b < a+uintptr(len(spare))
}

// Addr is the address of p's first byte (of its array, if p is empty).
func Addr(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }
