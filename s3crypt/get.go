package s3crypt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/stream"
)

// headPrefix is the first range Head and Open fetch: enough for the header
// of any message with a few data keys and a modest context.
const headPrefix = 64 << 10

// Object describes a stored object without decrypting it.
type Object struct {
	Bucket, Key  string
	Size         int64 // bytes stored: the whole message
	ETag         string
	VersionID    string
	LastModified time.Time
	Metadata     map[string]string // the Meta* descriptions, as stored (unauthenticated)

	// Header is the message header, parsed but NOT authenticated by Head:
	// it names the suite, the encryption context and the encrypted data
	// keys (a KMS key's ProviderInfo is its ARN). Get and Open
	// authenticate it before returning.
	Header *envelope.Header

	// PlaintextLength is the plaintext length the framed layout implies,
	// or -1 when the object's length fits no layout.
	PlaintextLength int64
}

// Head describes in.Bucket/in.Key from its header alone, fetched with a
// ranged GET, and decrypts nothing. Nothing it returns is authenticated.
// The fields of in go to the GET as they would to Get's (see Get). A
// header with more encrypted data keys than Get allows
// (WithMaxEncryptedDataKeys) fails as Get's does, before they are fetched.
func (c *Client) Head(ctx context.Context, in *s3.HeadObjectInput) (*Object, error) {
	if in == nil {
		return nil, fmt.Errorf("s3crypt: nil HeadObjectInput: %w", envelope.ErrInvalidOption)
	}
	o, err := callOptions[GetOption](c, callGet, nil)
	if err != nil {
		return nil, err
	}
	gin, err := checkGetInput("HeadObjectInput", &s3.GetObjectInput{
		Bucket: in.Bucket, Key: in.Key, VersionId: in.VersionId, PartNumber: in.PartNumber, Range: in.Range,
		IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch, IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince,
		ExpectedBucketOwner: in.ExpectedBucketOwner, RequestPayer: in.RequestPayer, ChecksumMode: in.ChecksumMode,
		SSECustomerAlgorithm: in.SSECustomerAlgorithm, SSECustomerKey: in.SSECustomerKey, SSECustomerKeyMD5: in.SSECustomerKeyMD5,
		ResponseCacheControl: in.ResponseCacheControl, ResponseContentDisposition: in.ResponseContentDisposition,
		ResponseContentEncoding: in.ResponseContentEncoding, ResponseContentLanguage: in.ResponseContentLanguage,
		ResponseContentType: in.ResponseContentType, ResponseExpires: in.ResponseExpires,
	})
	if err != nil {
		return nil, err
	}
	ob, err := c.fetchObject(ctx, gin, headPrefix)
	if err != nil {
		return nil, err
	}
	src := &ctxReaderAt{ob: ob, ctx: ctx}
	h, err := c.enc.ParseHeader(bufio.NewReaderSize(io.NewSectionReader(src, 0, ob.size), headPrefix), o.decrypt...)
	if err != nil {
		return nil, ob.headerError(src, err)
	}
	return ob.describe(h), nil
}

// Reader reads and decrypts one object, fetching it with ranged GETs that
// run ahead of the reader in parallel. Its Read has the guarantees of
// envelope.DecryptReader: plaintext only from authenticated frames, and
// for signed suites the last frame only after the signature verified.
// Close must be called to stop the fetches.
type Reader struct {
	obj *Object
	f   *fetcher
	d   *envelope.DecryptReader
}

