package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phicrypt/phicrypt/batch"
)

// Progress reports a run's progress on w: as a one-line bar (files done,
// bytes, rate, ETA) redrawn four times a second on a terminal, or, for logs
// and pipelines, as a plain line every interval. Only the caller decides
// which: a nil *Progress reports nothing. While the inputs are still being
// listed it shows how many were listed so far; totals, the bar's fill and
// the ETA only once the listing is done.
type Progress struct {
	w           io.Writer
	lines       bool          // plain lines, not a bar
	every       time.Duration // between draws
	listed      atomic.Int64  // inputs listed so far
	total       atomic.Int64  // their known bytes
	listingDone atomic.Bool   // listed and total are the run's
	bytes       atomic.Int64
	done        atomic.Int64
	failed      atomic.Int64
	skipped     atomic.Int64
	start       time.Time
	stop        chan struct{}
	wg          sync.WaitGroup
	lastLength  int
}

// NewProgress returns a progress bar drawn on w (the terminal's stderr).
func NewProgress(w io.Writer) *Progress { return &Progress{w: w, every: 250 * time.Millisecond} }

// NewProgressLines returns a display that writes one plain line to w every
// interval (at least 100 ms): counts, bytes, rate and, when known, totals.
func NewProgressLines(w io.Writer, every time.Duration) *Progress {
	return &Progress{w: w, lines: true, every: max(every, 100*time.Millisecond)}
}

// Start begins drawing, before the listing begins.
func (p *Progress) Start() {
	p.start = time.Now()
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

// Listed records n more inputs listed, of bytes known bytes.
func (p *Progress) Listed(n int, bytes int64) {
	p.listed.Add(int64(n))
	p.total.Add(bytes)
}

// ListingDone records that every input was listed: the totals are known.
func (p *Progress) ListingDone() { p.listingDone.Store(true) }

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

// Skipped records n inputs skipped before they were processed (filtered
// out).
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

// rate is b bytes over elapsed, per second.
func rate(b int64, elapsed time.Duration) int64 {
	if s := elapsed.Seconds(); s > 0 {
		return int64(float64(b) / s)
	}
	return 0
}

// line renders the bar after elapsed time: while listing, the counts so
// far; then the fill (by bytes, or by inputs when no size is known), the
// totals and the ETA.
func (p *Progress) line(elapsed time.Duration) string {
	b, done, listed, total := p.bytes.Load(), p.done.Load(), p.listed.Load(), p.total.Load()
	r := rate(b, elapsed)
	if !p.listingDone.Load() {
		return fmt.Sprintf("[listing...] %s done (%s failed) of %s listed so far  %s  %s/s",
			FormatCount(done), FormatCount(p.failed.Load()), FormatCount(listed), FormatBytes(b), FormatBytes(r))
	}
	const width = 24
	frac := 0.0
	if total > 0 {
		frac = min(float64(b)/float64(total), 1)
	} else if listed > 0 {
		frac = float64(done) / float64(listed)
	}
	fill := int(frac * width)
	bar := strings.Repeat("#", fill) + strings.Repeat(".", width-fill)
	eta := "--"
	if r > 0 && total > 0 {
		eta = time.Duration(float64(max(total-b, 0)) / float64(r) * float64(time.Second)).Round(time.Second).String()
	}
	tb := ""
	if total > 0 {
		tb = " / " + FormatBytes(total)
	}
	return fmt.Sprintf("[%s] %s/%s files  %s%s  %s/s  ETA %s",
		bar, FormatCount(done), FormatCount(listed), FormatBytes(b), tb, FormatBytes(r), eta)
}

// plain renders a progress line for logs after elapsed time: while
// listing, "N done (F failed, S skipped) of L listed so far"; then
// "N/L inputs done (…)" with the total bytes.
func (p *Progress) plain(elapsed time.Duration) string {
	b, done, listed, total := p.bytes.Load(), p.done.Load(), p.listed.Load(), p.total.Load()
	var sb strings.Builder
	counts := fmt.Sprintf("(%s failed, %s skipped)", FormatCount(p.failed.Load()), FormatCount(p.skipped.Load()))
	if p.listingDone.Load() {
		fmt.Fprintf(&sb, "s3crypt: progress: %s/%s inputs done %s, %s", FormatCount(done), FormatCount(listed), counts, FormatBytes(b))
		if total > 0 {
			fmt.Fprintf(&sb, " / %s", FormatBytes(total))
		}
	} else {
		fmt.Fprintf(&sb, "s3crypt: progress: %s done %s of %s listed so far, %s", FormatCount(done), counts, FormatCount(listed), FormatBytes(b))
	}
	fmt.Fprintf(&sb, " read, %s/s, %s elapsed", FormatBytes(rate(b, elapsed)), elapsed.Round(time.Second))
	return sb.String()
}

// FormatCount renders n with thousands separators: "1,234,567".
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
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
