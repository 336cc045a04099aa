package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress draws a one-line progress bar (files done, bytes, rate, ETA) on
// a terminal. Only the caller decides whether there is one: a nil
// *Progress is never drawn.
type Progress struct {
	w          io.Writer
	files      int
	total      int64
	bytes      atomic.Int64
	done       atomic.Int64
	start      time.Time
	stop       chan struct{}
	wg         sync.WaitGroup
	lastLength int
}

// NewProgress returns a progress bar drawn on w (the terminal's stderr).
func NewProgress(w io.Writer) *Progress { return &Progress{w: w} }

// Start begins drawing, four times a second, for files inputs of total
// bytes (0 when unknown).
func (p *Progress) Start(files int, total int64) {
	p.files, p.total, p.start = files, total, time.Now()
	p.stop = make(chan struct{})
	p.wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
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
func (p *Progress) FileDone(string) { p.done.Add(1) }

// Stop draws the final state and ends the line.
func (p *Progress) Stop() {
	close(p.stop)
	p.wg.Wait()
	p.draw()
	fmt.Fprintln(p.w)
}

func (p *Progress) draw() {
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