// Get opens in.Bucket/in.Key for streaming decryption: it starts the GET
// of the first part, authenticates the header as soon as its bytes arrive
// (with the key from the Client's keyring, e.g. KMS Decrypt) and returns a
// Reader of the plaintext. Later parts are fetched concurrently from the
// moment the first GET answers, up to the read-ahead, each pinned to the
// ETag of the first (an object replaced meanwhile fails with
// ErrObjectChanged). WithExpectedContext refuses objects written under
// another context.
//
// in is the SDK's own input and is not modified. Every ranged GET is sent
// with its fields (VersionId, the If* conditions, SSE-C,
// ExpectedBucketOwner, RequestPayer, Response*), its own Range, and, after
// the first, IfMatch set to the first's ETag. Range and PartNumber select
// ciphertext bytes: they fail with envelope.ErrInvalidOption (Open reads
// plaintext ranges).
func (c *Client) Get(ctx context.Context, in *s3.GetObjectInput, opts ...GetOption) (*Reader, error) {
	o, err := callOptions(c, callGet, opts)
	if err != nil {
		return nil, err
	}
	gin, err := checkGetInput("GetObjectInput", in)
	if err != nil {
		return nil, err
	}
	prog := &progress{fn: o.progress, total: -1}
	ob, f, err := c.startGet(ctx, gin, o.partSize, o.readAhead, prog)
	if err != nil {
		return nil, err
	}
	dopts := o.decrypt
	if ob.size >= 0 && ob.size < stream.MinParallel {
		// The object's size bounds its plaintext's: the caller alone
		// opens a body this small faster than a pipeline would.
		dopts = slices.Concat(dopts, []envelope.DecryptOption{envelope.WithFrameWorkers(1)})
	}
	d, err := c.enc.NewDecryptReader(ctx, f, dopts...)
	if err != nil {
		f.Close()
		return nil, ob.headerError(f, err)
	}
	return &Reader{obj: ob.describe(d.Header()), f: f, d: d}, nil
}

// Object describes the object being read; its Header is authenticated.
func (r *Reader) Object() *Object { return r.obj }

// Header returns the authenticated message header.
func (r *Reader) Header() *envelope.Header { return r.d.Header() }

// EncryptionContext returns the message's full authenticated context.
func (r *Reader) EncryptionContext() map[string]string { return r.d.EncryptionContext() }

// Read reads verified plaintext. It returns io.EOF only once the whole
// object authenticated, with nothing after the message. A GET that failed
// or was cut short is reported as such (a cut wraps io.ErrUnexpectedEOF),
// not as the envelope.ErrTruncated of a message that ends early.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.d.Read(p)
	return n, r.error(err)
}

// WriteTo writes the verified plaintext to w; see Read.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	n, err := r.d.WriteTo(w)
	return n, r.error(err)
}

// error returns the error of the GET that stopped the decryption, if one
// did, else err as this package reports it.
func (r *Reader) error(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if serr := r.f.sourceErr(); serr != nil {
		return serr
	}
	return fromEnvelope(err, r.obj.Bucket, r.obj.Key)
}

// Close stops the fetches and releases the buffers. It does not report
// whether the object authenticated: only Read returning io.EOF does.
func (r *Reader) Close() error {
	r.f.Close()
	return nil
}

// object is one stored version of an object: every ranged GET after the
// first is pinned to the first's ETag.
type object struct {
	api          API
	in           s3.GetObjectInput // the caller's, for every GET
	bucket, key  string
	size         int64
	etag         string
	versionID    string
	lastModified time.Time
	meta         map[string]string
	contentType  string // as stored; Reencrypt carries it over
	prefix       []byte // bytes [0, len(prefix)) of the object
}

// checkGetInput returns a copy of in, refusing the fields that select
// ciphertext bytes. what names in's type for errors.
func checkGetInput(what string, in *s3.GetObjectInput) (*s3.GetObjectInput, error) {
	invalid := func(field, why string) error {
		return fmt.Errorf("s3crypt: %s.%s: %s: %w", what, field, why, envelope.ErrInvalidOption)
	}
	switch {
	case in == nil:
		return nil, fmt.Errorf("s3crypt: nil %s: %w", what, envelope.ErrInvalidOption)
	case in.Bucket == nil || in.Key == nil:
		return nil, invalid("Bucket/Key", "not set")
	case in.Range != nil:
		return nil, invalid("Range", "a range of the ciphertext; Open reads plaintext ranges")
	case in.PartNumber != nil:
		return nil, invalid("PartNumber", "a part of the ciphertext")
	}
	cp := *in
	return &cp, nil
}

