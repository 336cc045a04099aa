package s3crypt

// s3crypt's download paths against a lying S3 server: an in-memory API
// whose answers a hook rewrites, and an httptest server speaking just
// enough S3 for GetObject over HTTP/1.1 or HTTP/2 (the package's other
// fakes are in package s3crypt_test). Each test failed before its fix.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/internal/wire"
	"github.com/phicrypt/phicrypt/keyring"
)

const probeMiB = 1 << 20

var probeEC = map[string]string{"tenant": "t1"}

func probeEnc(t testing.TB) *envelope.Client {
	t.Helper()
	kr, err := keyring.NewRawAES("phicrypt-test", "wrapping-key-1", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func probeData(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// probeMessage encrypts pt with the probe key, unsigned suite, frame length fl.
func probeMessage(t testing.TB, pt []byte, fl int) []byte {
	t.Helper()
	ct, err := probeEnc(t).Encrypt(context.Background(), pt, probeEC,
		envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(fl))
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// probeAPI is an in-memory S3 of one object whose answers a hook may
// rewrite: the lying server.
type probeAPI struct {
	API // nil: other calls panic

	mu   sync.Mutex
	obj  []byte
	etag string

	gets          atomic.Int64
	ignoreIfMatch bool
	// hook, if set, may replace the honest answer to GET number i (from 0)
	// of range [lo, hi].
	hook func(i int64, in *s3.GetObjectInput, lo, hi int64, out *s3.GetObjectOutput) (*s3.GetObjectOutput, error)
}

func newProbeAPI(obj []byte) *probeAPI { return &probeAPI{obj: obj, etag: `"etag-1"`} }

func (m *probeAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	i := m.gets.Add(1) - 1
	m.mu.Lock()
	obj, etag := m.obj, m.etag
	m.mu.Unlock()
	var lo, hi int64
	if _, err := fmt.Sscanf(aws.ToString(in.Range), "bytes=%d-%d", &lo, &hi); err != nil {
		return nil, err
	}
	if in.IfMatch != nil && *in.IfMatch != etag && !m.ignoreIfMatch {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "if-match"}
	}
	var out *s3.GetObjectOutput
	if lo >= int64(len(obj)) {
		if m.hook == nil {
			return nil, &smithy.GenericAPIError{Code: "InvalidRange", Message: "range"}
		}
		out = &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(nil)), ContentLength: aws.Int64(0), ETag: aws.String(etag)}
	} else {
		h := min(hi, int64(len(obj))-1)
		out = &s3.GetObjectOutput{
			Body: io.NopCloser(bytes.NewReader(obj[lo : h+1])), ContentLength: aws.Int64(h + 1 - lo),
			ContentRange: aws.String(fmt.Sprintf("bytes %d-%d/%d", lo, h, len(obj))), ETag: aws.String(etag),
		}
	}
	if m.hook != nil {
		return m.hook(i, in, lo, hi, out)
	}
	return out, nil
}

func probeClient(t testing.TB, api API, opts ...ClientOption) *Client {
	t.Helper()
	c, err := New(api, probeEnc(t), append([]ClientOption{WithPartSize(MinPartSize)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func probeIn() *s3.GetObjectInput {
	return &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")}
}

func probeCatch(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("PANIC: %v", p)
		}
	}()
	return f()
}

// ---- An HTTP server speaking just enough S3 for GetObject -------------

type probeHTTP struct {
	obj     []byte
	etag    string
	handler func(w http.ResponseWriter, r *http.Request, lo, hi int64) bool // true: handled
	reqs    atomic.Int64
}

func (p *probeHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.reqs.Add(1)
	var lo, hi int64
	fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &lo, &hi)
	if p.handler != nil && p.handler(w, r, lo, hi) {
		return
	}
	if im := r.Header.Get("If-Match"); im != "" && im != p.etag {
		w.WriteHeader(http.StatusPreconditionFailed)
		io.WriteString(w, `<Error><Code>PreconditionFailed</Code><Message>x</Message></Error>`)
		return
	}
	if lo >= int64(len(p.obj)) {
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		io.WriteString(w, `<Error><Code>InvalidRange</Code><Message>x</Message></Error>`)
		return
	}
	hi = min(hi, int64(len(p.obj))-1)
	w.Header().Set("ETag", p.etag)
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", lo, hi, len(p.obj)))
	w.Header().Set("Content-Length", fmt.Sprint(hi+1-lo))
	w.WriteHeader(http.StatusPartialContent)
	w.Write(p.obj[lo : hi+1])
}

// probeServe serves p over HTTP/1.1 on loopback; probeServeTLS2 over
// HTTP/2 and TLS, as the SDK's default transport negotiates it.
func probeServe(t testing.TB, p *probeHTTP) *s3.Client {
	return probeServer(t, p, false)
}

func probeServeTLS2(t testing.TB, p *probeHTTP) *s3.Client {
	return probeServer(t, p, true)
}

func probeServer(t testing.TB, p *probeHTTP, h2 bool) *s3.Client {
	t.Helper()
	if p.etag == "" {
		p.etag = `"etag-1"`
	}
	srv := httptest.NewUnstartedServer(p)
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials:      credentials.NewStaticCredentialsProvider("AK", "SK", ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	}, SecureEndpoint)
}

// TestNegativeContentLengthH2 (was a panic): a hostile S3 endpoint answers the first GET over HTTP/2
// (the SDK's default transport negotiates it over TLS) with 200, no
// Content-Range and "content-length: -1". Go's HTTP/2 client ignores the
// invalid value but keeps the header; the SDK parses it with
// strconv.ParseInt, so GetObjectOutput.ContentLength is -1. openObject
// takes got = size = -1, its range check (got > n || got > size ||
// got < min(n, size)) passes, and fetchObject (Open, Head) and startGet
// (Get, Reencrypt) call make([]byte, -1): "makeslice: len out of range".
// Now ErrBadResponse. (Over HTTP/1.1 net/http refuses the response.)
func TestNegativeContentLengthH2(t *testing.T) {
	p := &probeHTTP{handler: func(w http.ResponseWriter, r *http.Request, lo, hi int64) bool {
		w.Header().Set("ETag", `"e"`)
		w.Header()["content-length"] = []string{"-1"} // not canonical: Go's h2 server sends it as is
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush() // headers out before the handler ends: no Content-Length of its own
		return true
	}}
	api := probeServeTLS2(t, p)
	c := probeClient(t, api)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"Get":  func() error { _, err := c.Get(ctx, probeIn()); return err },
		"Open": func() error { _, err := c.Open(ctx, probeIn()); return err },
		"Head": func() error {
			_, err := c.Head(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
			return err
		},
	} {
		err := probeCatch(call)
		if !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s of a response with Content-Length -1: %v; want ErrBadResponse, not a panic", name, err)
		}
	}
}

