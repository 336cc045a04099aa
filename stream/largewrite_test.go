package stream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestWriterLargeWrites: Writes of several rings of whole frames (alone,
// after buffered bytes and frames in flight, or of random sizes), sealed
// straight from p, give the serial writer's bytes, and p may be reused
// once Write returned.
func TestWriterLargeWrites(t *testing.T) {
	for _, frame := range []int{100, 4096, 300 << 10} {
		for _, workers := range []int{2, 3} {
			ring := workers * slotsPerWorker(frame) * frame
			size := 3*ring + 7
			pt := make([]byte, size)
			for i := range pt {
				pt[i] = byte(i * 7)
			}
			var want bytes.Buffer
			serial, _ := NewWriter(&want, testConfig(t, frame, 1))
			serial.Write(pt)
			serial.Close()
			rng := rand.New(rand.NewPCG(uint64(frame), uint64(workers)))
			for _, feed := range []string{"one write", "small then large", "random large writes"} {
				t.Run(fmt.Sprintf("frame=%d/workers=%d/%s", frame, workers, feed), func(t *testing.T) {
					var got bytes.Buffer
					w, err := NewWriter(&got, testConfig(t, frame, workers))
					if err != nil {
						t.Fatal(err)
					}
					p := bytes.Clone(pt)
					switch feed {
					case "one write":
					case "small then large":
						w.Write(p[:frame+3]) // a frame in flight and 3 bytes buffered
						clear(p[:frame+3])
						p = p[frame+3:]
					case "random large writes":
						for len(p) > 0 {
							n := min(len(p), 1+rng.IntN(2*ring))
							w.Write(p[:n])
							clear(p[:n]) // Write retains nothing
							p = p[n:]
						}
					}
					if _, err := w.Write(p); err != nil {
						t.Fatal(err)
					}
					clear(p)
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got.Bytes(), want.Bytes()) {
						t.Fatal("output differs from the serial writer's")
					}
				})
			}
		}
	}
}
