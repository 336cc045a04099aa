package batch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
)

// TestSmallFileRoundTrip: local files up to smallFile bytes take the
// one-call path, larger ones and non-local sinks stream, and either way
// every file round-trips, under both suites and frames shorter than the
// files.
func TestSmallFileRoundTrip(t *testing.T) {
	sizes := map[string]int{"empty": 0, "one": 1, "frame": 4096, "100k": 100 << 10, "max": smallFile, "over": smallFile + 1}
	r := &runner{op: Encrypt}
	for name, n := range sizes {
		j := &job{in: item{size: int64(n)}, dst: &localSink{}}
		f, _ := os.Open(os.DevNull)
		if _, ok := r.smallInput(j, f); ok != (n <= smallFile) {
			t.Errorf("%s (%d bytes): one-call path %v", name, n, ok)
		}
		f.Close()
	}
	if _, ok := r.smallInput(&job{in: item{size: 1}, dst: stdoutSink{}}, bytes.NewReader(nil)); ok {
		t.Error("stdout sink: one-call path")
	}
	if _, ok := (&runner{op: Reencrypt}).smallInput(&job{in: item{size: 1}, dst: &localSink{}}, bytes.NewReader(nil)); ok {
		t.Error("reencrypt: one-call path")
	}

	for _, suite := range []envelope.SuiteID{0x0478, 0x0578} {
		dir := t.TempDir()
		src, enc, dec := filepath.Join(dir, "src"), filepath.Join(dir, "enc"), filepath.Join(dir, "dec")
		os.Mkdir(src, 0o700)
		want := map[string][]byte{}
		for name, n := range sizes {
			b := make([]byte, n)
			rand.Read(b)
			want[name] = b
			if err := os.WriteFile(filepath.Join(src, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		keys := testKey(t)
		o := Options{Keys: keys, Suite: suite, FrameSize: 4096, Concurrency: 2}
		if sum, err := Run(context.Background(), Encrypt, src, enc, o); err != nil || sum.OK != len(sizes) {
			t.Fatalf("suite %v: encrypt: %v %+v", suite, err, sum)
		}
		// Each output is one whole message, readable by the streaming reader.
		c := testClient(t, keys)
		for name := range sizes {
			msg, err := os.ReadFile(filepath.Join(enc, name+EncSuffix))
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.NewDecryptReader(context.Background(), bytes.NewReader(msg))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got, err := io.ReadAll(d); err != nil || !bytes.Equal(got, want[name]) {
				t.Fatalf("suite %v, %s: streaming decrypt differs: %v", suite, name, err)
			}
		}
		if sum, err := Run(context.Background(), Decrypt, enc, dec, Options{Keys: keys, Concurrency: 2}); err != nil || sum.OK != len(sizes) {
			t.Fatalf("suite %v: decrypt: %v %+v", suite, err, sum)
		}
		for name, b := range want {
			if got, err := os.ReadFile(filepath.Join(dec, name)); err != nil || !bytes.Equal(got, b) {
				t.Fatalf("suite %v, %s: round trip differs: %v", suite, name, err)
			}
		}
	}
}

func testClient(t *testing.T, ko KeyOptions) *envelope.Client {
	t.Helper()
	keys, err := LoadKeys(context.Background(), ko, false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.NewWithMaterialsManager(keys.CMM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSmallFrameLimit: a small message declaring frames longer than the
// limit fails on decrypt as a streamed one does, naming the flag, and
// leaves no output; within a raised limit it opens.
func TestSmallFrameLimit(t *testing.T) {
	dir := t.TempDir()
	keys := testKey(t)
	in := filepath.Join(dir, "in.bin")
	data := []byte("short plaintext, long declared frames")
	os.WriteFile(in, data, 0o600)
	ctx := context.Background()
	if _, err := Run(ctx, Encrypt, in, filepath.Join(dir, "in.enc"), Options{Keys: keys, FrameSize: 17 << 20}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.bin")
	sum, err := Run(ctx, Decrypt, filepath.Join(dir, "in.enc"), out, Options{Keys: keys})
	if !errors.Is(err, ErrFailed) || len(sum.Failures) != 1 || !errors.Is(sum.Failures[0].Err, envelope.ErrFrameTooLong) {
		t.Fatalf("decrypt of 17 MiB frames: %v %+v", err, sum)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused decrypt left an output: %v", err)
	}
	if _, err := Run(ctx, Decrypt, filepath.Join(dir, "in.enc"), out, Options{Keys: keys, MaxFrameSize: 17 << 20}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("round trip differs")
	}
}

// changingSource opens local files whose first Read is followed by change.
type changingSource struct {
	localSource
	change func(path string)
}

func (s *changingSource) open(_ context.Context, it item) (io.ReadCloser, error) {
	f, err := os.Open(it.path)
	return &changingFile{File: f, path: it.path, change: s.change}, err
}

type changingFile struct {
	*os.File
	path   string
	change func(string)
}

func (f *changingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	if f.change != nil {
		f.change(f.path)
		f.change = nil
	}
	return n, err
}

// TestSmallInputChangedSize: a small input that grows, shrinks or is
// rewritten (same size, new time) while it is read fails with
// ErrInputChanged, and nothing is written.
func TestSmallInputChangedSize(t *testing.T) {
	const size = 100 << 10
	for name, change := range map[string]func(string){
		"grows": func(p string) {
			f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte("more"))
			f.Close()
		},
		"shrinks": func(p string) { os.Truncate(p, size/2) },
		"rewritten": func(p string) {
			fi, _ := os.Stat(p)
			os.WriteFile(p, make([]byte, size), 0o600)
			os.Chtimes(p, time.Time{}, fi.ModTime().Add(time.Second))
		},
	} {
		dir := t.TempDir()
		in := filepath.Join(dir, "in.bin")
		b := make([]byte, size)
		rand.Read(b)
		os.WriteFile(in, b, 0o600)
		fi, _ := os.Stat(in)
		keys, err := LoadKeys(context.Background(), testKey(t), true)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := envelope.NewWithMaterialsManager(keys.CMM)
		r := &runner{op: Encrypt, o: &Options{}, client: c, dclient: c, workers: 1}
		out := filepath.Join(dir, "out")
		dst := newLocalSink(out+"/", nil)
		j := &job{in: item{name: in, rel: "in.bin", size: size, path: in, fi: fi}, src: &changingSource{change: change}, dst: dst}
		j.target, j.below, _ = dst.target("in.bin.enc", false)
		rec := r.do(context.Background(), j)
		dst.flush()
		if rec.Result != ResultFailed || !errors.Is(rec.err, ErrInputChanged) {
			t.Errorf("%s: %s, %v; want ErrInputChanged", name, rec.Result, rec.err)
		}
		if es, _ := os.ReadDir(out); len(es) != 0 {
			t.Errorf("%s: outputs %v", name, es)
		}
	}
}

// TestSmallBuffersCleared: the reused buffers hold no plaintext once a
// file is done: encrypt's input, decrypt's output.
func TestSmallBuffersCleared(t *testing.T) {
	dir := t.TempDir()
	keys, err := LoadKeys(context.Background(), testKey(t), true)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := envelope.NewWithMaterialsManager(keys.CMM)
	plain := bytes.Repeat([]byte("secret! "), 1000)
	in := filepath.Join(dir, "in")
	os.WriteFile(in, plain, 0o600)
	zero := func(b []byte) bool { return !bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) }

	r := &runner{op: Encrypt, o: &Options{}, client: c, dclient: c}
	f, _ := os.Open(in)
	defer f.Close()
	b := &smallBufs{}
	msg, err := r.sealOrOpen(context.Background(), &job{in: item{size: int64(len(plain))}}, f, f, b, &Record{})
	if err != nil {
		t.Fatal(err)
	}
	msg = bytes.Clone(msg)
	if !bytes.Equal(b.in[:len(plain)], plain) {
		t.Fatal("input not in b.in")
	}
	r.putSmall(b)
	if !zero(b.in[:cap(b.in)]) {
		t.Error("encrypt: plaintext left in the input buffer")
	}

	os.WriteFile(in, msg, 0o600)
	g, _ := os.Open(in)
	defer g.Close()
	r.op = Decrypt
	b = &smallBufs{}
	pt, err := r.sealOrOpen(context.Background(), &job{in: item{size: int64(len(msg))}}, g, g, b, &Record{})
	if err != nil || !bytes.Equal(pt, plain) {
		t.Fatalf("decrypt: %v", err)
	}
	r.putSmall(b)
	if !zero(b.out[:cap(b.out)]) {
		t.Error("decrypt: plaintext left in the output buffer")
	}
}

// TestDecryptFailureNamesMessage: the audit record of an input that fails
// to open — a frame's tag that does not verify, a key that unwraps none of
// its data keys — names the message its header claims to be, whether the
// input took the one-call path or streamed.
func TestDecryptFailureNamesMessage(t *testing.T) {
	dir := t.TempDir()
	src, enc := filepath.Join(dir, "src"), filepath.Join(dir, "enc")
	os.Mkdir(src, 0o700)
	for name, n := range map[string]int{"small": 100 << 10, "big": smallFile + 1} {
		b := make([]byte, n)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys := testKey(t)
	if _, err := Run(context.Background(), Encrypt, src, enc, Options{Keys: keys}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, name := range []string{"small", "big"} {
		p := filepath.Join(enc, name+EncSuffix)
		msg, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h, err := envelope.ParseHeader(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		ids[p] = hex.EncodeToString(h.MessageID)
	}
	tampered := filepath.Join(dir, "tampered")
	os.Mkdir(tampered, 0o700)
	for _, name := range []string{"small", "big"} {
		p := filepath.Join(enc, name+EncSuffix)
		msg, _ := os.ReadFile(p)
		msg[len(msg)-200] ^= 1 // in the last frame or the signature
		q := filepath.Join(tampered, filepath.Base(p))
		if err := os.WriteFile(q, msg, 0o600); err != nil {
			t.Fatal(err)
		}
		ids[q] = ids[p]
	}
	for _, c := range []struct {
		name, src string
		keys      KeyOptions
	}{
		{"tampered", tampered, keys},
		{"wrong key", enc, testKey(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log bytes.Buffer
			o := Options{Keys: c.keys, Audit: NewAuditLog(&log)}
			sum, err := Run(context.Background(), Decrypt, c.src, filepath.Join(t.TempDir(), "dec"), o)
			if !errors.Is(err, ErrFailed) || sum.Failed != 2 {
				t.Fatalf("decrypt: %v, %d failed, want both", err, sum.Failed)
			}
			lines := strings.Split(strings.TrimSpace(log.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("%d audit lines, want 2:\n%s", len(lines), log.String())
			}
			for _, l := range lines {
				var rec Record
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatal(err)
				}
				if rec.Result != ResultFailed || rec.MessageID != ids[rec.Input] || rec.Suite == "" || len(rec.Keys) == 0 {
					t.Errorf("%s: record %+v, want failed with message ID %s, suite and keys", rec.Input, rec, ids[rec.Input])
				}
			}
		})
	}
}
