// Command report runs the benchmarks of package bench (and, with -peers,
// of the bench/peers module), and prints a markdown report: the machine,
// the speed targets of bench/doc.go judged PASS or MISS, and a table of every
// benchmark with MB/s, ns/op, allocs/op, its ratio to raw AES-256-GCM of
// the same frame length and payload measured in the same run (for a paired
// benchmark, the x-… ratios it measured against its reference in the same
// iterations) and its other metrics.
//
// Usage, from anywhere in the repository:
//
//	go run ./bench/cmd/report [-benchtime 1s] [-bigtime 3x] [-count N]
//	    [-filter regex] [-cpu 1,2] [-short] [-peers] [-raw out.txt] [-in out.txt]
//
// Payloads of 64 MiB and more run in a second go test invocation with
// -bigtime; the environment variable PHICRYPT_BENCH_SIZES tells the
// benchmarks which sizes a run is for. With -count N every figure is the
// median of N. -raw saves the go test output (benchstat reads it); -in
// prints the report of a saved output without running anything.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type options struct {
	benchtime, bigtime string
	count              int
	filter, cpu        string
	short, peers       bool
	raw, in            string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// run parses args, gets benchmark output (running go test, or reading
// -in) and prints the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var raw bytes.Buffer
	var cmds []string
	fmt.Fprintf(&raw, "%s: %s\n", machineMarker, machine(ctx))
	if o.in != "" {
		raw.Reset()
		b, err := os.ReadFile(o.in)
		if err != nil {
			return err
		}
		raw.Write(b)
	} else if cmds, err = runBenchmarks(ctx, o, &raw, stderr); err != nil {
		return err
	}
	return report(stdout, &raw, o, args, cmds)
}

// parseFlags parses args, which must hold only flags.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime for payloads under 64 MiB and size-less benchmarks")
	fs.StringVar(&o.bigtime, "bigtime", "3x", "go test -benchtime for payloads of 64 MiB and more (\"\" = -benchtime, one run)")
	fs.IntVar(&o.count, "count", 1, "go test -count; figures are medians")
	fs.StringVar(&o.filter, "filter", ".", "go test -bench regular expression")
	fs.StringVar(&o.cpu, "cpu", "", "go test -cpu list")
	fs.BoolVar(&o.short, "short", false, "go test -short: 64 KiB frames only")
	fs.BoolVar(&o.peers, "peers", false, "also run bench/peers (its own module)")
	fs.StringVar(&o.raw, "raw", "", "write the go test output to this file")
	fs.StringVar(&o.in, "in", "", "report on this saved output instead of running")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// runBenchmarks runs every pass of bench (and, with -peers, bench/peers),
