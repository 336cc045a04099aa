package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A target is one of the speed targets bench/doc.go states, judged on one
// run.
type target struct {
	What   string
	Got    string
	Status string // PASS, MISS, or n/a when a benchmark it needs did not run
}

func judged(what, got string, pass bool) target {
	if pass {
		return target{what, got, "PASS"}
	}
	return target{what, got, "MISS"}
}

func missing(what, name string) target {
	return target{what, "not run: " + strings.TrimPrefix(name, "Benchmark"), "n/a"}
}

// main returns the result of the main module's benchmark name at the
// GOMAXPROCS targets are judged at.
func (ix *index) main(name string) (result, bool) { return ix.get("main", name, ix.procs) }

// firstMain returns the first of names that ran, or the last name.
func (ix *index) firstMain(names ...string) string {
	for _, n := range names {
		if _, ok := ix.main(n); ok {
			return n
		}
	}
	return names[len(names)-1]
}

// maxWorkers is the largest workers=N among the main results whose name
// is prefix followed by N.
func (ix *index) maxWorkers(prefix string) int {
	n := 0
	for _, r := range ix.rs {
		if rest, ok := strings.CutPrefix(r.Name, prefix); ok && r.Source == "main" && r.Procs == ix.procs {
			if w, err := strconv.Atoi(rest); err == nil {
				n = max(n, w)
			}
		}
	}
	return n
}

// targets judges every target of bench/doc.go that package bench's
// benchmarks measure.
func (ix *index) targets() []target {
	var ts []target
	for _, d := range []struct{ op, raw string }{{"Encrypt", "Seal"}, {"Decrypt", "Open"}} {
		ts = append(ts, ix.streamTargets(d.op, d.raw)...)
	}

	for _, c := range []struct{ op, name, how string }{
		{"encrypt", ix.firstMain("BenchmarkKeycache/size=1KiB/encrypt/cache=warm", "BenchmarkKeycache/size=1KiB/encrypt/cached"), "KMS keyring, warm cache"},
		{"encrypt", "BenchmarkEncrypt/oneshot/suite=0478/frame=64KiB/size=1KiB/workers=1", "raw AES keyring"},
		{"decrypt", ix.firstMain("BenchmarkKeycache/size=1KiB/decrypt/cache=warm", "BenchmarkKeycache/size=1KiB/decrypt/cached"), "KMS keyring, warm cache"},
		{"decrypt", "BenchmarkDecrypt/oneshot/suite=0478/frame=64KiB/size=1KiB/workers=1", "raw AES keyring"},
	} {
		what := "1 KiB " + c.op + ", 0x0478, " + c.how + ": ≤ 5 µs and ≤ 12 allocs"
		r, ok := ix.main(c.name)
		if !ok {
			ts = append(ts, missing(what, c.name))
			continue
		}
		ns, allocs := r.Metrics["ns/op"], r.Metrics["allocs/op"]
		got := fmt.Sprintf("%s, %.0f allocs", duration(ns), allocs)
		if c.how == "raw AES keyring" {
			got += ix.smallFloor(c.op)
		}
		ts = append(ts, judged(what, got, ns <= 5000 && allocs <= 12))
	}

	keygen, okK := ix.main("BenchmarkECDSA/keygen/P384")
	for _, c := range []struct{ op, ecdsa string }{{"Encrypt", "sign"}, {"Decrypt", "verify"}} {
		name := "Benchmark" + c.op + "/oneshot/suite=0578/frame=64KiB/size=1KiB/workers=1"
		base := "ECDSA P-384 " + c.ecdsa
		if c.ecdsa == "sign" {
			base = "(ECDSA P-384 keygen + sign)"
		}
		what := fmt.Sprintf("1 KiB %s, 0x0578: ≤ 1.05 × %s", strings.ToLower(c.op), base)
		refName := c.ecdsa
		if c.ecdsa == "sign" {
			refName = "keygen+sign"
		}
		// BenchmarkSignedSmallPaired, when it ran, decides: the message
		// and its ECDSA work interleaved in one loop.
		p, okP := ix.main("BenchmarkSignedSmallPaired/" + strings.ToLower(c.op) + "/size=1KiB")
		var paired string
		if x := p.Metrics["x-raw"]; okP && x > 0 {
			paired = fmt.Sprintf("paired: message %s = %.2f × %s (%s)", duration(p.Metrics["msg-ns"]), 1/x, refName, duration(p.Metrics["ecdsa-ns"]))
		}
		r, ok := ix.main(name)
		e, ok2 := ix.main("BenchmarkECDSA/" + c.ecdsa + "/P384")
		if c.ecdsa == "sign" {
			ok2 = ok2 && okK
		}
		if !ok || !ok2 {
			if paired != "" {
				ts = append(ts, judged(what, paired, 1/p.Metrics["x-raw"] <= 1.05))
				continue
			}
			ts = append(ts, missing(what, name+" or BenchmarkECDSA/"+c.ecdsa))
			continue
		}
		ns, ref := r.Metrics["ns/op"], e.Metrics["ns/op"]
		if c.ecdsa == "sign" {
			ref += keygen.Metrics["ns/op"]
		}
		got := fmt.Sprintf("%s = %.2f × %s (%s)", duration(ns), ns/ref, refName, duration(ref))
		if paired != "" {
			ts = append(ts, judged(what, paired+"; separate runs "+got, 1/p.Metrics["x-raw"] <= 1.05))
			continue
		}
		ts = append(ts, judged(what, got, ns <= 1.05*ref))
	}

	what := "peak heap of a 1 GiB stream < 64 MiB and ≤ 2 × that of 64 MiB + 4 MiB"
	big, ok := ix.main("BenchmarkPeakHeap/size=1GiB")
	small, ok2 := ix.main("BenchmarkPeakHeap/size=64MiB")
	if !ok || !ok2 {
		ts = append(ts, missing(what, "BenchmarkPeakHeap/size=1GiB and size=64MiB"))
	} else {
		b, s := big.Metrics["peak-heap-MiB"], small.Metrics["peak-heap-MiB"]
		ts = append(ts, judged(what, fmt.Sprintf("%.1f MiB (64 MiB: %.1f MiB)", b, s), b < 64 && b <= 2*s+4))
	}
	return ts
}