// probeManyEDKHeader returns a v2 0x0478 header with n data keys of a
// ctLen-byte ciphertext each, then an empty final frame (no key needed).
func probeManyEDKHeader(n, ctLen int) []byte {
	b := []byte{2, 0x04, 0x78}
	b = append(b, make([]byte, 32)...)
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	ct := bytes.Repeat([]byte{1}, ctLen)
	for range n {
		b = wire.AppendEncryptedDataKey(b, "phicrypt-test", []byte("wrapping-key-1"), ct)
	}
	b = append(b, 2)
	b = binary.BigEndian.AppendUint32(b, 4096)
	b = append(b, make([]byte, 32+16)...)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1)
	b = append(b, make([]byte, 12)...)
	b = append(b, 0, 0, 0, 0)
	b = append(b, make([]byte, 16)...)
	return b
}

// TestHeadEDKLimit (was unbounded memory and GETs): Head parsed the header with
// envelope.ParseHeader, which has no limit on encrypted data keys, so
// DefaultMaxEncryptedDataKeys (and WithMaxEncryptedDataKeys) does not
// apply to it. Anyone who can write an object gives it a header of up to
// 65,535 data keys of ~196 KB each (~12.9 GB): Head fetches all of it in
// 64 KiB ranged GETs and holds it in memory. Here 1000 keys of 64,000 bytes
// (64 MB of header): Get refuses it at the 11th key with
// ErrTooManyEncryptedDataKeys, Head makes ~980 GETs, allocates ~106 MiB and
// succeeded. Now Head refuses it as Get and Open do, from the first GET.
func TestHeadEDKLimit(t *testing.T) {
	obj := probeManyEDKHeader(1000, 64000)
	api := newProbeAPI(obj)
	c := probeClient(t, api)
	ctx := context.Background()
	if _, err := c.Get(ctx, probeIn()); !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys) {
		t.Fatalf("Get: %v", err)
	}
	api.gets.Store(0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	obj2, err := c.Head(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Head: err %v, %d GETs, %.1f MiB allocated", err, api.gets.Load(), float64(alloc)/probeMiB)
	if err == nil {
		t.Logf("Head described %d data keys", len(obj2.Header.EncryptedDataKeys))
	}
	if !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys) || alloc > 4*probeMiB || api.gets.Load() > 1 {
		t.Errorf("Head of a header of %d data keys: %v after %d GETs and %.0f MiB allocated; want ErrTooManyEncryptedDataKeys as Get and Open give, with bounded memory",
			1000, err, api.gets.Load(), float64(alloc)/probeMiB)
	}
}

