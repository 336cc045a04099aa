package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// index finds results by source and name at the largest GOMAXPROCS seen.
type index struct {
	rs    []result
	by    map[key]result
	procs int  // the GOMAXPROCS targets are judged at: the largest seen
	multi bool // more than one GOMAXPROCS value (-cpu 1,2)
}

func newIndex(rs []result) *index {
	ix := &index{rs: rs, by: map[key]result{}}
	for _, r := range rs {
		ix.by[key{r.Source, r.Name, r.Procs}] = r
		if ix.procs != 0 && r.Procs != ix.procs {
			ix.multi = true
		}
		ix.procs = max(ix.procs, r.Procs)
	}
	return ix
}

func (ix *index) get(source, name string, procs int) (result, bool) {
	r, ok := ix.by[key{source, name, procs}]
	return r, ok
}

// parts splits a benchmark name into its elements and its key=value
// parameters.
func parts(name string) (elems []string, params map[string]string) {
	elems = strings.Split(name, "/")
	params = map[string]string{}
	for _, e := range elems[1:] {
		if k, v, ok := strings.Cut(e, "="); ok {
			params[k] = v
		}
	}
	return elems, params
}

// baselineOf names the raw GCM benchmark a result is compared with: the
// same direction (seal for encrypting, open for decrypting), frame length
// (64KiB when the name has none) and payload. ok is false for results with
// no direction or size, and for the baseline itself.
func baselineOf(name string) (string, bool) {
	elems, params := parts(name)
	if elems[0] == "BenchmarkRawGCM" || params["size"] == "" {
		return "", false
	}
	dir := ""
	switch elems[0] {
	case "BenchmarkEncrypt":
		dir = "seal"
	case "BenchmarkDecrypt":
		dir = "open"
	}
	for _, e := range elems[1:] {
		switch e {
		case "seal", "writer", "encrypt":
			dir = "seal"
		case "open", "reader", "decrypt":
			dir = "open"
		}
	}
	if dir == "" {
		return "", false
	}
	frame := params["frame"]
	if frame == "" {
		frame = "64KiB"
	}
	return fmt.Sprintf("BenchmarkRawGCM/%s/frame=%s/size=%s", dir, frame, params["size"]), true
}

// ratio is a result's MB/s over that of its baseline in the same source
// and at the same GOMAXPROCS.
func (ix *index) ratio(r result) (float64, bool) {
	base, ok := baselineOf(r.Name)
	if !ok {
		return 0, false
	}
	b, ok := ix.get(r.Source, base, r.Procs)
	if !ok || b.Metrics["MB/s"] == 0 || r.Metrics["MB/s"] == 0 {
		return 0, false
	}
	return r.Metrics["MB/s"] / b.Metrics["MB/s"], true
}

// writeTable prints one markdown table of every result of source. A
// paired benchmark (one reporting x-… ratios, measured against its
// reference in the same iterations) shows those ratios rather than its
// MB/s over a baseline's, which would count the reference's time too; a
// benchmark's other metrics of its own are listed last.
func (ix *index) writeTable(w io.Writer, source string) {
	fmt.Fprintln(w, "| benchmark | MB/s | ns/op | allocs/op | × raw GCM | other |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|---|")
	for _, r := range ix.rs {
		if r.Source != source {
			continue
		}
		name := strings.TrimPrefix(r.Name, "Benchmark")
		if ix.multi {
			name += fmt.Sprintf("-%d", r.Procs)
		}
		paired, other := ownMetrics(r)
		ratio := "–"
		switch {
		case paired != "":
			ratio = paired + " (paired)"
		case strings.HasPrefix(r.Name, "BenchmarkRawGCM/"):
			ratio = "1 (baseline)"
		default:
			if v, ok := ix.ratio(r); ok {
				ratio = fmt.Sprintf("%.2f", v)
			}
		}
		if other == "" {
			other = "–"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", name,
			metric(r, "MB/s", "%.0f"), metric(r, "ns/op", "%.0f"), metric(r, "allocs/op", "%.0f"), ratio, other)
	}
}

// ownMetrics lists, sorted by unit, a result's x-… ratios and its other
// metrics beyond go test's own (ns/op, MB/s, B/op, allocs/op).
func ownMetrics(r result) (ratios, other string) {
	var xs, os []string
	for _, u := range slices.Sorted(maps.Keys(r.Metrics)) {
		switch {
		case u == "ns/op" || u == "MB/s" || u == "B/op" || u == "allocs/op":
		case strings.HasPrefix(u, "x-"):
			xs = append(xs, fmt.Sprintf("%s %.2f", u, r.Metrics[u]))
		default:
			os = append(os, fmt.Sprintf("%s %.4g", u, r.Metrics[u]))
		}
	}
	return strings.Join(xs, ", "), strings.Join(os, ", ")
}

func metric(r result, unit, format string) string {
	v, ok := r.Metrics[unit]
	if !ok {
		return "–"
	}
	if unit == "ns/op" && v < 100 {
		format = "%.1f"
	}
	return fmt.Sprintf(format, v)
}
