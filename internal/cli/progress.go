package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phicrypt/phicrypt/batch"
)

// Progress reports a run's progress on w: as a one-line bar (files done,
// bytes, rate, ETA) redrawn four times a second on a terminal, or, for logs
// and pipelines, as a plain line every interval. Only the caller decides
// which: a nil *Progress reports nothing.
type Progress struct {
	w          io.Writer
	lines      bool          // plain lines, not a bar
	every      time.Duration // between draws
	files      int           // inputs in the run; < 0 when not known
	total      int64         // their bytes; 0 when not known
	bytes      atomic.Int64
	done       atomic.Int64
	failed     atomic.Int64
	skipped    atomic.Int64
	start      time.Time
	stop       chan struct{}
	wg         sync.WaitGroup
	lastLength int
}

// NewProgress returns a progress bar drawn on w (the terminal's stderr).
func NewProgress(w io.Writer) *Progress { return &Progress{w: w, every: 250 * time.Millisecond} }

// NewProgressLines returns a display that writes one plain line to w every
// interval (at least 100 ms): counts, bytes, rate and, when known, totals.
func NewProgressLines(w io.Writer, every time.Duration) *Progress {
	return &Progress{w: w, lines: true, every: max(every, 100*time.Millisecond)}
}

// Start begins drawing for files inputs (< 0 when not known) of total
// bytes (0 when not known).
func (p *Progress) Start(files int, total int64) {
	p.files, p.total, p.start = files, total, time.Now()
	p.stop = make(chan struct{})
	p.wg.Go(func() {
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw()
			}
		}
	})
}

// Add records n more input bytes read.
func (p *Progress) Add(n int64) { p.bytes.Add(n) }

// FileDone records one more input finished with result ("ok", "failed",
// "skipped", "interrupted").
func (p *Progress) FileDone(result string) {
	p.done.Add(1)
	switch result {
	case batch.ResultOK:
	case batch.ResultSkipped:
		p.skipped.Add(1)
	default:
		p.failed.Add(1)
	}
}

// Skipped records n inputs skipped before the run started (filtered out).
func (p *Progress) Skipped(n int) { p.skipped.Add(int64(n)) }

// Stop stops drawing; a bar is drawn a last time and its line ended (the
// summary follows plain lines).
func (p *Progress) Stop() {
	close(p.stop)
	p.wg.Wait()
	if !p.lines {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

func (p *Progress) draw() {
	if p.lines {
		fmt.Fprintln(p.w, p.plain(time.Since(p.start)))
		return
	}
	line := p.line(time.Since(p.start))
	pad := max(p.lastLength-len(line), 0)
	p.lastLength = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

// line renders the bar after elapsed time.
func (p *Progress) line(elapsed time.Duration) string {
	b := p.bytes.Load()
	const width = 24
	frac := 0.0
	if p.total > 0 {
		frac = min(float64(b)/float64(p.total), 1)
	} else if p.files > 0 {
		frac = float64(p.done.Load()) / float64(p.files)
	}
	fill := int(frac * width)
	bar := strings.Repeat("#", fill) + strings.Repeat(".", width-fill)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(b) / s
	}
	eta := "--"
	if rate > 0 && p.total > 0 {
		eta = time.Duration(float64(p.total-b) / rate * float64(time.Second)).Round(time.Second).String()
	}
	total := ""
	if p.total > 0 {
		total = " / " + FormatBytes(p.total)
	}
	return fmt.Sprintf("[%s] %d/%d files  %s%s  %s/s  ETA %s",
		bar, p.done.Load(), p.files, FormatBytes(b), total, FormatBytes(int64(rate)), eta)
}

// plain renders a progress line for logs after elapsed time.
func (p *Progress) plain(elapsed time.Duration) string {
	b := p.bytes.Load()
	var sb strings.Builder
	fmt.Fprintf(&sb, "s3crypt: progress: %d", p.done.Load())
	if p.files >= 0 {
		fmt.Fprintf(&sb, "/%d", p.files)
	}
	fmt.Fprintf(&sb, " inputs done (%d failed, %d skipped), %s", p.failed.Load(), p.skipped.Load(), FormatBytes(b))
	if p.total > 0 {
		fmt.Fprintf(&sb, " / %s", FormatBytes(p.total))
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(b) / s
	}
	fmt.Fprintf(&sb, " read, %s/s, %s elapsed", FormatBytes(int64(rate)), elapsed.Round(time.Second))
	return sb.String()
}

// FormatBytes renders n with a binary unit: "512 B", "1.5 MiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
