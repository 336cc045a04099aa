package batch

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/auditlog"
	"github.com/phicrypt/phicrypt/keyring"
)

func writeLog(t *testing.T, path string, n int) {
	t.Helper()
	l, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := l.Append(Record{Op: "encrypt", Input: strings.Repeat("x", i), Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func verifyFile(t *testing.T, path string) (LogResult, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return VerifyLog(f)
}

func TestAuditChain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	writeLog(t, path, 4)
	writeLog(t, path, 3) // appending continues the chain
	res, err := verifyFile(t, path)
	if err != nil || res.Lines != 7 {
		t.Fatalf("VerifyLog = %+v, %v; want 7 lines, nil", res, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
	}
	orig, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(orig), "\n")
	lines = lines[:len(lines)-1]

	tests := []struct {
		name     string
		mutate   func([]string) []string
		wantLine int
	}{
		{"edited line 3", func(l []string) []string {
			l[2] = strings.Replace(l[2], `"result":"ok"`, `"result":"failed"`, 1)
			return l
		}, 4},
		{"deleted line 3", func(l []string) []string { return append(l[:2:2], l[3:]...) }, 3},
		{"deleted line 1", func(l []string) []string { return l[1:] }, 1},
		{"swapped lines 5 and 6", func(l []string) []string { l[4], l[5] = l[5], l[4]; return l }, 5},
		{"inserted copy of line 2", func(l []string) []string {
			return append(append(l[:2:2], l[1]), l[2:]...)
		}, 3},
		{"cut last line", func(l []string) []string {
			l[6] = strings.TrimSuffix(l[6], "\n")
			return l
		}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			mutated := tt.mutate(append([]string(nil), lines...))
			if err := os.WriteFile(p, []byte(strings.Join(mutated, "")), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := verifyFile(t, p)
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrBrokenChain) || ce.Line != tt.wantLine {
				t.Fatalf("VerifyLog error = %v, want a ChainError at line %d", err, tt.wantLine)
			}
			if _, err := OpenAuditLog(p); !errors.Is(err, ErrBrokenChain) {
				t.Errorf("OpenAuditLog on a broken log: %v, want ErrBrokenChain", err)
			}
		})
	}
}

func TestAuditLogLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l2, err := OpenAuditLog(path); err == nil {
		l2.Close()
		t.Fatal("a second OpenAuditLog of a locked log succeeded")
	}
}

// TestFilters checks the ordered filters against Python's fnmatch, which
// aws s3 uses: the expectations were computed with fnmatch.fnmatchcase and
// "last match wins" from every name included.
func TestFilters(t *testing.T) {
	tests := []struct {
		f    []Filter
		rel  string
		want bool
	}{
		{[]Filter{}, "a/b.csv", true},
		{[]Filter{{true, "*"}, {false, "*.csv"}}, "a.csv", true},
		{[]Filter{{true, "*"}, {false, "*.csv"}}, "sub/deep/b.csv", true},
		{[]Filter{{true, "*"}, {false, "*.csv"}}, "b.json", false},
		{[]Filter{{false, "*.csv"}, {true, "*"}}, "a.csv", false},
		{[]Filter{{false, "*.csv"}}, "b.json", true},
		{[]Filter{{true, "*.tmp"}}, "x/y.tmp", false},
		{[]Filter{{true, "secret*"}}, "d/secret.csv", true},
		{[]Filter{{true, "secret*"}}, "secret/a.csv", false},
		{[]Filter{{true, "*"}, {false, "sub/*"}}, "sub/deep/c.json", true},
		{[]Filter{{true, "*"}, {false, "sub/*"}, {true, "*.tmp"}}, "sub/skip.tmp", false},
		{[]Filter{{true, "?.csv"}}, "a.csv", false},
		{[]Filter{{true, "?.csv"}}, "ab.csv", true},
		{[]Filter{{true, "[ab].csv"}}, "b.csv", false},
		{[]Filter{{true, "[!ab].csv"}}, "b.csv", true},
		{[]Filter{{true, "[!ab].csv"}}, "c.csv", false},
		{[]Filter{{true, "[a-c]x"}}, "bx", false},
		{[]Filter{{true, "[c-a]x"}}, "bx", true},
		{[]Filter{{true, "[]]x"}}, "]x", false},
		{[]Filter{{true, "[!]]x"}}, "]x", true},
		{[]Filter{{true, "[a"}}, "[a", false},
		{[]Filter{{true, "a[*]"}}, "a*", false},
		{[]Filter{{true, "a[*]"}}, "ab", true},
		{[]Filter{{true, "a.b"}}, "axb", true},
		{[]Filter{{true, "*.CSV"}}, "a.csv", true},
		{[]Filter{{true, "a\\b"}}, "a\\b", false},
		{[]Filter{{true, "[a-]"}}, "-", false},
		{[]Filter{{true, "é?"}}, "éé", false},
		{[]Filter{{true, "*"}}, "line\nbreak", false},
	}
	for _, tt := range tests {
		f, err := newFilters(tt.f, nil, nil)
		if err != nil {
			t.Fatalf("%+v: %v", tt.f, err)
		}
		if got := f.keep(tt.rel); got != tt.want {
			t.Errorf("%+v.keep(%q) = %v, want %v", tt.f, tt.rel, got, tt.want)
		}
	}
}