// fetchObject GETs the first n bytes of the object in names, which also
// tell its size and ETag, into ob.prefix.
func (c *Client) fetchObject(ctx context.Context, in *s3.GetObjectInput, n int64) (*object, error) {
	ob, body, got, err := c.openObject(ctx, in, n)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	ob.prefix = make([]byte, got)
	if _, err := io.ReadFull(body, ob.prefix); err != nil {
		return nil, fmt.Errorf("s3crypt: get %s: %w", objName(ob.bucket, ob.key), err)
	}
	return ob, nil
}

// startGet starts the GET of the first n bytes of the object in names and
// returns, once it answers, the object and a fetcher of all its bytes in
// chunks of n, at most readAhead of them fetched ahead of the reader.
func (c *Client) startGet(ctx context.Context, in *s3.GetObjectInput, n int64, readAhead int, prog *progress) (*object, *fetcher, error) {
	fctx, cancel := context.WithCancel(ctx)
	ob, body, got, err := c.openObject(fctx, in, n)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	prog.total = ob.size
	var first []byte
	if got == ob.size {
		first = make([]byte, got) // the whole object: no part buffer to reuse
	} else {
		first = c.bufs.part(n)[:got]
	}
	return ob, newFetcher(fctx, cancel, ob, body, first, n, readAhead, prog, &c.bufs), nil
}

// openObject GETs the first n bytes of the object in names and returns it,
// as its response tells it, with the response's body of got bytes, unread.
func (c *Client) openObject(ctx context.Context, in *s3.GetObjectInput, n int64) (ob *object, body io.ReadCloser, got int64, err error) {
	bucket, key := *in.Bucket, *in.Key
	first := *in
	first.Range = aws.String(fmt.Sprintf("bytes=0-%d", n-1))
	out, err := c.s3.GetObject(ctx, &first)
	if err != nil {
		err = mapError(err)
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" { // an empty object
			return nil, nil, 0, fmt.Errorf("s3crypt: %s: empty object: %w", objName(bucket, key), ErrNotEncrypted)
		}
		return nil, nil, 0, fmt.Errorf("s3crypt: get %s: %w", objName(bucket, key), err)
	}
	ob = &object{api: c.s3, in: *in, bucket: bucket, key: key, etag: aws.ToString(out.ETag),
		versionID: aws.ToString(out.VersionId), lastModified: aws.ToTime(out.LastModified), meta: out.Metadata,
		contentType: aws.ToString(out.ContentType)}
	got = aws.ToInt64(out.ContentLength)
	if got < 0 { // HTTP/2 passes on a header it refused: the SDK parses it
		out.Body.Close()
		return nil, nil, 0, fmt.Errorf("s3crypt: get %s: Content-Length %d: %w", objName(bucket, key), got, ErrBadResponse)
	}
	ob.size = got // a server that ignored the range sent the whole object
	if cr := aws.ToString(out.ContentRange); cr != "" {
		if ob.size, err = totalFromContentRange(cr); err != nil {
			out.Body.Close()
			return nil, nil, 0, fmt.Errorf("s3crypt: get %s: %w", objName(bucket, key), err)
		}
	}
	if got > n || got > ob.size || got < min(n, ob.size) {
		out.Body.Close()
		return nil, nil, 0, fmt.Errorf("s3crypt: get %s: %d bytes for a range of %d: %w", objName(bucket, key), got, n, ErrBadResponse)
	}
	return ob, out.Body, got, nil
}

// fitsRange checks a later GET's answer against the range of n bytes at
// off it asked for, in an object of size bytes: a Content-Range must name
// that range, and a body longer than n (a server that ignored the range)
// is refused; a shorter one is left to the read, which reports the cut
// (io.ErrUnexpectedEOF).
func fitsRange(out *s3.GetObjectOutput, off, n, size int64) error {
	if cr := aws.ToString(out.ContentRange); cr != "" {
		var a, b, total int64
		if k, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &a, &b, &total); err != nil || k != 3 || a != off || b != off+n-1 || total != size {
			return fmt.Errorf("Content-Range %q for bytes %d-%d/%d", cr[:min(len(cr), 100)], off, off+n-1, size)
		}
	}
	if l := aws.ToInt64(out.ContentLength); l > n {
		return fmt.Errorf("%d bytes for a range of %d", l, n)
	}
	return nil
}

