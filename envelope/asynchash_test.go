package envelope

import (
	"bytes"
	"crypto/sha512"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestAsyncHash: any sequence of writes hashes to the digest of their
// concatenation, including after Reset, and buffers written are not kept.
func TestAsyncHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 20*asyncHashChunk+123)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for _, n := range []int{0, 1, asyncHashChunk - 1, asyncHashChunk, asyncHashChunk + 1, 5 * asyncHashChunk, len(data)} {
		for _, maxWrite := range []int{1 << 10, asyncHashChunk + 7, 3 * asyncHashChunk} {
			if n > 3*asyncHashChunk && maxWrite == 1<<10 {
				continue
			}
			a := newAsyncHash(sha512.New384())
			scratch := make([]byte, maxWrite)
			for p := data[:n]; len(p) > 0; {
				k := min(len(p), 1+r.IntN(maxWrite))
				copy(scratch, p[:k])
				a.Write(scratch[:k])
				clear(scratch) // the caller may reuse its buffer at once
				p = p[k:]
			}
			want := sha512.Sum384(data[:n])
			if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Fatalf("%d bytes in writes ≤ %d: digest differs", n, maxWrite)
			}
			a.Reset()
			a.Write(data[:n])
			if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Fatalf("%d bytes after Reset: digest differs", n)
			}
		}
	}
}

// A small message's hash buffers follow its size: a 4 KiB message does
// not allocate a 64 KiB chunk (it did, per signed object of a bucket job).
func TestAsyncHashSmallAllocates(t *testing.T) {
	p := make([]byte, 4<<10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 100
	for range n {
		a := newAsyncHash(sha512.New384())
		a.Write(p[:100])
		a.Write(p)
		a.Sum(nil)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 16<<10 {
		t.Fatalf("%d bytes allocated per 4 KiB message, want < 16 KiB", per)
	}
}