// TestLaterGetEmptyBody (was the wrong error; truncation looked like the end to an
// errors.Is(err, io.EOF) caller). A later ranged GET is answered 206 with
// the right ETag and Content-Range but Content-Length 0 (an empty body).
// object.get reads it with io.ReadFull, which returns a bare io.EOF when
// no byte arrives, and wraps it: "s3crypt: get b/k at 5242880: EOF". So
// Reader.Read / WriteTo (Get, GetObject to a writer) and ReaderAt.ReadAt
// return an error for which errors.Is(err, io.EOF) is true and
// errors.Is(err, io.ErrUnexpectedEOF) false, against Read's documented
// "a cut wraps io.ErrUnexpectedEOF" (a body cut after >0 bytes does). A
// caller that ends its read loop on errors.Is(err, io.EOF) takes the
// first 5,177,344 of 12,582,912 plaintext bytes as the whole object.
// (Callers comparing err == io.EOF, io.Copy and Reencrypt, do fail.)
func TestLaterGetEmptyBody(t *testing.T) {
	pt := probeData(12*probeMiB, 8)
	obj := probeMessage(t, pt, 64<<10)
	p := &probeHTTP{obj: obj}
	p.handler = func(w http.ResponseWriter, r *http.Request, lo, hi int64) bool {
		if lo == 0 {
			return false
		}
		w.Header().Set("ETag", p.etag)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", lo, hi, len(obj)))
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusPartialContent)
		return true
	}
	c := probeClient(t, probeServe(t, p))
	r, err := c.Get(context.Background(), probeIn())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A reader loop in the errors.Is style.
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		n, err2 := r.Read(buf)
		got = append(got, buf[:n]...)
		if err2 != nil {
			err = err2
			break
		}
	}
	t.Logf("Get read %d of %d bytes: %v", len(got), len(pt), err)
	if errors.Is(err, io.EOF) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a later GET with an empty body: errors.Is(err, io.EOF) = %v, errors.Is(err, io.ErrUnexpectedEOF) = %v (%v); a caller testing errors.Is(err, io.EOF) takes %d of %d bytes as the whole plaintext",
			errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), err, len(got), len(pt))
	}

	// ReadAt of frames whose GET has an empty body.
	ra, err := c.Open(context.Background(), probeIn())
	if err != nil {
		t.Fatal(err)
	}
	q := make([]byte, 1000)
	n, err := ra.ReadAt(q, 6*probeMiB)
	t.Logf("ReadAt: %d, %v", n, err)
	if errors.Is(err, io.EOF) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadAt with an empty GET body: %d, %v; errors.Is(err, io.EOF) = %v", n, err, errors.Is(err, io.EOF))
	}
}