// totalFromContentRange returns the size in "bytes a-b/size".
func totalFromContentRange(cr string) (int64, error) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 {
		return 0, fmt.Errorf("bad Content-Range %q", cr[:min(len(cr), 100)])
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad Content-Range %q", cr[:min(len(cr), 100)])
	}
	return n, nil
}

// get fills p with the object's bytes [off, off+len(p)) by one ranged GET.
func (ob *object) get(ctx context.Context, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	in := ob.in // a copy
	in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))
	if ob.etag != "" {
		in.IfMatch = &ob.etag
	}
	out, err := ob.api.GetObject(ctx, &in)
	if err != nil {
		return fmt.Errorf("s3crypt: get %s at %d: %w", objName(ob.bucket, ob.key), off, mapError(err))
	}
	defer out.Body.Close()
	if et := aws.ToString(out.ETag); ob.etag != "" && et != "" && et != ob.etag {
		return fmt.Errorf("s3crypt: get %s: %w", objName(ob.bucket, ob.key), ErrObjectChanged)
	}
	if err := fitsRange(out, off, int64(len(p)), ob.size); err != nil {
		return fmt.Errorf("s3crypt: get %s at %d: %w: %w", objName(ob.bucket, ob.key), off, err, ErrBadResponse)
	}
	if _, err := io.ReadFull(out.Body, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // an empty body is as cut as a short one: never the object's end
		}
		return fmt.Errorf("s3crypt: get %s at %d: %w", objName(ob.bucket, ob.key), off, err)
	}
	return nil
}

// readAt reads [off, off+len(p)) from the prefix when it holds it, else
// with a ranged GET.
func (ob *object) readAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off >= ob.size {
		return 0, io.EOF
	}
	n, err := len(p), error(nil)
	if rest := ob.size - off; int64(n) > rest {
		n, err = int(rest), io.EOF
	}
	if off+int64(n) <= int64(len(ob.prefix)) {
		copy(p, ob.prefix[off:])
		return n, err
	}
	if gerr := ob.get(ctx, p[:n], off); gerr != nil {
		return 0, gerr
	}
	return n, err
}

// describe returns the Object of ob with header h.
func (ob *object) describe(h *envelope.Header) *Object {
	return &Object{Bucket: ob.bucket, Key: ob.key, Size: ob.size, ETag: ob.etag, VersionID: ob.versionID,
		LastModified: ob.lastModified, Metadata: maps.Clone(ob.meta), Header: h,
		PlaintextLength: plaintextLength(h, ob.size)}
}

// plaintextLength returns the plaintext length a framed message of size
// bytes with header h holds, or -1 if no framed layout fits.
func plaintextLength(h *envelope.Header, size int64) int64 {
	n, err := h.PlaintextLength(size)
	if err != nil {
		return -1
	}
	return n
}

// sourceError is implemented by the sources the header is read from; it
// returns the first S3 error they met, if any.
type sourceError interface{ sourceErr() error }

// headerError returns why reading the header failed: the S3 error if the
// source met one, else err, marked ErrNotEncrypted if the bytes are not a
// message header.
func (ob *object) headerError(src sourceError, err error) error {
	if serr := src.sourceErr(); serr != nil {
		return serr
	}
	if errors.Is(err, envelope.ErrMalformedHeader) || errors.Is(err, envelope.ErrUnsupportedSuite) {
		return fmt.Errorf("s3crypt: %s: %w: %w", objName(ob.bucket, ob.key), ErrNotEncrypted, &envelopeError{err: err})
	}
	return fromEnvelope(err, ob.bucket, ob.key)
}

// ctxReaderAt is an io.ReaderAt of an object under one context; it keeps
// the first error of its GETs.
type ctxReaderAt struct {
	ob  *object
	ctx context.Context

	mu  sync.Mutex
	err error
}

func (r *ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.ob.readAt(r.ctx, p, off)
	if err != nil && err != io.EOF {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return n, err
}

func (r *ctxReaderAt) sourceErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// mapError marks S3 errors with this package's sentinels.
func mapError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NoSuchBucket", "NotFound":
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		case "PreconditionFailed":
			return fmt.Errorf("%w: %w", ErrObjectChanged, err)
		}
	}
	return err
}