// TestLegacyFilter checks that Options.Include and Exclude keep their
// meaning, alone and with Filters.
func TestLegacyFilter(t *testing.T) {
	tests := []struct {
		f    legacyFilter
		rel  string
		want bool
	}{
		{legacyFilter{}, "a/b.csv", true},
		{legacyFilter{include: []string{"*.csv"}}, "a/b.csv", true},
		{legacyFilter{include: []string{"*.csv"}}, "a/b.json", false},
		{legacyFilter{include: []string{"a/*.csv"}}, "a/b.csv", true},
		{legacyFilter{include: []string{"a/*.csv"}}, "c/a/b.csv", false},
		{legacyFilter{exclude: []string{"*.tmp"}}, "x/y.tmp", false},
		{legacyFilter{include: []string{"*.csv"}, exclude: []string{"secret*"}}, "d/secret.csv", false},
	}
	for _, tt := range tests {
		f, err := newFilters(nil, tt.f.include, tt.f.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.keep(tt.rel); got != tt.want {
			t.Errorf("%+v.keep(%q) = %v, want %v", tt.f, tt.rel, got, tt.want)
		}
	}
	if _, err := newFilters(nil, []string{"[a"}, nil); !errors.Is(err, ErrUsage) {
		t.Errorf("bad glob: %v, want ErrUsage", err)
	}
	both, _ := newFilters([]Filter{{Exclude: true, Glob: "b*"}}, []string{"*.csv"}, nil)
	if both.keep("b.csv") || !both.keep("a.csv") || both.keep("a.json") {
		t.Error("Filters and Include together: both must keep a name")
	}
}

func TestOutName(t *testing.T) {
	tests := []struct {
		op       Op
		in, want string
	}{
		{Encrypt, "a/b.txt", "a/b.txt.enc"},
		{Decrypt, "a/b.txt.enc", "a/b.txt"},
		{Decrypt, "a/b.bin", "a/b.bin.dec"},
		{Decrypt, "a/.enc", "a/.enc.dec"},
	}
	for _, tt := range tests {
		if got := OutputName(tt.op, tt.in, EncSuffix); got != tt.want {
			t.Errorf("OutputName(%s, %q) = %q, want %q", tt.op, tt.in, got, tt.want)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestAtomicFile(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("named=%v", named), func(t *testing.T) { testAtomicFile(t, named) })
	}
}

func testAtomicFile(t *testing.T, named bool) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	create := func(rel string, input fs.FileInfo, overwrite bool) (*atomicFile, error) {
		return createAtomic(newOutDirs(root), rel, rel, input, overwrite, named)
	}
	target := filepath.Join("sub", "out.enc")

	a, err := create(target, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("partial"))
	a.abort()
	if names := listDir(t, filepath.Join(dir, "sub")); len(names) != 0 {
		t.Fatalf("after abort: %v left", names)
	}

	a, _ = create(target, nil, false)
	a.Write([]byte("v1"))
	if _, err := root.Stat(target); err == nil {
		t.Fatal("target visible before commit")
	}
	if err := a.commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := create(target, nil, false); !errors.Is(err, ErrExists) {
		t.Fatalf("create over an existing target: %v, want ErrExists", err)
	}

	// A target that appears between create and commit is not replaced.
	a, _ = create("other", nil, false)
	os.WriteFile(filepath.Join(dir, "other"), []byte("theirs"), 0o600)
	a.Write([]byte("mine"))
	if err := a.commit(); !errors.Is(err, ErrExists) {
		t.Fatalf("commit over a new file: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "other")); string(b) != "theirs" {
		t.Fatalf("other = %q", b)
	}

	a, err = create(target, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("v2"))
	if err := a.commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, target)); string(b) != "v2" {
		t.Fatalf("target = %q after overwrite", b)
	}
	fi, _ := os.Stat(filepath.Join(dir, target))
	if _, err := create(target, fi, true); !errors.Is(err, ErrSameFile) {
		t.Fatalf("output = input: %v, want ErrSameFile", err)
	}
	if names := listDir(t, dir); len(names) != 2 {
		t.Fatalf("temporary files left: %v", names)
	}
	if names := listDir(t, filepath.Join(dir, "sub")); len(names) != 1 {
		t.Fatalf("temporary files left: %v", names)
	}
}

