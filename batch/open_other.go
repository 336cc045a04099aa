//go:build !unix

package batch

const openNonblock = 0
