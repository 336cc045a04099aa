package main

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
)

// A result is one benchmark's measurements: the median of each metric over
// the lines (-count) that reported it.
type result struct {
	Source  string // "main" or "peers": ratios are taken within one source
	Name    string // without the -GOMAXPROCS suffix
	Procs   int
	Metrics map[string]float64 // unit → median value: "ns/op", "MB/s", …
}

// key identifies the results of one benchmark in one run.
type key struct {
	Source, Name string
	Procs        int
}

// parseLine parses a line of the standard benchmark format:
//
//	BenchmarkName-8   1000   1234 ns/op   12.3 MB/s   16 B/op   1 allocs/op
//
// The -8 is GOMAXPROCS, absent when it is 1. Any other line is reported
// as not a result.
func parseLine(line string) (name string, procs int, metrics map[string]float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", 0, nil, false
	}
	if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
		return "", 0, nil, false
	}
	name, procs = f[0], 1
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if p, err := strconv.Atoi(name[i+1:]); err == nil && p > 0 {
			name, procs = name[:i], p
		}
	}
	metrics = make(map[string]float64, (len(f)-2)/2)
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", 0, nil, false
		}
		metrics[f[i+1]] = v
	}
	return name, procs, metrics, true
}

// Marker lines the report writes into the raw output before each go test
// run, in the "key: value" form benchstat reads as configuration: the
// module the results come from and the payload sizes that run measured.
const (
	machineMarker = "phicrypt-machine"
	sourceMarker  = "phicrypt-source"
	sizesMarker   = "phicrypt-sizes"
)

// collector gathers the samples of benchmark lines, in order of first
// appearance.
type collector struct {
	machine string // from a machineMarker line
	order   []key
	samples map[key]map[string][]float64
	run     map[key]int // the run a result was first seen in
}

func newCollector() *collector {
	return &collector{samples: map[key]map[string][]float64{}, run: map[key]int{}}
}

// add parses the benchmark lines of r, and the machine description of a
// machineMarker line. Results belong to source "main"
// until a sourceMarker line names another. After a sizesMarker line naming
// sizes, only results of those payload sizes are kept. A result with no
// size belongs to the first run (sizesMarker to the next) that reports
// it: a run of large payloads also runs the size-less benchmarks of the
// small run, at a -benchtime chosen for large payloads, while those that
// need large payloads (BenchmarkFeeds) run only there.
func (c *collector) add(r io.Reader) error {
	source, sizes, run := "main", "", 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok {
			switch k {
			case sourceMarker:
				source, sizes = v, ""
				run++
			case sizesMarker:
				sizes = v
				run++
			case machineMarker:
				c.machine = v
			}
		}
		name, procs, m, ok := parseLine(line)
		if !ok || !sizeKept(name, sizes) {
			continue
		}
		k := key{source, name, procs}
		s, seen := c.samples[k]
		if seen && c.run[k] != run {
			continue // a size-less result of a later run
		}
		if !seen {
			s = map[string][]float64{}
			c.samples[k] = s
			c.run[k] = run
			c.order = append(c.order, k)
		}
		for unit, v := range m {
			s[unit] = append(s[unit], v)
		}
	}
	return sc.Err()
}

// sizeKept reports whether a result may belong to a run of the
// comma-separated sizes ("" is every size): its size is one of them, or
// it has none.
func sizeKept(name, sizes string) bool {
	_, params := parts(name)
	size := params["size"]
	return sizes == "" || size == "" || slices.Contains(strings.Split(sizes, ","), size)
}

// results returns the medians, in order of first appearance.
func (c *collector) results() []result {
	out := make([]result, 0, len(c.order))
	for _, k := range c.order {
		m := map[string]float64{}
		for unit, vs := range c.samples[k] {
			m[unit] = median(vs)
		}
		out = append(out, result{Source: k.Source, Name: k.Name, Procs: k.Procs, Metrics: m})
	}
	return out
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
