package stream

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// TestHandOffsPerGroup: with several workers, frames reach the workers in
// groups of about Writer.group / Reader.group frames, in the steady state
// as at the start: a full ring is refilled a group at a time, never topped
// up one frame (one hand-off) at a time.
func TestHandOffsPerGroup(t *testing.T) {
	for _, frame := range []int{4 << 10, 64 << 10} {
		t.Run(fmt.Sprintf("frame=%d", frame), func(t *testing.T) {
			cfg := testConfig(t, frame, 2)
			pt := make([]byte, 200*frame+5)
			for _, feed := range []string{"write", "readfrom"} {
				var body bytes.Buffer
				w, _ := NewWriter(&body, cfg)
				var err error
				if feed == "write" {
					err = chunky(w, pt, 1) // small Writes: no writeBatch
				} else {
					_, err = w.ReadFrom(io.LimitReader(bytes.NewReader(pt), int64(len(pt))))
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				frames := 201
				if max := frames/w.group + 2; w.pool.sent > max {
					t.Errorf("writer %s: %d hand-offs for %d frames in groups of %d, want at most %d", feed, w.pool.sent, frames, w.group, max)
				}
				r, _ := NewReader(bytes.NewReader(body.Bytes()), cfg)
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("read back: %v", err)
				}
				if max := frames/r.group + 2; r.pool.sent > max {
					t.Errorf("reader: %d hand-offs for %d frames in groups of %d, want at most %d", r.pool.sent, frames, r.group, max)
				}
			}
		})
	}
}
