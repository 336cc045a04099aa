package batch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// listingS3 is an in-process S3 endpoint for bucket "b": n objects
// "p/k00000000"… of 5 bytes each, listed page (0: 1,000) a page, the keys
// made per page, never held; HEAD of anything else is 404 and PUT
// succeeds. onPage, if set, runs before page i is served, on the listing
// goroutine.
type listingS3 struct {
	n, page int
	onPage  func(i int)
}

func listingKey(i int) string { return fmt.Sprintf("p/k%08d", i) }

func (f *listingS3) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	key := strings.TrimPrefix(r.URL.Path, "/b/")
	reply := func(code int, body string, h ...string) (*http.Response, error) {
		resp := &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
		for i := 0; i < len(h); i += 2 {
			resp.Header.Set(h[i], h[i+1])
		}
		return resp, nil
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		page := cmp.Or(f.page, 1000)
		from, _ := strconv.Atoi(r.URL.Query().Get("continuation-token"))
		if f.onPage != nil {
			f.onPage(from / page)
		}
		to := min(from+page, f.n)
		var b strings.Builder
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><MaxKeys>%d</MaxKeys><KeyCount>%d</KeyCount>`, page, to-from)
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "<Contents><Key>%s</Key><Size>5</Size></Contents>", listingKey(i))
		}
		if to < f.n {
			fmt.Fprintf(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>%d</NextContinuationToken>", to)
		} else {
			b.WriteString("<IsTruncated>false</IsTruncated>")
		}
		b.WriteString("</ListBucketResult>")
		return reply(200, b.String(), "Content-Type", "application/xml")
	case r.Method == http.MethodGet && strings.HasPrefix(key, "p/"):
		return reply(200, "hello", "Content-Length", "5")
	case r.Method == http.MethodHead:
		return reply(404, "")
	case r.Method == http.MethodPut:
		return reply(200, "", "ETag", `"0"`)
	}
	return reply(501, "")
}

func (f *listingS3) client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://s3.test"),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		HTTPClient:   &http.Client{Transport: f},
	})
}

func testKey(t *testing.T) KeyOptions {
	t.Helper()
	p := filepath.Join(t.TempDir(), "k.key")
	if err := Keygen(p); err != nil {
		t.Fatal(err)
	}
	return KeyOptions{Specs: []string{"aes:" + p}}
}

// signalWriter closes c on its first write.
type signalWriter struct {
	once sync.Once
	c    chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.c) })
	return len(p), nil
}

// TestListingStreams: the first input is processed, and its audit line
// written, while the listing still waits for its second page.
func TestListingStreams(t *testing.T) {
	first := &signalWriter{c: make(chan struct{})}
	var waited bool
	f := &listingS3{n: 3, page: 2, onPage: func(i int) {
		if i != 1 {
			return
		}
		select {
		case <-first.c:
		case <-time.After(20 * time.Second): // only when nothing streams
			waited = true
		}
	}}
	dst := t.TempDir()
	sum, err := Run(context.Background(), Encrypt, "s3://b/p/", dst, Options{Keys: testKey(t), S3Client: f.client(), Audit: NewAuditLog(first), Concurrency: 2})
	if err != nil || sum.OK != f.n {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	if waited {
		t.Fatal("the second page was requested before any input was done: the listing did not stream")
	}
	if _, err := os.Stat(filepath.Join(dst, "k00000000.enc")); err != nil {
		t.Fatal(err)
	}
}

// progressLog records a run's Progress calls in order, and closes
// firstDone (if not nil) after the first FileDone.
type progressLog struct {
	mu        sync.Mutex
	events    []string
	listed    int
	firstDone chan struct{}
	once      sync.Once
}

func (p *progressLog) log(e string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) == 0 || p.events[len(p.events)-1] != e {
		p.events = append(p.events, e)
	}
}

func (p *progressLog) Start() { p.log("start") }
func (p *progressLog) Listed(n int, _ int64) {
	p.mu.Lock()
	p.listed += n
	p.mu.Unlock()
	p.log("listed")
}
func (p *progressLog) ListingDone() { p.log("listing done") }
func (p *progressLog) Add(int64)    {}
func (p *progressLog) FileDone(r string) {
	p.log("done " + r)
	if p.firstDone != nil {
		p.once.Do(func() { close(p.firstDone) })
	}
}
func (p *progressLog) Skipped(int) {}
func (p *progressLog) Stop()       { p.log("stop") }

// TestListingProgress: the display hears of the first input done before
// the listing ends, and the count listed is the total.
func TestListingProgress(t *testing.T) {
	pr := &progressLog{firstDone: make(chan struct{})}
	f := &listingS3{n: 3, page: 2, onPage: func(i int) {
		if i == 1 {
			select {
			case <-pr.firstDone:
			case <-time.After(20 * time.Second): // only when nothing streams
			}
		}
	}}
	sum, err := Run(context.Background(), Encrypt, "s3://b/p/", t.TempDir(), Options{Keys: testKey(t), S3Client: f.client(), Progress: pr, Concurrency: 1})
	if err != nil || sum.OK != 3 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	got := strings.Join(pr.events, ", ")
	if !strings.HasPrefix(got, "start, listed, done ok, listed, ") || !strings.Contains(got, "listing done") || !strings.HasSuffix(got, ", stop") || pr.listed != 3 {
		t.Fatalf("progress calls: %s; %d listed", got, pr.listed)
	}
}

// TestListingInterrupt: once the run is cancelled no further page is
// listed, and every input listed but not done counts as failed.
func TestListingInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := &signalWriter{c: make(chan struct{})}
	var mu sync.Mutex
	pages := 0
	f := &listingS3{n: 10, page: 2, onPage: func(i int) {
		mu.Lock()
		pages = max(pages, i+1)
		mu.Unlock()
		if i == 1 {
			<-first.c
			cancel()
		}
	}}
	sum, err := Run(ctx, Encrypt, "s3://b/p/", t.TempDir(), Options{Keys: testKey(t), S3Client: f.client(), Audit: NewAuditLog(first), Concurrency: 1})
	if !errors.Is(err, ErrInterrupted) || !sum.Interrupted || sum.OK < 1 {
		t.Fatalf("Run = %+v, %v", sum, err)
	}
	if pages > 2 {
		t.Errorf("%d pages listed after the interrupt at the second", pages)
	}
	if n := sum.OK + sum.Failed; n != 2 && n != 4 {
		t.Errorf("%d ok + %d failed, want the 2 or 4 inputs listed", sum.OK, sum.Failed)
	}
	for _, fl := range sum.Failures {
		if !errors.Is(fl.Err, ErrInterrupted) {
			t.Errorf("failure %+v is not an interrupt", fl)
		}
	}
}

// listSource lists its names, one item each, with open giving "plaintext";
// before yielding name i, onItem(i) runs if set.
type listSource struct {
	names  []string
	onItem func(i int)
}

func (listSource) single(context.Context) (bool, error) { return false, nil }
func (s listSource) list(_ context.Context, keep func(string) bool, yield func(item) error) (int, error) {
	for i, n := range s.names {
		if s.onItem != nil {
			s.onItem(i)
		}
		if err := yield(item{name: n, rel: n, size: 9, path: n}); err != nil {
			return 0, err
		}
	}
	return 0, nil
}
func (listSource) open(context.Context, item) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("plaintext")), nil
}

// TestScanStreams: scan emits its first result while the listing still
// waits to list the second input.
func TestScanStreams(t *testing.T) {
	emitted := make(chan struct{})
	var waited bool
	s := listSource{names: []string{"a", "b"}, onItem: func(i int) {
		if i == 1 {
			select {
			case <-emitted:
			case <-time.After(20 * time.Second): // only when nothing streams
				waited = true
			}
		}
	}}
	var got []string
	sum, err := scanSource(context.Background(), s, func(string) bool { return true }, &ScanOptions{Concurrency: 4}, func(r *ScanResult) {
		if got = append(got, r.Input); len(got) == 1 {
			close(emitted)
		}
	})
	if err != nil || sum.Inputs != 2 || strings.Join(got, ",") != "a,b" || waited {
		t.Fatalf("scan = %+v, %v; emitted %v; waited for the listing: %v", sum, err, got, waited)
	}
}

// TestSameOutputListedTwice: a source that lists one name twice (as a
// manifest may) into a local tree fails the later input with
// ErrSameOutput; the earlier, possibly already written, stands.
func TestSameOutputListedTwice(t *testing.T) {
	dst := t.TempDir()
	p := &plan{op: Encrypt, src: listSource{names: []string{"a", "b", "a", "c", "b"}}, dst: newLocalSink(dst, nil),
		in: &inputKeep{f: &filters{}, suffix: EncSuffix}, suffix: EncSuffix, outputs: newOutputSet(false)}
	var errs []string
	n, err := p.list(context.Background(), nil, func(j *job) error {
		switch {
		case j.err == nil:
			errs = append(errs, "ok")
		case errors.Is(j.err, ErrSameOutput) && strings.Contains(j.err.Error(), strconv.Quote(filepath.Join(dst, j.in.rel+".enc"))):
			errs = append(errs, "same")
		default:
			errs = append(errs, j.err.Error())
		}
		return nil
	})
	if err != nil || n != 5 || strings.Join(errs, " ") != "ok ok same ok same" {
		t.Fatalf("list = %d, %v: %v", n, err, errs)
	}
}

// TestOutputSet: the set of output hashes finds every repeat, across
// its growth, and nothing else.
func TestOutputSet(t *testing.T) {
	o := newOutputSet(false)
	const n = 5000
	for i := range n {
		if !o.add("/d/" + strconv.Itoa(i)) {
			t.Fatalf("%d: reported as seen", i)
		}
	}
	for i := range n {
		if o.add("/d/" + strconv.Itoa(i)) {
			t.Fatalf("%d: not found again", i)
		}
	}
	if o.n != n || len(o.slots) != 8192 || !o.add("/d/x") || o.add("/d/./x") {
		t.Fatalf("%d in %d slots", o.n, len(o.slots))
	}
}
