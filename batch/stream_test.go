package batch

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
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

// TestListingHeapFlat: listing 40,000 objects of which a shard keeps
// almost none holds no more live heap than listing 2,000 does.
func TestListingHeapFlat(t *testing.T) {
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
	if large > small+1<<20 {
		t.Fatalf("peak live heap grew by %d KiB from 2,000 to 40,000 listed objects", (large-small)>>10)
	}
}
