package stream

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestOneShotOverlap: Seal, Open and OpenNonFramed refuse a dst whose
// spare capacity overlaps their input, in place included, with
// ErrBufferOverlap, no output and the input untouched. Without the check,
// frames sealed or opened on other goroutines panicked there
// (crypto/cipher's overlap check), which no caller can recover; serial
// ones panicked too, or sealed bytes the output had already overwritten.
func TestOneShotOverlap(t *testing.T) {
	nf := testConfig(t, 16, 1)
	nf.MessageID = nf.MessageID[:16]
	for _, workers := range []int{1, 2} {
		cfg := testConfig(t, 4096, workers)
		pt := streamPlaintext(1 << 20)
		body, err := Seal(nil, pt, cfg)
		if err != nil {
			t.Fatal(err)
		}
		single := nonFramedBody(nf, pt[:1000])
		seal := func(dst, in []byte) ([]byte, error) { return Seal(dst, in, cfg) }
		open := func(dst, in []byte) ([]byte, error) { out, _, err := Open(dst, in, cfg); return out, err }
		openNF := func(dst, in []byte) ([]byte, error) {
			out, _, err := OpenNonFramed(dst, in, nf, 1<<20)
			return out, err
		}
		for _, c := range []struct {
			name    string
			src     []byte
			op      func(dst, in []byte) ([]byte, error)
			dst, in func(b []byte) []byte // slices of a buffer holding src, with room after it
		}{
			{"Seal in place", pt, seal, func(b []byte) []byte { return b[:0] }, func(b []byte) []byte { return b }},
			{"Seal, dst's spare capacity on the input's tail", pt, seal, func(b []byte) []byte { return b[:100] }, func(b []byte) []byte { return b[200:] }},
			{"Open in place", body, open, func(b []byte) []byte { return b[:0] }, func(b []byte) []byte { return b }},
			{"Open, the input inside dst's spare capacity", body, open, func(b []byte) []byte { return b[:0:len(b)] }, func(b []byte) []byte { return b[100:] }},
			{"OpenNonFramed in place", single, openNF, func(b []byte) []byte { return b[:0] }, func(b []byte) []byte { return b }},
		} {
			b := append(make([]byte, 0, 3*len(c.src)), c.src...)
			var out []byte
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				out, err = c.op(c.dst(b), c.in(b))
			}()
			if !errors.Is(err, ErrBufferOverlap) || out != nil {
				t.Errorf("workers=%d %s: %d bytes, %v; want ErrBufferOverlap", workers, c.name, len(out), err)
			}
			if !bytes.Equal(b, c.src) {
				t.Errorf("workers=%d %s: the input changed", workers, c.name)
			}
		}
		// Output after the input, in the same buffer, is no overlap.
		b := append(make([]byte, 0, 3*len(pt)), pt...)
		if out, err := Seal(b, b, cfg); err != nil || !bytes.Equal(out[len(pt):], body) {
			t.Errorf("workers=%d: Seal after its input: %v", workers, err)
		}
	}
}
