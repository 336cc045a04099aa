package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line    string
		name    string
		procs   int
		metrics map[string]float64
	}{
		{"BenchmarkRawGCM/seal/frame=64KiB/size=1MiB-2   \t 616\t 446758 ns/op\t2347.08 MB/s\t 16 B/op\t 1 allocs/op",
			"BenchmarkRawGCM/seal/frame=64KiB/size=1MiB", 2,
			map[string]float64{"ns/op": 446758, "MB/s": 2347.08, "B/op": 16, "allocs/op": 1}},
		{"BenchmarkECDSA/sign/P384 \t 601\t 959233 ns/op", "BenchmarkECDSA/sign/P384", 1,
			map[string]float64{"ns/op": 959233}},
		{"BenchmarkPeakHeap/size=1GiB-16 1 1946265092 ns/op 0.70 peak-heap-MiB", "BenchmarkPeakHeap/size=1GiB", 16,
			map[string]float64{"ns/op": 1946265092, "peak-heap-MiB": 0.7}},
		{"BenchmarkX/a-b-3 10 5 ns/op", "BenchmarkX/a-b", 3, map[string]float64{"ns/op": 5}},
	}
	for _, tt := range tests {
		name, procs, m, ok := parseLine(tt.line)
		if !ok || name != tt.name || procs != tt.procs || !maps.Equal(m, tt.metrics) {
			t.Errorf("parseLine(%q) = %q, %d, %v, %v; want %q, %d, %v", tt.line, name, procs, m, ok, tt.name, tt.procs, tt.metrics)
		}
	}
	for _, line := range []string{
		"",
		"goos: linux",
		"PASS",
		"ok  \tgithub.com/phicrypt/phicrypt/bench\t1.499s",
		"BenchmarkEncrypt/oneshot",                  // a parent's name alone (-v)
		"BenchmarkX-2 \t 10 \t 5 ns/op \t 7",        // odd field count
		"BenchmarkX-2 \t ten \t 5 ns/op",            // iterations not a number
		"BenchmarkX-2 \t 10 \t five ns/op",          // value not a number
		"--- FAIL: BenchmarkX 10 5 ns/op",           // not at the start
		"Benchmarks are fun 10 5 ns/op and more ok", // text
	} {
		if name, _, _, ok := parseLine(line); ok {
			t.Errorf("parseLine(%q) accepted as %q", line, name)
		}
	}
}

