package stream

import "unsafe"

// addr is the address of p's first byte.
func addr(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }
