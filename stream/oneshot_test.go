package stream

import (
	"bytes"
	"fmt"
	"testing"
)

// TestOneShotChunks: Seal and Open work serially on bodies of at most
// 128 KiB whatever the workers and frames, and give each worker two
// chunks of 128 to 256 KiB of a larger body.
func TestOneShotChunks(t *testing.T) {
	for _, tc := range []struct {
		n, F, workers int
		serial        bool
		chunks        int // when not serial
	}{
		{1 << 10, 4 << 10, 2, true, 0},
		{128 << 10, 4 << 10, 8, true, 0},
		{128 << 10, 64 << 10, 2, true, 0},
		{128<<10 + 1, 4 << 10, 2, false, 2},
		{512 << 10, 64 << 10, 2, false, 4},
		{512 << 10, 4 << 10, 2, false, 4},
		{1 << 20, 64 << 10, 2, false, 4},
		{1 << 20, 4 << 10, 4, false, 8},
		{64 << 20, 64 << 10, 2, false, 256},
		{1 << 20, 1 << 20, 2, true, 0},
	} {
		s, err := sealedShape(int64(tc.n), tc.F)
		if err != nil {
			t.Fatal(err)
		}
		per := oneShotChunk(tc.F, s.size(), tc.workers)
		serial := oneShotSerial(s, per, tc.workers)
		chunks := (int(s.frames()) + per - 1) / per
		if serial != tc.serial || !serial && chunks != tc.chunks {
			t.Errorf("%d bytes, %d-byte frames, %d workers: serial %v, %d chunks of %d frames; want serial %v, %d chunks",
				tc.n, tc.F, tc.workers, serial, chunks, per, tc.serial, tc.chunks)
		}
	}
	// A body of others' making: 128 KiB in full frames, then an empty
	// final frame.
	s, err := shapeOf(32*(4<<10+RegularOverhead)+FinalOverhead, 4<<10)
	if err != nil || s.frames() != 33 {
		t.Fatalf("shape %+v, %v", s, err)
	}
	if !oneShotSerial(s, oneShotChunk(4<<10, s.size(), 2), 2) {
		t.Error("128 KiB and an empty final frame: not serial")
	}
}

// TestOneShotWorkersAgree: Seal and Open give the same bytes for any
// workers across the chunk boundaries.
func TestOneShotWorkersAgree(t *testing.T) {
	for _, n := range []int{128 << 10, 128<<10 + 1, 300 << 10, 1<<20 + 17} {
		pt := streamPlaintext(n)
		one, err := Seal(nil, pt, testConfig(t, 4<<10, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{2, 3, 8} {
			cfg := testConfig(t, 4<<10, w)
			got, err := Seal(nil, pt, cfg)
			if err != nil || !bytes.Equal(got, one) {
				t.Fatalf("%d bytes, %d workers: Seal differs: %v", n, w, err)
			}
			back, m, err := Open([]byte("x"), got, cfg)
			if err != nil || m != len(got) || !bytes.Equal(back[1:], pt) {
				t.Fatalf("%d bytes, %d workers: Open: %v", n, w, err)
			}
		}
	}
}

// BenchmarkSealWorkers seals bodies of 192 KiB to 1 MiB (64 KiB frames)
// with 1 and 2 workers into a reused buffer: 2 workers should never be
// slower than 1. They were, from 192 to 512 KiB, while the caller sealed
// chunks itself beside the goroutine it started (see run).
func BenchmarkSealWorkers(b *testing.B) {
	for _, n := range []int{192 << 10, 256 << 10, 512 << 10, 1 << 20} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("size=%dKiB/workers=%d", n>>10, w), func(b *testing.B) {
				cfg := testConfig(b, 64<<10, w)
				pt := make([]byte, n)
				var out []byte
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if out, err = Seal(out[:0], pt, cfg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