func writeTargets(w io.Writer, ts []target) {
	fmt.Fprintln(w, "| target (bench/doc.go) | measured | |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, t := range ts {
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.What, t.Got, t.Status)
	}
}

// duration formats nanoseconds with a readable unit.
func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// streamTargets judges the streaming targets of op (Encrypt or Decrypt):
// 1 worker against raw GCM, and N workers against raw GCM on N goroutines,
// for which N × raw GCM on one goroutine stands in (a bound at least as
// strict: GCM on N goroutines is at most N times as fast). When
// BenchmarkPaired ran, its interleaved measurement decides and the
// separate rows are shown beside it; otherwise the separate rows decide.
func (ix *index) streamTargets(op, raw string) []target {
	prefix := "Benchmark" + op + "/stream/suite=0478/frame=64KiB/size=64MiB/workers="
	paired, hasPaired := ix.main("BenchmarkPaired/" + strings.ToLower(op) + "/stream/suite=0478/frame=64KiB/size=64MiB")
	one, okOne := ix.main(prefix + "1")
	ratio, okRatio := ix.ratio(one)
	n := ix.maxWorkers(prefix)
	many, okMany := ix.main(prefix + strconv.Itoa(n))

	what := fmt.Sprintf("streaming %s, 64 MiB, 64 KiB frames, 0x0478, 1 worker ≥ 0.95 × raw GCM %s", strings.ToLower(op), raw)
	first := measure{paired: hasPaired, pairedV: paired.Metrics["x-raw-1w"], unit: "×"}
	if okOne && okRatio {
		first.separate, first.separateV = fmt.Sprintf("%.2f × (%.0f MB/s)", ratio, one.Metrics["MB/s"]), ratio
	}
	t := first.judge(what, 0.95, prefix+"1 or its baseline")
	if op == "Decrypt" && first.paired {
		// BenchmarkPaired decrypts through io.Copy from a bytes.Reader:
		// the read's copy bounds it as it bounds the decrypt copy feed.
		if c, ok := ix.main("BenchmarkFeeds/ceiling/read+decrypt/frame=64KiB"); ok {
			ceil := c.Metrics["x-raw"]
			t.Got += fmt.Sprintf("; ceiling %.2f (%.2f of it)", ceil, first.pairedV/ceil)
			t = withCeiling(t, first.pairedV, ceil, 0.95)
		}
	}
	ts := []target{t}

	what = "the same with N workers ≥ 0.90 × N × raw GCM on one goroutine"
	if n >= 2 {
		what += fmt.Sprintf(" (N = %d)", n)
	}
	nf := float64(max(n, 1))
	pairedN := paired.Metrics["workers"] // the N BenchmarkPaired used, if it says
	if pairedN == 0 {
		pairedN = nf // older output: the workers of the stream rows
	}
	second := measure{paired: hasPaired && pairedN >= 2, pairedV: paired.Metrics["x-raw-Nw"] / pairedN, unit: "× N × raw"}
	if okMany && okOne && okRatio && n >= 2 {
		// many / (N × raw), with raw = one / ratio.
		v := many.Metrics["MB/s"] * ratio / (nf * one.Metrics["MB/s"])
		second.separate, second.separateV = fmt.Sprintf("%.2f × N × raw (%.0f MB/s)", v, many.Metrics["MB/s"]), v
	}
	ts = append(ts, second.judge(what, 0.90, prefix+"N"))
	return ts
}

// A measure is a ratio measured paired (BenchmarkPaired), in separate
// benchmarks, or both.
type measure struct {
	paired    bool
	pairedV   float64
	unit      string
	separate  string // "" when the separate rows did not run
	separateV float64
}

// judge decides by the paired value when there is one, else by the
// separate one, showing both.
func (m measure) judge(what string, min float64, missingName string) target {
	switch {
	case m.paired:
		got := fmt.Sprintf("paired %.2f %s", m.pairedV, m.unit)
		if m.separate != "" {
			got += "; separate runs " + m.separate
		}
		return judged(what, got, m.pairedV >= min)
	case m.separate != "":
		return judged(what, m.separate, m.separateV >= min)
	}
	return missing(what, missingName)
}

// smallFloor describes, when BenchmarkSmallPaired ran, a 1 KiB message of
// op (encrypt or decrypt) beside the least cryptography it needs, timed
// in the same run: where the crypto alone exceeds 5 µs, the target cannot
// be met on this machine.
func (ix *index) smallFloor(op string) string {
	r, ok := ix.main("BenchmarkSmallPaired/" + op + "/alloc/size=1KiB")
	if !ok {
		return ""
	}
	msg, crypto := r.Metrics["msg-ns"], r.Metrics["crypto-ns"]
	if msg == 0 || crypto == 0 {
		return ""
	}
	return fmt.Sprintf(" (paired: message %s, its cryptography alone %s = %.2f ×)", duration(msg), duration(crypto), crypto/msg)
}
