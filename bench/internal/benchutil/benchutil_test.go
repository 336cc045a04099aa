package benchutil

import (
	"bytes"
	"slices"
	"testing"
)

// TestBaselineRoundTrip checks that the baseline opens what it seals and
// rejects a flipped bit, so it measures real work.
func TestBaselineRoundTrip(t *testing.T) {
	g := NewGCMBaseline(t, 4*KiB)
	for _, n := range []int{1, 4 * KiB, 100 * KiB} {
		pt := Payload(n)
		chunks := g.Chunks(pt)
		if want := (n + 4*KiB - 1) / (4 * KiB); len(chunks) != want {
			t.Fatalf("%d bytes: %d chunks, want %d", n, len(chunks), want)
		}
		if err := g.Open(chunks); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		last := chunks[len(chunks)-1]
		if got := g.Seal(pt); !bytes.Equal(got, last) {
			t.Fatalf("%d bytes: Seal and Chunks differ", n)
		}
		last[0] ^= 1
		if err := g.Open(chunks); err == nil {
			t.Fatalf("%d bytes: tampered chunk opened", n)
		}
	}
}

func TestSizes(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want []int64
	}{
		{"", []int64{KiB, MiB, 64 * MiB}},
		{"1KiB,1MiB", []int64{KiB, MiB}},
		{"64MiB,1GiB", []int64{64 * MiB}},
		{"2KiB", nil},
	} {
		t.Setenv(SizesEnv, tt.env)
		got := Sizes(KiB, MiB, 64*MiB)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s=%q: Sizes = %v, want %v", SizesEnv, tt.env, got, tt.want)
		}
		if small := SmallSizes(); small != (tt.env == "" || tt.env == "1KiB,1MiB") {
			t.Errorf("%s=%q: SmallSizes = %v", SizesEnv, tt.env, small)
		}
	}
	for n, want := range map[int64]string{KiB: "1KiB", 64 * KiB: "64KiB", MiB: "1MiB", GiB: "1GiB", 1000: "1000B", 3 * KiB / 2: "1536B"} {
		if got := SizeName(n); got != want {
			t.Errorf("SizeName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPayloadDeterministic(t *testing.T) {
	a, b := Payload(100), Payload(1000)
	if !bytes.Equal(a, b[:100]) {
		t.Fatal("payloads of different sizes do not share their prefix")
	}
	if bytes.Count(b, b[:8]) != 1 {
		t.Fatal("payload repeats its first word")
	}
}