func TestInspect(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.NewRawAES(KeyNamespace, "k1", key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const fl = 100
	for _, suite := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		c, err := envelope.New(kr, envelope.WithSuite(suite), envelope.WithFrameLength(fl))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, fl - 1, fl, 3*fl + 5} {
			ct, err := c.Encrypt(ctx, make([]byte, n), map[string]string{"tenant": "t1"})
			if err != nil {
				t.Fatal(err)
			}
			info, err := Inspect(bytes.NewReader(ct))
			if err != nil {
				t.Fatalf("suite %s, %d bytes: %v", suite, n, err)
			}
			wantFrames := uint32(max(1, (n+fl-1)/fl)) // a full last frame is the final frame
			if info.FrameCount != wantFrames || info.PlaintextLength != int64(n) || info.MessageLength != int64(len(ct)) ||
				info.Suite != suite.String() || info.Signed != suite.Signed() || info.EncryptionContext["tenant"] != "t1" ||
				len(info.EncryptedDataKeys) != 1 || info.EncryptedDataKeys[0] != (EDKInfo{KeyNamespace, "k1"}) {
				t.Fatalf("suite %s, %d bytes: %+v", suite, n, info)
			}
			// Through a reader that cannot seek, the result is the same.
			info2, err := Inspect(struct{ *bytes.Reader }{bytes.NewReader(ct)})
			if err != nil || info2.FrameCount != wantFrames {
				t.Fatalf("unseekable: %+v, %v", info2, err)
			}
			if _, err := Inspect(bytes.NewReader(ct[:len(ct)-1])); !errors.Is(err, envelope.ErrTruncated) {
				t.Fatalf("truncated: %v, want ErrTruncated", err)
			}
			if _, err := Inspect(bytes.NewReader(append(ct, 0))); !errors.Is(err, ErrTrailing) {
				t.Fatalf("trailing byte: %v, want ErrTrailing", err)
			}
		}
	}
	if _, err := Inspect(strings.NewReader("not a message")); !errors.Is(err, envelope.ErrMalformedHeader) {
		t.Fatalf("garbage: %v, want ErrMalformedHeader", err)
	}
}

// FuzzInspect: no input makes Inspect panic, and a message it accepts has
// a consistent length.
func FuzzInspect(f *testing.F) {
	c := zeroKeyClient(f, 64)
	for _, n := range []int{0, 100} {
		ct, err := c.Encrypt(context.Background(), make([]byte, n), map[string]string{"a": "b"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ct)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		info, err := Inspect(bytes.NewReader(msg))
		if err == nil && info.MessageLength != int64(len(msg)) {
			t.Fatalf("message length %d, input %d", info.MessageLength, len(msg))
		}
	})
}

// FuzzVerifyLog: no input makes VerifyLog panic, and a log it accepts
// gains a verifiable line when appended to.
func FuzzVerifyLog(f *testing.F) {
	var b bytes.Buffer
	l := NewAuditLog(&b)
	l.Append(Record{Op: "encrypt", Result: "ok"})
	l.Append(Record{Op: "decrypt", Result: "failed", Error: "x"})
	f.Add(b.Bytes())
	f.Add([]byte("{\"prev\":\"\"}\n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		res, err := VerifyLog(bytes.NewReader(log))
		if err != nil {
			return
		}
		var more bytes.Buffer
		l := &AuditLog{w: auditlog.NewWriter(&more, auditlog.Result{Lines: res.Lines, Head: res.Head}, auditlog.Options{}), ctx: context.Background()}
		l.Append(Record{Op: "encrypt", Result: "ok"})
		if res2, err := VerifyLog(io.MultiReader(bytes.NewReader(log), &more)); err != nil || res2.Lines != res.Lines+1 {
			t.Fatalf("after append: %+v, %v", res2, err)
		}
	})
}

// TestInputKeepBounded: a decrypt's names without the suffix are named up
// to MaxFailures and counted past it, and nothing kept is ErrNothingMatched
// with the counts.
func TestInputKeepBounded(t *testing.T) {
	k, err := inputFilter(Decrypt, location{kind: locS3}, location{kind: locLocal, path: t.TempDir()},
		&Options{Filters: []Filter{{Exclude: true, Glob: "*.tmp"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxFailures + 5 {
		k.keep(fmt.Sprintf("f%d.txt", i))
	}
	k.keep("x.tmp")
	err = k.nothingMatched()
	if len(k.skips) != MaxFailures || k.skipsOmitted != 5 || k.filtered != 1 || !errors.Is(err, ErrNothingMatched) ||
		!strings.Contains(err.Error(), "1006 names listed, all filtered out: 1 by --include/--exclude, 1005 lack the \".enc\" suffix") {
		t.Fatalf("skips %d, omitted %d, filtered %d: %v", len(k.skips), k.skipsOmitted, k.filtered, err)
	}
	if _, err := inputFilter(Encrypt, location{}, location{}, &Options{Suffix: "a/b"}); !errors.Is(err, ErrUsage) {
		t.Fatalf("suffix with /: %v", err)
	}
}

func TestParsePairs(t *testing.T) {
	m, err := ParsePairs("--context", []string{"a=1", "b=x=y", "c="})
	if err != nil || m["a"] != "1" || m["b"] != "x=y" || m["c"] != "" || len(m) != 3 {
		t.Fatalf("ParsePairs = %v, %v", m, err)
	}
	for _, bad := range [][]string{{"a"}, {"=v"}, {"a=1", "a=2"}} {
		if _, err := ParsePairs("--context", bad); !errors.Is(err, ErrUsage) {
			t.Errorf("ParsePairs(%q) = %v, want ErrUsage", bad, err)
		}
	}
}