// TestHostileLaterGetWrongRange: a later ranged GET answered with other
// bytes than those asked for, of the right length: another range, named
// as such in its Content-Range, or the whole object (200, no
// Content-Range). The bytes reached decryption and failed as tampering
// (ErrAuthentication); the answer does not fit the request:
// ErrBadResponse, from Get and from ReadAt.
func TestHostileLaterGetWrongRange(t *testing.T) {
	obj := probeMessage(t, probeData(12*probeMiB, 9), 64<<10)
	for name, hook := range map[string]func(i int64, in *s3.GetObjectInput, lo, hi int64, out *s3.GetObjectOutput) (*s3.GetObjectOutput, error){
		"another range": func(i int64, _ *s3.GetObjectInput, lo, hi int64, out *s3.GetObjectOutput) (*s3.GetObjectOutput, error) {
			if lo == 0 {
				return out, nil
			}
			n := min(hi, int64(len(obj))-1) + 1 - lo
			out.Body = io.NopCloser(bytes.NewReader(obj[:n]))
			out.ContentRange = aws.String(fmt.Sprintf("bytes 0-%d/%d", n-1, len(obj)))
			return out, nil
		},
		"whole object": func(i int64, _ *s3.GetObjectInput, lo, _ int64, out *s3.GetObjectOutput) (*s3.GetObjectOutput, error) {
			if lo == 0 {
				return out, nil
			}
			out.Body, out.ContentLength, out.ContentRange = io.NopCloser(bytes.NewReader(obj)), aws.Int64(int64(len(obj))), nil
			return out, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			api := newProbeAPI(obj)
			api.hook = hook
			c := probeClient(t, api)
			r, err := c.Get(context.Background(), probeIn())
			if err == nil {
				_, err = io.Copy(io.Discard, r)
				r.Close()
			}
			if !errors.Is(err, ErrBadResponse) {
				t.Errorf("Get: %v, want ErrBadResponse", err)
			}
			ra, err := c.Open(context.Background(), probeIn())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ra.ReadAt(make([]byte, 1000), 6*probeMiB); !errors.Is(err, ErrBadResponse) {
				t.Errorf("ReadAt: %v, want ErrBadResponse", err)
			}
		})
	}
}

// TestHostileKeyInErrors: an object key is whoever named the object's:
// with a newline and a terminal escape it forged a line of a log, or
// rewrote a terminal's, through the text of an error about it (Get, Open,
// Head), raw; and a long one flooded it. Errors show it quoted, cut.
func TestHostileKeyInErrors(t *testing.T) {
	ct := probeMessage(t, probeData(3*probeMiB, 10), 64<<10)
	tampered := bytes.Clone(ct)
	tampered[len(tampered)/2] ^= 1
	for name, obj := range map[string][]byte{"not encrypted": probeData(100, 1), "tampered": tampered} {
		for _, key := range []string{"k\n2026-01-01 ok: all verified\x1b[2K", "k\u009b2K", strings.Repeat("é", 1000)} {
			c := probeClient(t, newProbeAPI(obj))
			in := &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String(key)}
			r, err := c.Get(context.Background(), in)
			if err == nil {
				_, err = io.Copy(io.Discard, r)
				r.Close()
			}
			if err == nil {
				t.Fatalf("%s: Get succeeded", name)
			}
			msg := err.Error()
			if strings.ContainsFunc(msg, func(r rune) bool { return !strconv.IsPrint(r) }) || len(msg) > 1024+300 {
				t.Errorf("%s, key %.20q: error of %d bytes with the key raw: %.200q", name, key, len(msg), msg)
			}
		}
	}
}

// TestHostileResponseHeaders: an S3 endpoint answers with 8 MiB of
// headers, under net/http's own 10 MiB limit: a client from NewS3Client
// read and held them, 64 MiB allocated for one HEAD. SecureEndpoint sets
// the default transport's limit to MaxResponseHeaderBytes.
func TestHostileResponseHeaders(t *testing.T) {
	srv := httptest.NewServer(testkit.ServeRaw(testkit.HeaderFlood("ETag: \"e\"\r\n", 128, "")))
	defer srv.Close()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", "")}
	api, err := NewS3Client(cfg, func(o *s3.Options) { o.UsePathStyle, o.RetryMaxAttempts = true, 1 })
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = api.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB; err %.200v", alloc>>10, err)
	if err == nil {
		t.Fatal("an answer with 8 MiB of headers was taken")
	}
	if alloc > 4<<20 {
		t.Fatalf("one S3 answer's headers made the client allocate %d MiB", alloc>>20)
	}
}
