package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"
)

// TestOpenNonFramed: OpenNonFramed opens what NewNonFramedReader reads,
// appends to dst, reports the body's length before a footer, and refuses
// every flipped bit and every cut with no plaintext.
func TestOpenNonFramed(t *testing.T) {
	cfg := testConfig(t, 16, 1)
	cfg.MessageID = cfg.MessageID[:16]
	for _, size := range []int{0, 1, 100} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			pt := streamPlaintext(size)
			body := nonFramedBody(cfg, pt)
			got, n, err := OpenNonFramed([]byte("pre"), append(bytes.Clone(body), "footer"...), cfg, 1<<20)
			if err != nil || n != len(body) || string(got) != "pre"+string(pt) {
				t.Fatalf("%q, %d, %v; want %d bytes", got, n, err, len(body))
			}
			if l, err := NonFramedLength(body, 1<<20); err != nil || l != len(body) {
				t.Fatalf("NonFramedLength: %d, %v", l, err)
			}
			for i := range body {
				bad := bytes.Clone(body)
				bad[i] ^= 0x10
				got, _, err := OpenNonFramed(nil, bad, cfg, 1<<20)
				if got != nil || !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformedBody) {
					t.Fatalf("byte %d: %d bytes, %v", i, len(got), err)
				}
			}
			for n := range len(body) {
				if got, _, err := OpenNonFramed(nil, body[:n], cfg, 1<<20); got != nil || !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut at %d: %d bytes, %v", n, len(got), err)
				}
			}
		})
	}
	t.Run("failure zeroes", func(t *testing.T) {
		body := nonFramedBody(cfg, bytes.Repeat([]byte{0xAA}, 64))
		body[len(body)-1] ^= 1
		buf := append(make([]byte, 0, 128), "keep"...)
		if _, _, err := OpenNonFramed(buf, body, cfg, 1<<20); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("%v, want ErrAuthentication", err)
		}
		if string(buf[:4]) != "keep" || bytes.IndexByte(buf[4:68], 0xAA) >= 0 {
			t.Fatalf("dst after a failure: %q", buf[:68])
		}
	})
}

// TestHostileOpenNonFramedLength: a declared content length beyond the
// limit fails with ErrMalformedBody, one beyond the input with
// ErrTruncated, both before any memory for the content is allocated.
func TestHostileOpenNonFramedLength(t *testing.T) {
	cfg := testConfig(t, 16, 1)
	cfg.MessageID = cfg.MessageID[:16]
	body := nonFramedBody(cfg, streamPlaintext(100))
	for _, tc := range []struct {
		name     string
		declared uint64
		max      int64
		want     error
	}{
		{"beyond the limit", 100, 99, ErrMalformedBody},
		{"beyond MaxNonFramedLength", MaxNonFramedLength + 1, 1 << 62, ErrMalformedBody},
		{"2^64-1", 1<<64 - 1, 1 << 62, ErrMalformedBody},
		{"beyond the input", 1 << 30, 1 << 31, ErrTruncated},
		{"one past the input", 101, 1 << 20, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(body)
			binary.BigEndian.PutUint64(bad[ivLen:], tc.declared)
			// The least of three calls: TotalAlloc counts every goroutine's
			// allocations, and another's (a collected Writer's cleanup, the
			// race detector's) can land in one call's window.
			least := uint64(math.MaxUint64)
			for range 3 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				got, n, err := OpenNonFramed(nil, bad, cfg, tc.max)
				runtime.ReadMemStats(&after)
				if got != nil || n != 0 || !errors.Is(err, tc.want) {
					t.Fatalf("%d bytes, %d, %v; want %v", len(got), n, err, tc.want)
				}
				least = min(least, after.TotalAlloc-before.TotalAlloc)
			}
			if least > 4096 {
				t.Fatalf("allocated %d bytes before refusing", least)
			}
		})
	}
}