// appending their output, each after its source and sizes markers, to raw
// and copying it to stderr; it saves raw to -raw if given, and returns the
// command lines it ran.
func runBenchmarks(ctx context.Context, o options, raw *bytes.Buffer, stderr io.Writer) ([]string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	mods := []struct{ source, dir, pkg string }{{"main", root, "./bench"}}
	if o.peers {
		mods = append(mods, struct{ source, dir, pkg string }{"peers", filepath.Join(root, "bench", "peers"), "."})
	}
	var cmds []string
	for _, m := range mods {
		for _, p := range passes(o) {
			fmt.Fprintf(raw, "%s: %s\n%s: %s\n", sourceMarker, m.source, sizesMarker, p.sizes)
			cmd, err := goTest(ctx, m.dir, m.pkg, p, o, io.MultiWriter(raw, stderr), stderr)
			cmds = append(cmds, fmt.Sprintf("(cd %s && %s)", relTo(root, m.dir), cmd))
			if err != nil {
				return nil, err
			}
		}
	}
	if o.raw != "" {
		if err := os.WriteFile(o.raw, raw.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	return cmds, nil
}

// report prints the markdown report of the go test output raw: the
// machine, the commands that ran (none with -in), the targets, and one
// table per source that has results.
func report(stdout io.Writer, raw *bytes.Buffer, o options, args, cmds []string) error {
	c := newCollector()
	if err := c.add(raw); err != nil {
		return err
	}
	ix := newIndex(c.results())
	if len(ix.rs) == 0 {
		return errors.New("no benchmark results")
	}
	if c.machine == "" {
		c.machine = "not recorded (plain go test output)"
	}
	fmt.Fprintf(stdout, "Machine: %s\n", c.machine)
	if o.in == "" {
		fmt.Fprintf(stdout, "\nCommand: `go run ./bench/cmd/report %s`\n", strings.Join(args, " "))
		for _, c := range cmds {
			fmt.Fprintf(stdout, "- `%s`\n", c)
		}
	}
	fmt.Fprintln(stdout, "\n### Targets (bench/doc.go)")
	fmt.Fprintln(stdout)
	writeTargets(stdout, ix.targets())
	if fs := ix.feedTargets(); anyRan(fs) {
		fmt.Fprintln(stdout, "\n### Feeds and one-shot calls (bench/doc.go)")
		fmt.Fprintln(stdout)
		writeFeedTargets(stdout, fs)
	}
	for _, s := range []struct{ source, title string }{{"main", "phicrypt"}, {"peers", "peers (bench/peers, same run)"}} {
		if !ix.has(s.source) {
			continue
		}
		fmt.Fprintf(stdout, "\n### %s\n\n", s.title)
		ix.writeTable(stdout, s.source)
	}
	return nil
}

// A pass is one go test invocation: a set of payload sizes and its
// -benchtime.
type pass struct{ sizes, benchtime string }

func passes(o options) []pass {
	if o.bigtime == "" || o.bigtime == o.benchtime {
		return []pass{{"", o.benchtime}}
	}
	return []pass{{"1KiB,1MiB", o.benchtime}, {"64MiB,1GiB", o.bigtime}}
}

// goTest runs the benchmarks of pkg in dir for one pass, copying their
// output to out, and returns the command line it ran.
func goTest(ctx context.Context, dir, pkg string, p pass, o options, out, errOut io.Writer) (string, error) {
	args := []string{"test", "-run", "^$", "-bench", o.filter, "-benchtime", p.benchtime,
		"-count", fmt.Sprint(o.count), "-timeout", "0"}
	if o.cpu != "" {
		args = append(args, "-cpu", o.cpu)
	}
	if o.short {
		args = append(args, "-short")
	}
	args = append(args, pkg)
	line := "go " + strings.Join(quoteAll(args), " ")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if p.sizes != "" {
		cmd.Env = append(cmd.Env, "PHICRYPT_BENCH_SIZES="+p.sizes)
		line = "PHICRYPT_BENCH_SIZES=" + p.sizes + " " + line
	}
	cmd.Stdout, cmd.Stderr = out, errOut
	fmt.Fprintf(errOut, "report: %s\n", line)
	if err := cmd.Run(); err != nil {
		return line, fmt.Errorf("%s: %w", line, err)
	}
	return line, nil
}

func quoteAll(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if strings.ContainsAny(a, " ^$*|()[]\\") {
			q[i] = "'" + a + "'"
		}
	}
	return q
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the phicrypt module")
	}
	return filepath.Dir(gomod), nil
}

func relTo(root, dir string) string {
	if r, err := filepath.Rel(root, dir); err == nil {
		return r
	}
	return dir
}

func (ix *index) has(source string) bool {
	for _, r := range ix.rs {
		if r.Source == source {
			return true
		}
	}
	return false
}

// machine describes what the figures are measured on, before the run.
func machine(ctx context.Context) string {
	ver, _ := exec.CommandContext(ctx, "go", "version").Output()
	return fmt.Sprintf("%s, %s/%s, %s, %d CPUs, GOMAXPROCS %d, load average %s at start, %s",
		strings.TrimSpace(string(ver)), runtime.GOOS, runtime.GOARCH, cpuModel(),
		runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg(), time.Now().UTC().Format("2006-01-02"))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "CPU model unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "CPU model unknown"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
