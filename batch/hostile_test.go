package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestHostileUnsafeNames: object keys and names that, joined to the
// destination, would leave it or alias another output.
func TestHostileUnsafeNames(t *testing.T) {
	for _, rel := range []string{"", ".", "..", "../x", "a/../../x", "a/..", "/etc/passwd", "a//b", "a/./b", "./a", "a/", "a\x00b"} {
		if err := checkRel(rel); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("checkRel(%q) = %v, want ErrUnsafeName", rel, err)
		} else if strings.ContainsRune(err.Error(), 0) {
			t.Errorf("checkRel(%q): unquoted name in %q", rel, err)
		}
	}
	for _, rel := range []string{"a", "a/b.enc", ".hidden", "a/..b", "...", "x y/ü"} {
		if err := checkRel(rel); err != nil {
			t.Errorf("checkRel(%q) = %v", rel, err)
		}
	}
}

// TestHostileQuote: untrusted strings printed raw inject control
// characters into the terminal, or flood it.
func TestHostileQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.enc":  "plain name.enc",
		`say "hi"`:        `say "hi"`,
		"a\nb":            `"a\nb"`,
		"\x1b[2Kx":        `"\x1b[2Kx"`,
		"\u009b2K":        `"\u009b2K"`,
		"bad\xffutf8":     `"bad\xffutf8"`,
		"line\u2028break": `"line\u2028break"`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %s, want %s", in, got, want)
		}
	}
	long := strings.Repeat("é", 1000) // 2000 bytes
	if got := Quote(long); len(got) > maxQuoted+5 || !strings.HasSuffix(got, `"...`) || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("Quote of 2000 bytes: %d bytes, %q...", len(got), got[:20])
	}
}

