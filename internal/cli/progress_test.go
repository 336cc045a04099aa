package cli

import (
	"io"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/batch"
)

func TestProgressPlainLine(t *testing.T) {
	p := NewProgressLines(io.Discard, time.Second)
	p.Listed(4000, 3<<20)
	p.Add(2 << 20)
	p.FileDone("ok")
	p.FileDone("failed")
	p.FileDone(batch.ResultSkipped)
	p.Skipped(2)
	want := "s3crypt: progress: 3 done (1 failed, 3 skipped) of 4,000 listed so far, 2.0 MiB read, 1.0 MiB/s, 2s elapsed"
	if got := p.plain(2 * time.Second); got != want {
		t.Fatalf("while listing: %q\nwant         %q", got, want)
	}
	p.Listed(1001, 1<<20)
	p.ListingDone()
	want = "s3crypt: progress: 3/5,001 inputs done (1 failed, 3 skipped), 2.0 MiB / 4.0 MiB read, 1.0 MiB/s, 2s elapsed"
	if got := p.plain(2 * time.Second); got != want {
		t.Fatalf("listed: %q\nwant    %q", got, want)
	}
	p = NewProgressLines(io.Discard, 0) // stdin: one input, size unknown
	p.Listed(1, 0)
	p.ListingDone()
	p.Add(1500)
	want = "s3crypt: progress: 0/1 inputs done (0 failed, 0 skipped), 1.5 KiB read, 1.5 KiB/s, 1s elapsed"
	if got := p.plain(time.Second); got != want {
		t.Fatalf("unknown size: %q\nwant %q", got, want)
	}
	if p.every != 100*time.Millisecond {
		t.Fatalf("interval %s, want the 100ms floor", p.every)
	}
}

func TestProgressLine(t *testing.T) {
	p := NewProgress(io.Discard)
	p.Listed(2, 4<<20)
	p.Add(1 << 20)
	p.FileDone(batch.ResultOK)
	want := "[listing...] 1 done (0 failed) of 2 listed so far  1.0 MiB  1.0 MiB/s"
	if got := p.line(time.Second); got != want {
		t.Fatalf("while listing: %q\nwant          %q", got, want)
	}
	p.ListingDone()
	want = "[######..................] 1/2 files  1.0 MiB / 4.0 MiB  1.0 MiB/s  ETA 3s"
	if got := p.line(time.Second); got != want {
		t.Fatalf("line = %q\nwant   %q", got, want)
	}
	p = NewProgress(io.Discard) // stdin: size unknown
	p.Listed(1, 0)
	p.ListingDone()
	p.Add(1500)
	if got := p.line(time.Second); got != "[........................] 0/1 files  1.5 KiB  1.5 KiB/s  ETA --" {
		t.Fatalf("unknown total: %q", got)
	}
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 5000: "5,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := FormatCount(n); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", n, got, want)
		}
	}
}