func TestCollectorMediansAndPasses(t *testing.T) {
	out := strings.Join([]string{
		"phicrypt-machine: test box",
		"phicrypt-source: main",
		"phicrypt-sizes: 1KiB,1MiB",
		"BenchmarkECDSA/sign/P384-2 10 300 ns/op",
		"BenchmarkRawGCM/seal/frame=64KiB/size=1KiB-2 10 100 ns/op 10 MB/s",
		"BenchmarkRawGCM/seal/frame=64KiB/size=1KiB-2 10 200 ns/op 5 MB/s",
		"BenchmarkRawGCM/seal/frame=64KiB/size=1KiB-2 10 900 ns/op 1 MB/s",
		"BenchmarkRawGCM/seal/frame=64KiB/size=64MiB-2 1 9 ns/op", // not this pass's size
		"phicrypt-sizes: 64MiB,1GiB",
		"BenchmarkECDSA/sign/P384-2 3 9999 ns/op",                        // size-less: belongs to the small pass
		"BenchmarkFeeds/encrypt/copy/frame=64KiB-2 3 40 ns/op 0.9 x-raw", // size-less, in this pass only
		"BenchmarkFeeds/encrypt/copy/frame=64KiB-2 3 60 ns/op 0.7 x-raw",
		"BenchmarkRawGCM/seal/frame=64KiB/size=64MiB-2 3 50 ns/op 1000 MB/s",
		"BenchmarkRawGCM/seal/frame=64KiB/size=64MiB-2 3 70 ns/op 800 MB/s",
		"phicrypt-source: peers",
		"BenchmarkRawGCM/seal/frame=64KiB/size=64MiB-2 3 60 ns/op 900 MB/s",
	}, "\n")
	c := newCollector()
	if err := c.add(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	if c.machine != "test box" {
		t.Errorf("machine = %q", c.machine)
	}
	got := map[key]map[string]float64{}
	for _, r := range c.results() {
		got[key{r.Source, r.Name, r.Procs}] = r.Metrics
	}
	want := map[key]map[string]float64{
		{"main", "BenchmarkECDSA/sign/P384", 2}:                     {"ns/op": 300},
		{"main", "BenchmarkRawGCM/seal/frame=64KiB/size=1KiB", 2}:   {"ns/op": 200, "MB/s": 5},
		{"main", "BenchmarkRawGCM/seal/frame=64KiB/size=64MiB", 2}:  {"ns/op": 60, "MB/s": 900},
		{"main", "BenchmarkFeeds/encrypt/copy/frame=64KiB", 2}:      {"ns/op": 50, "x-raw": 0.8},
		{"peers", "BenchmarkRawGCM/seal/frame=64KiB/size=64MiB", 2}: {"ns/op": 60, "MB/s": 900},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results %v, want %d", len(got), got, len(want))
	}
	for k, w := range want {
		if !maps.Equal(got[k], w) {
			t.Errorf("%v = %v, want %v", k, got[k], w)
		}
	}
}

func TestBaselineOf(t *testing.T) {
	tests := []struct{ name, want string }{
		{"BenchmarkEncrypt/stream/suite=0478/frame=4KiB/size=64MiB/workers=2", "BenchmarkRawGCM/seal/frame=4KiB/size=64MiB"},
		{"BenchmarkDecrypt/oneshot/suite=0578/frame=1MiB/size=1KiB/workers=1", "BenchmarkRawGCM/open/frame=1MiB/size=1KiB"},
		{"BenchmarkStream/writer/frame=64KiB/size=1MiB/workers=1", "BenchmarkRawGCM/seal/frame=64KiB/size=1MiB"},
		{"BenchmarkStream/reader/frame=64KiB/size=1MiB/workers=1", "BenchmarkRawGCM/open/frame=64KiB/size=1MiB"},
		{"BenchmarkKeycache/size=1KiB/encrypt/cached", "BenchmarkRawGCM/seal/frame=64KiB/size=1KiB"},
		{"BenchmarkPeers/age/decrypt/size=64MiB", "BenchmarkRawGCM/open/frame=64KiB/size=64MiB"},
		{"BenchmarkRawGCM/seal/frame=64KiB/size=1KiB", ""},
		{"BenchmarkECDSA/sign/P384", ""},
		{"BenchmarkPeakHeap/size=1GiB", ""},
	}
	for _, tt := range tests {
		got, ok := baselineOf(tt.name)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("baselineOf(%q) = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}

// fixture is a run's output with every row the targets need. The figures
// miss the 1 KiB targets of the cache (6 µs) and of raw AES encrypt (18
// allocs), 0x0578 encrypt (1.14 × keygen+sign) and N-worker decrypt.
const fixture = `phicrypt-machine: fixture box
BenchmarkRawGCM/seal/frame=64KiB/size=64MiB-2 3 1 ns/op 1000 MB/s
BenchmarkRawGCM/open/frame=64KiB/size=64MiB-2 3 1 ns/op 2000 MB/s
BenchmarkEncrypt/stream/suite=0478/frame=64KiB/size=64MiB/workers=1-2 3 1 ns/op 950 MB/s 78 allocs/op
BenchmarkEncrypt/stream/suite=0478/frame=64KiB/size=64MiB/workers=2-2 3 1 ns/op 1800 MB/s 98 allocs/op
BenchmarkDecrypt/stream/suite=0478/frame=64KiB/size=64MiB/workers=1-2 3 1 ns/op 1900 MB/s 74 allocs/op
BenchmarkDecrypt/stream/suite=0478/frame=64KiB/size=64MiB/workers=2-2 3 1 ns/op 2000 MB/s 97 allocs/op
BenchmarkEncrypt/oneshot/suite=0478/frame=64KiB/size=1KiB/workers=1-2 1000 4000 ns/op 250 MB/s 18 allocs/op
BenchmarkKeycache/size=1KiB/encrypt/cache=warm-2 1000 6000 ns/op 166 MB/s 18 allocs/op
BenchmarkDecrypt/oneshot/suite=0478/frame=64KiB/size=1KiB/workers=1-2 1000 3000 ns/op 333 MB/s 12 allocs/op
BenchmarkSmallPaired/decrypt/alloc/size=1KiB-2 1000 9000 ns/op 6000 crypto-ns 3000 msg-ns 2 x-raw
BenchmarkKeycache/size=1KiB/decrypt/cache=warm-2 1000 6000 ns/op 166 MB/s 11 allocs/op
BenchmarkEncrypt/oneshot/suite=0578/frame=64KiB/size=1KiB/workers=1-2 10 400000 ns/op 2.5 MB/s 180 allocs/op
BenchmarkDecrypt/oneshot/suite=0578/frame=64KiB/size=1KiB/workers=1-2 10 500000 ns/op 2 MB/s 110 allocs/op
BenchmarkECDSA/keygen/P384-2 10 150000 ns/op
BenchmarkECDSA/sign/P384-2 10 200000 ns/op
BenchmarkECDSA/verify/P384-2 10 480000 ns/op
BenchmarkPeakHeap/size=64MiB-2 1 1 ns/op 0.7 peak-heap-MiB
BenchmarkPeakHeap/size=1GiB-2 1 1 ns/op 0.8 peak-heap-MiB
phicrypt-source: peers
BenchmarkRawGCM/seal/frame=64KiB/size=64MiB-2 3 1 ns/op 500 MB/s
BenchmarkPeers/age/encrypt/size=64MiB-2 3 1 ns/op 400 MB/s
`

func TestTargets(t *testing.T) {
	c := newCollector()
	if err := c.add(strings.NewReader(fixture)); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range newIndex(c.results()).targets() {
		got[tg.What] = tg.Status + " " + tg.Got
	}
	want := map[string]string{
		"streaming encrypt, 64 MiB, 64 KiB frames, 0x0478, 1 worker ≥ 0.95 × raw GCM Seal": "PASS 0.95 × (950 MB/s)",
		"streaming decrypt, 64 MiB, 64 KiB frames, 0x0478, 1 worker ≥ 0.95 × raw GCM Open": "PASS 0.95 × (1900 MB/s)",
		"the same with N workers ≥ 0.90 × N × raw GCM on one goroutine (N = 2)":            "", // checked below: two rows
		"1 KiB encrypt, 0x0478, KMS keyring, warm cache: ≤ 5 µs and ≤ 12 allocs":           "MISS 6.0 µs, 18 allocs",
		"1 KiB encrypt, 0x0478, raw AES keyring: ≤ 5 µs and ≤ 12 allocs":                   "MISS 4.0 µs, 18 allocs",
		"1 KiB decrypt, 0x0478, KMS keyring, warm cache: ≤ 5 µs and ≤ 12 allocs":           "MISS 6.0 µs, 11 allocs",
		"1 KiB decrypt, 0x0478, raw AES keyring: ≤ 5 µs and ≤ 12 allocs":                   "PASS 3.0 µs, 12 allocs (paired: message 3.0 µs, its cryptography alone 6.0 µs = 2.00 ×)",
		"1 KiB encrypt, 0x0578: ≤ 1.05 × (ECDSA P-384 keygen + sign)":                      "MISS 400.0 µs = 1.14 × keygen+sign (350.0 µs)",
		"1 KiB decrypt, 0x0578: ≤ 1.05 × ECDSA P-384 verify":                               "PASS 500.0 µs = 1.04 × verify (480.0 µs)",
		"peak heap of a 1 GiB stream < 64 MiB and ≤ 2 × that of 64 MiB + 4 MiB":            "PASS 0.8 MiB (64 MiB: 0.7 MiB)",
	}
	for what, w := range want {
		if w != "" && got[what] != w {
			t.Errorf("%s: got %q, want %q", what, got[what], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d distinct targets, want %d: %v", len(got), len(want), got)
	}

	// BenchmarkSignedSmallPaired decides the 0x0578 rows over the
	// separate ones (which miss encrypt and pass decrypt above), and
	// alone when they did not run.
	signed := "phicrypt-source: main\n" +
		"BenchmarkSignedSmallPaired/encrypt/size=1KiB-2 100 1 ns/op 294000 ecdsa-ns 306000 msg-ns 0.9608 x-raw\n" +
		"BenchmarkSignedSmallPaired/decrypt/size=1KiB-2 100 1 ns/op 510000 ecdsa-ns 554000 msg-ns 0.9206 x-raw\n"
	for _, in := range []string{fixture + signed, signed} {
		sc := newCollector()
		if err := sc.add(strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, tg := range newIndex(sc.results()).targets() {
			got[tg.What] = tg.Status + " " + tg.Got
		}
		enc, dec := "PASS paired: message 306.0 µs = 1.04 × keygen+sign (294.0 µs)", "MISS paired: message 554.0 µs = 1.09 × verify (510.0 µs)"
		if in != signed {
			enc += "; separate runs 400.0 µs = 1.14 × keygen+sign (350.0 µs)"
			dec += "; separate runs 500.0 µs = 1.04 × verify (480.0 µs)"
		}
		if g := got["1 KiB encrypt, 0x0578: ≤ 1.05 × (ECDSA P-384 keygen + sign)"]; g != enc {
			t.Errorf("paired 0x0578 encrypt: %q, want %q", g, enc)
		}
		if g := got["1 KiB decrypt, 0x0578: ≤ 1.05 × ECDSA P-384 verify"]; g != dec {
			t.Errorf("paired 0x0578 decrypt: %q, want %q", g, dec)
		}
	}

	var n []string
	for _, tg := range newIndex(c.results()).targets() {
		if strings.HasPrefix(tg.What, "the same with N workers") {
			n = append(n, tg.Status+" "+tg.Got)
		}
	}
	if wantN := []string{"PASS 0.90 × N × raw (1800 MB/s)", "MISS 0.50 × N × raw (2000 MB/s)"}; strings.Join(n, "|") != strings.Join(wantN, "|") {
		t.Errorf("N-worker targets = %q, want %q", n, wantN)
	}

	// A paired measurement alone (a filtered run: no stream rows to tell
	// N) is divided by the N it reports, and judged only if N ≥ 2.
	for _, c := range []struct {
		line, want string
	}{
		{"BenchmarkPaired/encrypt/stream/suite=0478/frame=64KiB/size=64MiB-2 3 1 ns/op 0.97 x-raw-1w 1.86 x-raw-Nw 2 workers\n", "PASS paired 0.93 × N × raw"},
		{"BenchmarkPaired/encrypt/stream/suite=0478/frame=64KiB/size=64MiB-2 3 1 ns/op 0.97 x-raw-1w 1.86 x-raw-Nw\n", "n/a"},
	} {
		col := newCollector()
		if err := col.add(strings.NewReader("phicrypt-source: main\n" + c.line)); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, tg := range newIndex(col.results()).targets() {
			if strings.HasPrefix(tg.What, "the same with N workers") && got == "" {
				got = tg.Status
				if tg.Status != "n/a" {
					got += " " + tg.Got
				}
			}
		}
		if got != c.want {
			t.Errorf("Paired alone, %q: N-worker target %q, want %q", c.line, got, c.want)
		}
	}

	// A paired measurement decides over the separate rows.
	c = newCollector()
	paired := fixture + "phicrypt-source: main\n" +
		"BenchmarkPaired/decrypt/stream/suite=0478/frame=64KiB/size=64MiB-2 3 1 ns/op 0.86 scaling 0.85 x-raw-1w 1.84 x-raw-Nw\n"
	if err := c.add(strings.NewReader(paired)); err != nil {
		t.Fatal(err)
	}
	var dec []string
	for _, tg := range newIndex(c.results()).targets() {
		if strings.Contains(tg.What, "decrypt, 64 MiB") || (strings.HasPrefix(tg.What, "the same") && strings.Contains(tg.Got, "paired")) {
			dec = append(dec, tg.Status+" "+tg.Got)
		}
	}
	if want := []string{
		"MISS paired 0.85 ×; separate runs 0.95 × (1900 MB/s)",
		"PASS paired 0.92 × N × raw; separate runs 0.50 × N × raw (2000 MB/s)",
	}; strings.Join(dec, "|") != strings.Join(want, "|") {
		t.Errorf("paired decrypt targets = %q, want %q", dec, want)
	}

	// The paired 1-worker decrypt is read from a bytes.Reader: beside the
	// read ceiling of the same run, it is judged as the copy feed is.
	for _, c := range []struct{ ceiling, want string }{
		{"", "MISS paired 0.81 ×"},
		{"0.83", "MISS, at the machine's ceiling paired 0.81 ×; ceiling 0.83 (0.98 of it)"},
		{"0.90", "MISS paired 0.81 ×; ceiling 0.90 (0.90 of it)"},
		{"0.97", "MISS paired 0.81 ×; ceiling 0.97 (0.84 of it)"},
	} {
		in := "phicrypt-source: main\n" +
			"BenchmarkPaired/decrypt/stream/suite=0478/frame=64KiB/size=64MiB-2 3 1 ns/op 0.81 x-raw-1w 1.5 x-raw-Nw 2 workers\n"
		if c.ceiling != "" {
			in += "BenchmarkFeeds/ceiling/read+decrypt/frame=64KiB-2 3 1 ns/op " + c.ceiling + " x-raw\n"
		}
		col := newCollector()
		if err := col.add(strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, tg := range newIndex(col.results()).targets() {
			if strings.HasPrefix(tg.What, "streaming decrypt") {
				got = tg.Status + " " + tg.Got
			}
		}
		if got != c.want {
			t.Errorf("ceiling %q: 1-worker decrypt %q, want %q", c.ceiling, got, c.want)
		}
	}
}

func TestReportFromSavedOutput(t *testing.T) {
	in := filepath.Join(t.TempDir(), "raw.txt")
	if err := os.WriteFile(in, []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"-in", in}, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	for _, want := range []string{
		"Machine: fixture box",
		"| RawGCM/seal/frame=64KiB/size=64MiB | 1000 | 1.0 | – | 1 (baseline) |",
		"| Encrypt/stream/suite=0478/frame=64KiB/size=64MiB/workers=1 | 950 | 1.0 | 78 | 0.95 |",
		"| ECDSA/sign/P384 | – | 200000 | – | – |",
		"| PeakHeap/size=1GiB | – | 1.0 | – | – |",
		"### peers",
		"| Peers/age/encrypt/size=64MiB | 400 | 1.0 | – | 0.80 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(context.Background(), []string{"-in", filepath.Join(t.TempDir(), "none")}, &out, &errOut); err == nil {
		t.Error("a missing -in file gave no error")
	}
}

// TestWriteTable: a paired benchmark shows its x-… ratios, not its MB/s
// over the baseline's (its time counts the reference's too), and every
// benchmark lists its own metrics last.
func TestWriteTable(t *testing.T) {
	c := newCollector()
	if err := c.add(strings.NewReader(`phicrypt-source: main
BenchmarkRawGCM/seal/frame=64KiB/size=1MiB-2 10 100 ns/op 1000 MB/s
BenchmarkStream/writer/frame=64KiB/size=1MiB/workers=1-2 10 125 ns/op 800 MB/s 3 allocs/op
BenchmarkOneShotPaired/encrypt/alloc/size=1MiB/workers=1-2 10 300 ns/op 500 MB/s 0.5 x-raw 5 allocs/op
BenchmarkOneShotBetween-2 10 900 ns/op 100 MB/s 0.7 x-ceil 23.5 msg-faults 16 ceil-faults
BenchmarkPeakHeap/size=1GiB-2 1 1 ns/op 0.7 peak-heap-MiB
`)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	newIndex(c.results()).writeTable(&b, "main")
	for _, want := range []string{
		"| RawGCM/seal/frame=64KiB/size=1MiB | 1000 | 100 | – | 1 (baseline) | – |",
		"| Stream/writer/frame=64KiB/size=1MiB/workers=1 | 800 | 125 | 3 | 0.80 | – |",
		"| OneShotPaired/encrypt/alloc/size=1MiB/workers=1 | 500 | 300 | 5 | x-raw 0.50 (paired) | – |",
		"| OneShotBetween | 100 | 900 | – | x-ceil 0.70 (paired) | ceil-faults 16, msg-faults 23.5 |",
		"| PeakHeap/size=1GiB | – | 1.0 | – | – | peak-heap-MiB 0.7 |",
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestFeedTargets: a feed row passes at its target; short of it, it is at
// the machine's ceiling only if it reaches 0.95 of a ceiling below the
// target measured in the same run; a row that did not run is n/a.
func TestFeedTargets(t *testing.T) {
	c := newCollector()
	out := "phicrypt-source: main\n" +
		"BenchmarkFeeds/ceiling/read+encrypt/frame=64KiB-2 3 1 ns/op 0.85 x-raw\n" +
		"BenchmarkFeeds/encrypt/copy/suite=0478/frame=64KiB/workers=1-2 3 1 ns/op 0.82 x-raw\n" +
		"BenchmarkFeeds/encrypt/w32k/suite=0478/frame=64KiB/workers=1-2 3 1 ns/op 0.70 x-raw\n" +
		"BenchmarkFeeds/encrypt/one/suite=0478/frame=64KiB/workers=1-2 3 1 ns/op 0.96 x-raw\n" +
		"BenchmarkFeeds/encrypt/w64k/suite=0478/frame=64KiB/workers=1-2 3 1 ns/op 0.89 x-raw\n" +
		"BenchmarkFeeds/ceiling/read+decrypt/frame=64KiB-2 3 1 ns/op 0.99 x-raw\n" +
		"BenchmarkFeeds/decrypt/copy/suite=0478/frame=64KiB/workers=1-2 3 1 ns/op 0.94 x-raw\n" +
		"BenchmarkOneShotPaired/encrypt/append/size=1MiB/workers=1-2 3 1 ns/op 0.97 x-raw\n"
	if err := c.add(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ft := range newIndex(c.results()).feedTargets() {
		got[ft.What] = ft.Status + " " + ft.Got + " " + ft.Ceiling
	}
	for what, want := range map[string]string{
		"encrypt, 1 worker, io.Copy from a reader without WriteTo ≥ 0.95": "MISS, at the machine's ceiling 0.82 0.85 (0.96 of it)",
		"encrypt, 1 worker, 32 KiB Writes ≥ 0.95":                         "MISS 0.70 0.85 (0.82 of it)",
		"encrypt, 1 worker, one Write ≥ 0.95":                             "PASS 0.96 ",
		"encrypt, 1 worker, 64 KiB Writes ≥ 0.90":                         "MISS 0.89 ",
		"decrypt, 1 worker, io.Copy to a writer without ReadFrom ≥ 0.95":  "MISS 0.94 0.99 (0.95 of it)",
		"encrypt, 1 worker, io.Copy from a file ≥ 0.95":                   "n/a not run: Feeds/encrypt/file/suite=0478/frame=64KiB/workers=1 ",
		// Only 1-worker feeds ran: the 1-worker one-shot rows are judged all the same.
		"1 MiB one-shot encrypt, 1 worker(s), into a caller's buffer ≥ 0.85": "PASS 0.97 ",
	} {
		if got[what] != want {
			t.Errorf("%s: got %q, want %q", what, got[what], want)
		}
	}
}
