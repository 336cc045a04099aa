package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/s3crypt"
)

// firstGetAPI wraps an API: the body of the GET of the first part (the
// range from byte 0) passes through body, and every later GET is counted
// and announced on later.
type firstGetAPI struct {
	s3crypt.API
	body func(io.ReadCloser) io.ReadCloser

	laterGets atomic.Int64
	laterOnce sync.Once
	later     chan struct{} // closed at the first later GET
}

func newFirstGetAPI(api s3crypt.API, body func(io.ReadCloser) io.ReadCloser) *firstGetAPI {
	return &firstGetAPI{API: api, body: body, later: make(chan struct{})}
}

func (a *firstGetAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	first := strings.HasPrefix(aws.ToString(in.Range), "bytes=0-")
	if !first {
		a.laterGets.Add(1)
		a.laterOnce.Do(func() { close(a.later) })
	}
	out, err := a.API.GetObject(ctx, in, o...)
	if err == nil && first {
		out.Body = a.body(out.Body)
	}
	return out, err
}

// gatedBody passes the first open bytes of its body, then waits for gate
// (or, so that a failing test ends, for a deadline, noting it).
type gatedBody struct {
	io.ReadCloser
	open     int
	gate     <-chan struct{}
	deadline <-chan time.Time
	expired  atomic.Bool
}

func (g *gatedBody) Read(p []byte) (int, error) {
	if g.open > 0 {
		n, err := g.ReadCloser.Read(p[:min(len(p), g.open)])
		g.open -= n
		return n, err
	}
	if !g.expired.Load() {
		select {
		case <-g.gate:
		case <-g.deadline:
			g.expired.Store(true)
		}
	}
	return g.ReadCloser.Read(p)
}

// Get authenticates the header and starts the later parts' GETs while the
// first part is still arriving: a first part that stalls after its first
// 64 KiB holds up neither.
func TestGetOverlapsFirstPart(t *testing.T) {
	base := fakeS3(t)
	data := randomBytes(3*5*MiB+123, 31)
	ctx := context.Background()
	if _, err := newClient(t, base).Put(ctx, putIn(testBucket, "k", bytes.NewReader(data), int64(len(data))), testContext); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	var body *gatedBody
	api := newFirstGetAPI(base, func(rc io.ReadCloser) io.ReadCloser {
		body = &gatedBody{ReadCloser: rc, open: 64 << 10, gate: gate, deadline: time.After(20 * time.Second)}
		return body
	})
	r, err := newClient(t, api).Get(ctx, getIn(testBucket, "k"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if body.expired.Load() {
		t.Fatal("Get returned only after the whole first part arrived")
	}
	select {
	case <-api.later:
	case <-time.After(20 * time.Second):
		t.Fatal("no later part's GET while the first part stalled")
	}
	close(gate)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
}

// cutBody ends after n bytes as if the connection closed cleanly.
type cutBody struct {
	io.ReadCloser
	n int
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.n == 0 {
		return 0, io.EOF
	}
	k, err := c.ReadCloser.Read(p[:min(len(p), c.n)])
	c.n -= k
	return k, err
}

// A first part cut short fails the Get or its reading with
// io.ErrUnexpectedEOF, having released no plaintext past the last frame
// that arrived whole.
func TestGetFirstPartCut(t *testing.T) {
	base := fakeS3(t)
	data := randomBytes(2*5*MiB, 32)
	ctx := context.Background()
	if _, err := newClient(t, base).Put(ctx, putIn(testBucket, "k", bytes.NewReader(data), int64(len(data))), testContext); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 20, 300, 1*MiB + 100, 5*MiB - 1} {
		api := newFirstGetAPI(base, func(rc io.ReadCloser) io.ReadCloser { return &cutBody{ReadCloser: rc, n: cut} })
		r, err := newClient(t, api).Get(ctx, getIn(testBucket, "k"))
		var got []byte
		if err == nil {
			got, err = io.ReadAll(r)
			r.Close()
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
		if len(got) > 0 && len(got) >= cut || !bytes.Equal(got, data[:len(got)]) {
			t.Errorf("cut at %d: released %d bytes, not a prefix of the plaintext short of the cut", cut, len(got))
		}
	}
}

// A reader that does not read holds Get to readAhead+1 part buffers, the
// first part's included: the GETs stop at readAhead beyond the first, and
// what Get allocated stays under readAhead+2 parts.
func TestGetReadAheadBound(t *testing.T) {
	base := fakeS3(t)
	const part = 5 * MiB
	data := randomBytes(7*part, 33)
	ctx := context.Background()
	if _, err := newClient(t, base).Put(ctx, putIn(testBucket, "k", bytes.NewReader(data), int64(len(data))), testContext); err != nil {
		t.Fatal(err)
	}
	const readAhead = 2
	api := newFirstGetAPI(base, func(rc io.ReadCloser) io.ReadCloser { return rc })
	c := newClient(t, api, s3crypt.WithReadAhead(readAhead))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := c.Get(ctx, getIn(testBucket, "k"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for deadline := time.Now().Add(20 * time.Second); api.laterGets.Load() < readAhead && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // time for a GET or buffer past the bound
	runtime.ReadMemStats(&after)
	if n := api.laterGets.Load(); n != readAhead {
		t.Errorf("%d GETs beyond the first part with the reader at its start, want %d", n, readAhead)
	}
	n := after.TotalAlloc - before.TotalAlloc
	t.Logf("Get allocated %.1f MiB", float64(n)/MiB)
	if n >= (readAhead+2)*part {
		t.Errorf("Get allocated %.1f MiB with the reader at its start, want under %d parts of %d MiB", float64(n)/MiB, readAhead+2, part/MiB)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
}

// Consecutive Gets of one Client reuse its part buffers: a second Get of
// a 3-part object allocates less than two parts. A Close during a Read
// (under -race: no Read touches a buffer Close released) ends it.
func TestGetReusesPartBuffers(t *testing.T) {
	api := fakeS3(t)
	const part = 5 * MiB
	data := randomBytes(3*part, 34)
	ctx := context.Background()
	c := newClient(t, api)
	if _, err := c.Put(ctx, putIn(testBucket, "k", bytes.NewReader(data), int64(len(data))), testContext); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data)+1)
	get := func() {
		r, err := c.Get(ctx, getIn(testBucket, "k"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.ReadFull(r, got)
		r.Close()
		if err != io.ErrUnexpectedEOF || !bytes.Equal(got[:n], data) {
			t.Fatalf("read %d bytes, %v; want %d bytes", n, err, len(data))
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a GC empties the pool
	get()
	// The least of three Gets: sync.Pool keeps what a goroutine puts last
	// in its P's private slot, which a Get on another P cannot take, so a
	// Get may miss one part's buffer now and then (11.3 MiB once in CI).
	// Without reuse every Get allocates all three parts.
	n := ^uint64(0)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		get()
		runtime.ReadMemStats(&after)
		n = min(n, after.TotalAlloc-before.TotalAlloc)
	}
	t.Logf("second Get allocated %.1f MiB", float64(n)/MiB)
	if n >= 2*part && !raceEnabled { // without reuse: 3 parts and the decryption's own
		t.Errorf("second Get allocated %.1f MiB, want under two parts (%d MiB)", float64(n)/MiB, 2*part/MiB)
	}

	r, err := c.Get(ctx, getIn(testBucket, "k"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := io.Copy(io.Discard, r)
		done <- err
	}()
	r.Close()
	if err := <-done; err == nil {
		t.Log("the copy ended before Close")
	}
}
