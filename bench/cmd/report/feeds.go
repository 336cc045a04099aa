package main

import (
	"fmt"
	"io"
	"strconv"
)

// A feedTarget is a target judged on one BenchmarkFeeds or
// BenchmarkOneShotPaired row: its x-raw, paired in one run with its raw
// reference, beside the machine's ceiling for that feed measured in the
// same run, when bench measures one.
type feedTarget struct {
	target
	Ceiling string // "" when there is none
}

// A feedCase names a row, its target and its ceiling's row ("" if none).
type feedCase struct {
	what, name string
	min        float64
	ceiling    string
}

// feedTargets judges bench/doc.go's targets for the ways users feed a
// stream, and for one-shot calls of 1 MiB. A row that misses its target
// while reaching 0.95 of a ceiling below that target is at the machine's
// ceiling: no design that keeps the feed's contract can pass there.
func (ix *index) feedTargets() []feedTarget {
	const f = "BenchmarkFeeds/"
	n := ix.maxWorkers(f + "encrypt/copy/suite=0478/frame=64KiB/workers=")
	N := strconv.Itoa(n)
	cases := []feedCase{
		{"encrypt, 1 worker, io.Copy from a reader without WriteTo ≥ 0.95", f + "encrypt/copy/suite=0478/frame=64KiB/workers=1", 0.95, f + "ceiling/read+encrypt/frame=64KiB"},
		{"encrypt, 1 worker, io.Copy from a file ≥ 0.95", f + "encrypt/file/suite=0478/frame=64KiB/workers=1", 0.95, f + "ceiling/file+encrypt/frame=64KiB"},
		{"encrypt, 1 worker, 32 KiB Writes ≥ 0.95", f + "encrypt/w32k/suite=0478/frame=64KiB/workers=1", 0.95, f + "ceiling/read+encrypt/frame=64KiB"},
		{"encrypt, 1 worker, 64 KiB Writes ≥ 0.90", f + "encrypt/w64k/suite=0478/frame=64KiB/workers=1", 0.90, ""},
		{"encrypt, 1 worker, one Write ≥ 0.95", f + "encrypt/one/suite=0478/frame=64KiB/workers=1", 0.95, ""},
		{"decrypt, 1 worker, io.Copy to a writer without ReadFrom ≥ 0.95", f + "decrypt/copy/suite=0478/frame=64KiB/workers=1", 0.95, f + "ceiling/read+decrypt/frame=64KiB"},
		{"the same, 4 KiB frames ≥ 0.95", f + "decrypt/copy/suite=0478/frame=4KiB/workers=1", 0.95, f + "ceiling/read+decrypt/frame=4KiB"},
	}
	if n >= 2 {
		cases = append(cases,
			feedCase{"encrypt, N workers, io.Copy ≥ 0.90 × raw GCM on N goroutines (N = " + N + ")", f + "encrypt/copy/suite=0478/frame=64KiB/workers=" + N, 0.90, f + "ceiling/read+encrypt/frame=64KiB/workers=" + N},
			feedCase{"encrypt, N workers, one Write ≥ 0.90", f + "encrypt/one/suite=0478/frame=64KiB/workers=" + N, 0.90, ""},
			feedCase{"decrypt, N workers, io.Copy ≥ 0.90", f + "decrypt/copy/suite=0478/frame=64KiB/workers=" + N, 0.90, f + "ceiling/read+decrypt/frame=64KiB/workers=" + N},
			feedCase{"the same, 4 KiB frames ≥ 0.90", f + "decrypt/copy/suite=0478/frame=4KiB/workers=" + N, 0.90, f + "ceiling/read+decrypt/frame=4KiB/workers=" + N})
	}
	for _, c := range []struct{ dir, frame string }{{"encrypt", "64KiB"}, {"decrypt", "64KiB"}, {"decrypt", "4KiB"}} {
		cases = append(cases, feedCase{
			fmt.Sprintf("signed 0x0578 %s, %s frames, io.Copy, default workers ≥ 0.95 × SHA-384", c.dir, c.frame),
			f + c.dir + "/copy/suite=0578/frame=" + c.frame + "/workers=0", 0.95, f + "ceiling/sha384+read+gcm/frame=64KiB"})
	}
	const o = "BenchmarkOneShotPaired/"
	ws := []string{"1"}
	if n >= 2 {
		ws = append(ws, N)
	}
	for _, w := range ws {
		ceil := o + "ceiling/alloc/size=1MiB" // W workers: against raw GCM on W goroutines
		if w != "1" {
			ceil += "/workers=" + w
		}
		for _, dir := range []string{"encrypt", "decrypt"} {
			cases = append(cases,
				feedCase{fmt.Sprintf("1 MiB one-shot %s, %s worker(s), into a caller's buffer ≥ 0.85", dir, w), o + dir + "/append/size=1MiB/workers=" + w, 0.85, ""},
				feedCase{"the same, a new output per call ≥ 0.6", o + dir + "/alloc/size=1MiB/workers=" + w, 0.6, ceil})
		}
	}
	var ts []feedTarget
	for _, c := range cases {
		ts = append(ts, ix.feedTarget(c))
	}
	return ts
}

// feedTarget judges one case.
func (ix *index) feedTarget(c feedCase) feedTarget {
	r, ok := ix.main(c.name)
	v, okV := r.Metrics["x-raw"]
	if !ok || !okV {
		return feedTarget{target: missing(c.what, c.name)}
	}
	t := feedTarget{target: judged(c.what, fmt.Sprintf("%.2f", v), v >= c.min)}
	if cr, ok := ix.main(c.ceiling); ok && c.ceiling != "" {
		ceil := cr.Metrics["x-raw"]
		t.Ceiling = fmt.Sprintf("%.2f (%.2f of it)", ceil, v/ceil)
		t.target = withCeiling(t.target, v, ceil, c.min)
	}
	return t
}

// withCeiling marks t, a ratio v judged against min, as missed at the
// machine's ceiling when the ceiling measured beside it, ceil, is itself
// under min and v reaches 0.95 of it.
func withCeiling(t target, v, ceil, min float64) target {
	if t.Status == "MISS" && ceil > 0 && ceil < min && v >= 0.95*ceil {
		t.Status = "MISS, at the machine's ceiling"
	}
	return t
}

func writeFeedTargets(w io.Writer, ts []feedTarget) {
	fmt.Fprintln(w, "| target (bench/doc.go), 64 MiB, 64 KiB frames, 0x0478 unless named | x-raw (paired) | ceiling (same run) | |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, t := range ts {
		c := t.Ceiling
		if c == "" {
			c = "–"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.What, t.Got, c, t.Status)
	}
}

// anyRan reports whether any target of ts had its benchmark run.
func anyRan(ts []feedTarget) bool {
	for _, t := range ts {
		if t.Status != "n/a" {
			return true
		}
	}
	return false
}
