package cli

import (
	"io"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/batch"
)

func TestProgressPlainLine(t *testing.T) {
	p := NewProgressLines(io.Discard, time.Second)
	p.files, p.total = 5, 4<<20
	p.Add(2 << 20)
	p.FileDone("ok")
	p.FileDone("failed")
	p.FileDone(batch.ResultSkipped)
	p.Skipped(2)
	want := "s3crypt: progress: 3/5 inputs done (1 failed, 3 skipped), 2.0 MiB / 4.0 MiB read, 1.0 MiB/s, 2s elapsed"
	if got := p.plain(2 * time.Second); got != want {
		t.Fatalf("line = %q\nwant   %q", got, want)
	}
	p = NewProgressLines(io.Discard, 0) // neither count nor size known
	p.files = -1
	p.Add(1500)
	want = "s3crypt: progress: 0 inputs done (0 failed, 0 skipped), 1.5 KiB read, 1.5 KiB/s, 1s elapsed"
	if got := p.plain(time.Second); got != want {
		t.Fatalf("unknown totals: %q\nwant %q", got, want)
	}
	if p.every != 100*time.Millisecond {
		t.Fatalf("interval %s, want the 100ms floor", p.every)
	}
}

func TestProgressLine(t *testing.T) {
	p := NewProgress(io.Discard)
	p.files, p.total = 2, 4<<20
	p.Add(1 << 20)
	p.FileDone(batch.ResultOK)
	got := p.line(time.Second)
	want := "[######..................] 1/2 files  1.0 MiB / 4.0 MiB  1.0 MiB/s  ETA 3s"
	if got != want {
		t.Fatalf("line = %q\nwant   %q", got, want)
	}
	p = NewProgress(io.Discard) // stdin: size unknown
	p.files = 1
	p.Add(1500)
	if got := p.line(time.Second); got != "[........................] 0/1 files  1.5 KiB  1.5 KiB/s  ETA --" {
		t.Fatalf("unknown total: %q", got)
	}
}