// TestHostileAuditControls: a file name carrying DEL or C1 controls
// (U+009B is CSI to a terminal) must not reach the audit log raw, where
// encoding/json leaves them, nor change what the line says.
func TestHostileAuditControls(t *testing.T) {
	var buf bytes.Buffer
	l := NewAuditLog(&buf)
	name := "a\u009b2Kb\x7fc\u0085d"
	if err := l.Append(Record{Op: "encrypt", Input: name, Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if bytes.ContainsFunc(line, func(r rune) bool { return r == 0x7f || r >= 0x80 && r <= 0x9f }) {
		t.Fatalf("raw control characters in the audit line %q", line)
	}
	var got Record
	if err := json.Unmarshal(line, &got); err != nil || got.Input != name {
		t.Fatalf("line %q decodes to input %q, %v; want %q", line, got.Input, err, name)
	}
	if _, err := VerifyLog(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// FuzzTargetName: whatever name a listing or an object key gives, the
// local output either is refused as ErrUnsafeName, with the name quoted,
// or lies strictly below the destination directory.
func FuzzTargetName(f *testing.F) {
	for _, s := range []string{"a/b.enc", "../x", "a//b", "/etc/passwd", "a/./b", "a\x00b", "a/..", "x\n\x1b[2K", "C:\\x", "a\\..\\..\\b"} {
		f.Add(s)
	}
	dst := f.TempDir()
	f.Fuzz(func(t *testing.T, rel string) {
		s := &localSink{path: dst, dir: dst, isDir: true}
		name, below, err := s.target(rel, false)
		if err != nil {
			if !errors.Is(err, ErrUnsafeName) {
				t.Fatalf("target(%q): %v, want ErrUnsafeName", rel, err)
			}
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("target(%q): control character in %q", rel, err)
			}
			return
		}
		if !filepath.IsLocal(below) || name != filepath.Join(dst, below) {
			t.Fatalf("target(%q) = %q, %q: not below %q", rel, name, below, dst)
		}
		if r, err := filepath.Rel(dst, name); err != nil || r == "." || !filepath.IsLocal(r) {
			t.Fatalf("target(%q) = %q: outside %q (%q, %v)", rel, name, dst, r, err)
		}
	})
}

// TestHostileListingMemory: whoever can write to a prefix fills it with
// millions of empty objects to exhaust the memory of the run that lists
// it; listing 40,000 objects of which a shard keeps almost none must hold
// no more live heap than listing 2,000 does.
func TestHostileListingMemory(t *testing.T) {
	key := testKey(t)
	peak := func(n int) uint64 {
		var top uint64
		f := &listingS3{n: n, onPage: func(int) {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			top = max(top, m.HeapAlloc)
		}}
		sum, err := Run(context.Background(), Encrypt, "s3://b/p/", "s3://b/out/", Options{Keys: key, S3Client: f.client(), Shard: Shard{Index: 0, Count: 100000}})
		if err != nil || sum.Failed != 0 {
			t.Fatalf("Run(%d) = %+v, %v", n, sum, err)
		}
		return top
	}
	peak(1000) // warm up what the SDK and the runtime keep once
	small, large := peak(2000), peak(40000)
	t.Logf("peak live heap: %d KiB listing 2,000, %d KiB listing 40,000", small>>10, large>>10)
	if large > small+2<<20 { // holding the listing would add 5 MiB
		t.Fatalf("peak live heap grew by %d KiB from 2,000 to 40,000 listed objects", (large-small)>>10)
	}
}

// TestHostileManyFailures: millions of objects that each fail (not
// messages, say) would grow the Summary without bound; it names
// MaxFailures of them and counts the rest.
func TestHostileManyFailures(t *testing.T) {
	s := &Summary{}
	for i := range MaxFailures + 500 {
		s.add(Record{Input: strconv.Itoa(i), Result: ResultFailed, Error: "x"})
	}
	if s.Failed != MaxFailures+500 || len(s.Failures) != MaxFailures || s.FailuresOmitted != 500 || s.Failures[0].Input != "0" {
		t.Fatalf("failed %d, %d named, %d omitted", s.Failed, len(s.Failures), s.FailuresOmitted)
	}
}

// manifestS3 is an in-process S3 endpoint that serves any GET of an
// object as "plaintext of " + its bucket and key, and stores PUTs.
type manifestS3 struct {
	mu      sync.Mutex
	puts    map[string][]string // key -> bodies, in order
	objects map[string]bool     // bucket/key that HEAD finds
}

func (f *manifestS3) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	reply := func(code int, b string) (*http.Response, error) {
		return &http.Response{StatusCode: code, Header: http.Header{"Etag": {`"0"`}}, Body: io.NopCloser(strings.NewReader(b)), ContentLength: int64(len(b)), Request: r}, nil
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		if r.URL.Query().Get("list-type") == "2" {
			prefix := r.URL.Query().Get("prefix")
			var keys []string
			for k := range f.objects {
				if b, k, _ := strings.Cut(k, "/"); b == bucket && strings.HasPrefix(k, prefix) {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			var x strings.Builder
			fmt.Fprintf(&x, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><IsTruncated>false</IsTruncated>`, bucket, prefix, len(keys))
			for _, k := range keys {
				fmt.Fprintf(&x, "<Contents><Key>%s</Key><Size>%d</Size></Contents>", k, len("plaintext of "+bucket+"/"+k))
			}
			x.WriteString("</ListBucketResult>")
			return reply(200, x.String())
		}
		return reply(200, "plaintext of "+bucket+"/"+key)
	case http.MethodHead:
		if f.objects[bucket+"/"+key] {
			resp, err := reply(200, "")
			resp.ContentLength = 0
			resp.Header.Set("Content-Length", strconv.Itoa(len("plaintext of "+bucket+"/"+key)))
			return resp, err
		}
		return reply(404, "") // as two HEADs racing before either PUT see it
	case http.MethodPut:
		if f.puts == nil {
			f.puts = map[string][]string{}
		}
		f.puts[bucket+"/"+key] = append(f.puts[bucket+"/"+key], string(body))
		return reply(200, "")
	}
	return reply(501, "")
}

// TestHostileManifestSameS3Output: a manifest names one key in two
// buckets (or one row twice); written to an S3 prefix, both outputs are
// the same object. Both were uploaded and reported done, the later
// replacing the earlier: one input's output was lost with exit 0. The
// later must fail with ErrSameOutput, as it does into a local directory.
func TestHostileManifestSameS3Output(t *testing.T) {
	m := filepath.Join(t.TempDir(), "m.csv")
	if err := os.WriteFile(m, []byte("b1,k\nb2,k\nb1,j\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, overwrite := range []bool{false, true} {
		f := &manifestS3{}
		api := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.test"), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: &http.Client{Transport: f}})
		sum, err := Run(context.Background(), Encrypt, "", "s3://out/p/", Options{Keys: testKey(t), S3Client: api, Manifest: m, Overwrite: overwrite, Concurrency: 1})
		if err == nil || sum == nil || sum.Failed != 1 || len(sum.Failures) != 1 || !errors.Is(sum.Failures[0].Err, ErrSameOutput) {
			t.Fatalf("overwrite %v: Run = %+v, %v; want one ErrSameOutput", overwrite, sum, err)
		}
		if n := len(f.puts["out/p/k.enc"]); n != 1 {
			t.Fatalf("overwrite %v: s3://out/p/k.enc uploaded %d times", overwrite, n)
		}
	}
}

// TestHostileReencryptOverlappingS3: reencrypt keeps each input's name
// below DST, so a DST that is SRC spelled with or without the trailing
// slash, or a prefix inside SRC or around it, makes outputs of inputs:
// "s3://b/p s3://b/p/ --overwrite" replaced every input of an unversioned
// bucket, past the "to itself" refusal that compared the strings only.
func TestHostileReencryptOverlappingS3(t *testing.T) {
	for _, c := range []struct {
		src, dst string
		refuse   bool
	}{
		{"s3://b/p", "s3://b/p/", true},
		{"s3://b/p/", "s3://b/p", true},
		{"s3://b/p/", "s3://b/p/new/", true},
		{"s3://b/p/new/", "s3://b/p/", true},
		{"s3://b/", "s3://b/new/", true},
		{"s3://b/p/x.enc", "s3://b/p/", true},
		{"s3://b/p/", "s3://b/pq/", false},
		{"s3://b/p/", "s3://c/p/", false},
		{"s3://b/p/x.enc", "s3://b/p/y.enc", false},
	} {
		f := &manifestS3{}
		api := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.test"), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: &http.Client{Transport: f}})
		_, err := Run(context.Background(), Reencrypt, c.src, c.dst, Options{Keys: testKey(t), S3Client: api, Overwrite: true, Concurrency: 1})
		if got := errors.Is(err, ErrUsage); got != c.refuse {
			t.Errorf("reencrypt %s %s: %v, want refused %v", c.src, c.dst, err, c.refuse)
		}
		if c.refuse && len(f.puts) > 0 {
			t.Errorf("reencrypt %s %s: wrote %v", c.src, c.dst, f.puts)
		}
	}
}

// TestHostileOutputReplacesAuditLog: an input named after the audit log
// ("audit.jsonl.enc", decrypted into the directory that holds
// --metadata-output audit.jsonl) with --overwrite renamed its output over
// the log: the lines written so far were replaced by the input's
// plaintext, and those written after went to the unlinked file, with
// exit 0. The input fails with ErrAuditOutput; the log stays whole.
func TestHostileOutputReplacesAuditLog(t *testing.T) {
	dir, key := t.TempDir(), testKey(t)
	src, enc, out := filepath.Join(dir, "src"), filepath.Join(dir, "enc"), filepath.Join(dir, "out")
	for _, d := range []string{src, out} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"a", "audit.jsonl", "z"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte("attacker's "+n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Run(context.Background(), Encrypt, src, enc, Options{Keys: key}); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(out, "audit.jsonl")
	audit, err := OpenAudit(context.Background(), logPath, AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), Decrypt, enc, out, Options{Keys: key, Audit: audit, Overwrite: true, Concurrency: 1})
	if cerr := audit.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err == nil || sum.Failed != 1 || sum.OK != 2 || !errors.Is(sum.Failures[0].Err, ErrAuditOutput) {
		t.Fatalf("Run = %+v, %v; want the log's namesake to fail with ErrAuditOutput", sum, err)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := VerifyLog(bytes.NewReader(b)); err != nil || bytes.Count(b, []byte("\n")) != 3 {
		t.Fatalf("the log after the run: %+v, %v:\n%s", res, err, b)
	}
}

// TestHostileS3OutputIsInput: one object as SRC and DST ("s3crypt
// encrypt s3://b/k s3://b/k --overwrite", a slip of the hand) replaced the
// input with its own ciphertext (decrypt: a message with its plaintext),
// where a local file given twice fails with ErrSameFile.
func TestHostileS3OutputIsInput(t *testing.T) {
	f := &manifestS3{objects: map[string]bool{"b/p/k": true}}
	api := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.test"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: &http.Client{Transport: f}})
	sum, err := Run(context.Background(), Encrypt, "s3://b/p/k", "s3://b/p/k", Options{Keys: testKey(t), S3Client: api, Overwrite: true})
	if err == nil || sum.Failed != 1 || !errors.Is(sum.Failures[0].Err, ErrSameFile) {
		t.Fatalf("Run = %+v, %v; want ErrSameFile", sum, err)
	}
	if len(f.puts) > 0 {
		t.Fatalf("wrote %v", f.puts)
	}
	// Into the prefix holding it, the output is another object.
	sum, err = Run(context.Background(), Encrypt, "s3://b/p/k", "s3://b/p/", Options{Keys: testKey(t), S3Client: api, Overwrite: true})
	if err != nil || sum.OK != 1 || len(f.puts["b/p/k.enc"]) != 1 {
		t.Fatalf("Run into the prefix = %+v, %v; puts %v", sum, err, f.puts)
	}
}

// TestHostileS3PrefixIntoItself: an S3 prefix encrypted into itself, as a
// local directory may be: the outputs land among the inputs, where the
// listing's later pages meet them, and each was encrypted again
// ("a.enc.enc", then "a.enc.enc.enc"…, as far as the listing ran behind),
// and an existing "x.enc.enc" was decrypted over the input "x.enc". The
// rules of a local directory written into itself apply: on encrypt, names
// with the suffix are skipped; on decrypt, those whose output is an input.
func TestHostileS3PrefixIntoItself(t *testing.T) {
	f := &manifestS3{objects: map[string]bool{"b/p/a": true, "b/p/a.enc": true}}
	api := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.test"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: &http.Client{Transport: f}})
	for _, dst := range []string{"s3://b/p/", "s3://b/p"} {
		f.puts = nil
		sum, err := Run(context.Background(), Encrypt, "s3://b/p/", dst, Options{Keys: testKey(t), S3Client: api, Overwrite: true, Concurrency: 1})
		if err != nil || sum.OK != 1 || len(f.puts) != 1 || len(f.puts["b/p/a.enc"]) != 1 {
			t.Fatalf("encrypt s3://b/p/ %s: %+v, %v; puts %v", dst, sum, err, slices.Collect(maps.Keys(f.puts)))
		}
	}
}

// TestHostileS3PrefixDecryptIntoItself: decrypting a prefix into itself,
// "x.enc.enc" is skipped: its output would be the input "x.enc".
func TestHostileS3PrefixDecryptIntoItself(t *testing.T) {
	f := &manifestS3{objects: map[string]bool{"b/p/x.enc": true, "b/p/x.enc.enc": true}}
	api := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.test"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: &http.Client{Transport: f}})
	sum, _ := Run(context.Background(), Decrypt, "s3://b/p/", "s3://b/p/", Options{Keys: testKey(t), S3Client: api, Overwrite: true, Concurrency: 1})
	if sum.Files != 1 || len(sum.Skips) != 1 || sum.Skips[0].Input != "x.enc.enc" {
		t.Fatalf("decrypt s3://b/p/ into itself: %+v", sum)
	}
}

// TestHostileS3DestinationInsideSource: "encrypt s3://b/ s3://b/enc/"
// listed the destination with the source: its objects, the run's own
// outputs among them as the listing reached them, were encrypted again
// into enc/enc/…, and those again, each level one more copy of the data.
// Names below the destination are skipped.
func TestHostileS3DestinationInsideSource(t *testing.T) {
	f := &manifestS3{objects: map[string]bool{"b/a": true, "b/enc/old.enc": true, "b/z": true}}
	api := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.test"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), HTTPClient: &http.Client{Transport: f}})
	for _, c := range [][2]string{{"s3://b/", "s3://b/enc/"}, {"s3://b", "s3://b/enc"}} {
		f.puts = nil
		sum, err := Run(context.Background(), Encrypt, c[0], c[1], Options{Keys: testKey(t), S3Client: api, Concurrency: 1})
		puts := slices.Sorted(maps.Keys(f.puts))
		if err != nil || sum.OK != 2 || len(sum.Skips) != 1 || !slices.Equal(puts, []string{"b/enc/a.enc", "b/enc/z.enc"}) {
			t.Fatalf("encrypt %s %s: %+v, %v; puts %v", c[0], c[1], sum, err, puts)
		}
	}
}
