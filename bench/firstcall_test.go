package bench

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/bench/internal/benchutil"
	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// firstCallEnv, set in a child process, names the call it makes first
// ("encrypt" or "decrypt") and holds the keyring's key in hex; the
// message to decrypt is in the file firstCallFileEnv names.
const (
	firstCallEnv     = "PHICRYPT_BENCH_FIRSTCALL"
	firstCallKeyEnv  = "PHICRYPT_BENCH_FIRSTCALL_KEY"
	firstCallFileEnv = "PHICRYPT_BENCH_FIRSTCALL_FILE"
)

// BenchmarkOneShotFirstCall measures the first one-shot call of a fresh
// process, where a warmed benchmark loop hides fresh memory (page faults,
// a heap that must grow, the first collections): 64 MiB, suite 0x0478,
// 64 KiB frames, 1 worker. Each iteration re-executes the test binary,
// which makes the payload (encrypt) or reads the message from a file as a
// service would (decrypt), times raw AES-256-GCM sealing of the payload
// (the baseline of BenchmarkRawGCM; Seal for both directions), times
// touching a fresh 64 MiB (one byte a page: the page faults any new
// output of that size costs), then times its first Encrypt or Decrypt. It
// reports x-raw (raw time / call time), x-raw-cpu (the same of the
// process's CPU time, user and system: page faults and collections count,
// a loaded machine's other work does not), x-floor (raw / (raw + touch):
// what a call that must write a fresh 64 MiB output can reach) and the
// call's time in ms; the process start is not timed. Linux and other Unix
// systems only (getrusage).
func BenchmarkOneShotFirstCall(b *testing.B) {
	if len(benchSizes(64*MiB)) == 0 {
		b.Skip("runs with the 64MiB payloads")
	}
	key := benchutil.Key(b)
	c := firstCallClient(b, key)
	ct, err := c.Encrypt(b.Context(), payload(64*MiB), benchContext())
	if err != nil {
		b.Fatal(err)
	}
	msg := filepath.Join(b.TempDir(), "message")
	if err := os.WriteFile(msg, ct, 0o600); err != nil {
		b.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, dir := range []string{"encrypt", "decrypt"} {
		b.Run(dir+"/suite=0478/frame=64KiB/size=64MiB/workers=1", func(b *testing.B) {
			var raw, op, rawCPU, opCPU, touch time.Duration
			for b.Loop() {
				cmd := exec.Command(exe, "-test.run=^TestOneShotFirstCallChild$")
				cmd.Env = append(os.Environ(), firstCallEnv+"="+dir, firstCallKeyEnv+"="+hex.EncodeToString(key), firstCallFileEnv+"="+msg)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				var r, o, rc, oc, tc int64
				if _, err := fmt.Sscanf(resultLine(out), "firstcall raw=%d op=%d rawcpu=%d opcpu=%d touch=%d", &r, &o, &rc, &oc, &tc); err != nil {
					b.Fatalf("child output %q: %v", out, err)
				}
				raw += time.Duration(r)
				op += time.Duration(o)
				rawCPU += time.Duration(rc)
				opCPU += time.Duration(oc)
				touch += time.Duration(tc)
			}
			b.ReportMetric(raw.Seconds()/op.Seconds(), "x-raw")
			b.ReportMetric(rawCPU.Seconds()/opCPU.Seconds(), "x-raw-cpu")
			b.ReportMetric(raw.Seconds()/(raw+touch).Seconds(), "x-floor")
			b.ReportMetric(op.Seconds()*1e3/float64(b.N), "ms/call")
		})
	}
}

// TestOneShotFirstCallChild is the child of BenchmarkOneShotFirstCall; it
// does nothing unless firstCallEnv is set.
func TestOneShotFirstCallChild(t *testing.T) {
	dir := os.Getenv(firstCallEnv)
	if dir == "" {
		t.Skip("runs as the child of BenchmarkOneShotFirstCall")
	}
	key, err := hex.DecodeString(os.Getenv(firstCallKeyEnv))
	if err != nil {
		t.Fatal(err)
	}
	c := firstCallClient(t, key)
	var input []byte
	if dir == "decrypt" {
		input, err = os.ReadFile(os.Getenv(firstCallFileEnv))
	} else {
		input = payload(64 * MiB)
	}
	if err != nil {
		t.Fatal(err)
	}
	pt := input
	if dir == "decrypt" {
		pt = input[:64*MiB] // the raw baseline's bytes: any 64 MiB
	}
	g := benchutil.NewGCMBaseline(t, 64*KiB)
	cpu0 := processCPU(t)
	raw := timed(func() { g.Seal(pt) })
	cpu1 := processCPU(t)
	rawCPU := cpu1 - cpu0
	var fresh []byte
	touch := timed(func() {
		fresh = make([]byte, 64*MiB)
		for i := 0; i < len(fresh); i += 4096 {
			fresh[i] = 1
		}
	})
	cpu1 = processCPU(t)
	op := timed(func() {
		if dir == "decrypt" {
			_, _, err = c.Decrypt(t.Context(), input)
		} else {
			_, err = c.Encrypt(t.Context(), input, benchContext())
		}
	})
	cpu2 := processCPU(t)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("firstcall raw=%d op=%d rawcpu=%d opcpu=%d touch=%d\n", raw.Nanoseconds(), op.Nanoseconds(), rawCPU.Nanoseconds(), (cpu2 - cpu1).Nanoseconds(), touch.Nanoseconds())
	runtime.KeepAlive(fresh)
}

// processCPU returns the CPU time, user and system, of the process's
// threads so far: with the page faults of fresh memory and the collector's
// work, without the time a loaded machine gives to others.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func firstCallClient(tb testing.TB, key []byte) *envelope.Client {
	kr, err := keyring.NewRawAES("bench", "key-1", key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := envelope.New(kr, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit),
		envelope.WithFrameLength(64*KiB), envelope.WithFrameWorkers(1))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// resultLine returns the line of out that starts with "firstcall ".
func resultLine(out []byte) string {
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "firstcall ") {
			return line
		}
	}
	return ""
}
