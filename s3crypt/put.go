package s3crypt

import (
	"bytes"
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
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/stream"
)

// PutResult describes an object Put stored.
type PutResult struct {
	Bucket, Key     string
	ETag            string
	VersionID       string           // empty unless the bucket is versioned
	Size            int64            // bytes stored: the whole message
	PlaintextLength int64            // bytes read from the caller
	Parts           int              // multipart parts; 0 for a single PutObject
	Header          *envelope.Header // the message header (suite, message ID, context, data keys)
}

// abortTimeout bounds the AbortMultipartUpload of a failed upload, which
// runs on a context detached from the caller's so that cancelling the
// upload still cleans it up.
const abortTimeout = 30 * time.Second

// copyBufferSize is the size of the reads Put makes from a caller's reader
// that implements neither io.WriterTo nor is read by the encrypt writer.
const copyBufferSize = 1 << 20

// firstBufferSize is the buffer a message of unknown length starts in; it
// doubles as bytes arrive, up to a whole part.
const firstBufferSize = 64 << 10

// bufPools keeps a Client's idle buffers so that consecutive Puts and Gets
// reuse them instead of allocating and zeroing a part per call: whole part
// buffers, one sync.Pool per capacity, and copy buffers. Idle buffers
// are freed by the garbage collector; a Put still holds at most
// concurrency+1 part buffers, a Get readAhead+1.
type bufPools struct {
	parts sync.Map  // int64 capacity → *sync.Pool of *[]byte
	copy  sync.Pool // *[]byte of copyBufferSize
}

// part returns an empty buffer of capacity n.
func (p *bufPools) part(n int64) []byte {
	if b, ok := p.idlePart(n); ok {
		return b
	}
	return make([]byte, 0, n)
}

// idlePart returns an empty buffer of capacity n if one is idle.
func (p *bufPools) idlePart(n int64) ([]byte, bool) {
	if v, ok := p.parts.Load(n); ok {
		if b, ok := v.(*sync.Pool).Get().(*[]byte); ok {
			return (*b)[:0], true
		}
	}
	return nil, false
}

// putPart keeps b for a later part of its capacity.
func (p *bufPools) putPart(b []byte) {
	v, _ := p.parts.LoadOrStore(int64(cap(b)), new(sync.Pool))
	v.(*sync.Pool).Put(&b)
}

// copyBuffer returns a buffer of copyBufferSize bytes.
func (p *bufPools) copyBuffer() *[]byte {
	if b, ok := p.copy.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, copyBufferSize)
	return &b
}

// Put encrypts in.Body into one message under the encryption context ec
// and stores it as in.Bucket/in.Key, as s3's PutObject would store
// in.Body. in is the SDK's own input, read as the plaintext's:
//
//   - in.Body is the plaintext, read until io.EOF; in.ContentLength, if
//     set, is its length: a body that ends early fails with
//     envelope.ErrPlaintextLength, bytes after it are not read, and the
//     parts are planned (and phicrypt-plaintext-length recorded) from it.
//   - in.Metadata is stored with the Meta* keys added; a key starting
//     "phicrypt-" (any case) fails with envelope.ErrInvalidOption.
//   - in.ContentType defaults to "application/octet-stream".
//   - ContentMD5 and the Checksum* values (CRC32, SHA256, …) would be
//     checked against the ciphertext, and WriteOffsetBytes appends to an
//     existing object: they fail with envelope.ErrInvalidOption.
//     ChecksumAlgorithm applies to the ciphertext (default CRC32 for a
//     multipart upload).
//   - Every other field (SSE-KMS ServerSideEncryption, SSEKMSKeyId,
//     SSEKMSEncryptionContext and BucketKeyEnabled, SSE-C, ACL and grants,
//     Tagging, object lock, StorageClass, Cache-Control and the other
//     headers, ExpectedBucketOwner, RequestPayer, IfMatch, IfNoneMatch)
//     goes to the PutObject, or to the CreateMultipartUpload,
//     UploadPart and CompleteMultipartUpload calls that take it: SSE-C,
//     ExpectedBucketOwner and RequestPayer to every one of them, IfMatch
//     and IfNoneMatch to CompleteMultipartUpload.
//
// in is not modified. The message is streamed: frames are sealed, cut
// into parts and uploaded while the body is read, with at most
// concurrency+1 parts in memory. A message that fits one part is stored
// with one PutObject; a larger one with a multipart upload whose parts are
// uploaded concurrently. If anything fails — the body, the encryption, an
// S3 call, ctx — the multipart upload is aborted: no object and no parts
// are left.
//
// The encryption context is authenticated and stored in the message header
// (and sent to KMS, which logs it); it is not copied into the object's
// metadata, which holds only the caller's and the Meta* descriptions.
func (c *Client) Put(ctx context.Context, in *s3.PutObjectInput, ec map[string]string, opts ...PutOption) (*PutResult, error) {
	o, err := callOptions(c, callPut, opts)
	if err != nil {
		return nil, err
	}
	if err := checkPutInput(in); err != nil {
		return nil, err
	}
	size := int64(-1)
	eopts := o.encrypt
	if in.ContentLength != nil {
		size = *in.ContentLength
		eopts = slices.Concat(eopts, []envelope.EncryptOption{envelope.WithPlaintextLength(size)})
	}
	u := &upload{c: c, opt: &o, in: *in, bucket: *in.Bucket, key: *in.Key, free: make(chan []byte, o.concurrency+1)}
	u.in.Body, u.in.ContentLength = nil, nil
	if u.in.ContentType == nil {
		u.in.ContentType = aws.String("application/octet-stream")
	}
	u.ctx, u.cancel = context.WithCancelCause(ctx)
	defer u.cancel(nil)
	u.g, u.gctx = errgroup.WithContext(u.ctx)
	u.g.SetLimit(o.concurrency)
	u.progress = progress{fn: o.progress, total: -1}
	defer u.release()

	ew, err := c.enc.NewEncryptWriter(u.ctx, u, ec, eopts...)
	if err != nil {
		return nil, u.fail(ctx, err)
	}
	u.plan(ew.Header(), size)
	n, err := c.feed(ew, in.Body, size)
	if err == nil {
		err = ew.Close()
	}
	if err != nil {
		return nil, u.fail(ctx, err)
	}
	res, err := u.finish()
	if err != nil {
		return nil, u.fail(ctx, err)
	}
	res.PlaintextLength = n
	res.Header = ew.Header()
	return res, nil
}

// feed writes the plaintext read from r to ew, at most size bytes if size
// is not negative, and returns how many it wrote.
func (c *Client) feed(ew io.Writer, r io.Reader, size int64) (int64, error) {
	if wt, ok := inMemory(r); ok && size >= 0 {
		// One Write of the bytes in memory: the frames are sealed straight
		// from them, with no copy into frame buffers.
		n, err := wt.WriteTo(&capWriter{w: ew, n: size})
		if err == errCapped {
			err = nil
		}
		return n, err
	}
	if size >= 0 {
		r = io.LimitReader(r, size)
	}
	if wt, ok := r.(io.WriterTo); ok {
		return wt.WriteTo(ew)
	}
	if size >= 0 && size < copyBufferSize {
		return io.CopyBuffer(ew, r, make([]byte, max(size, 1))) // r is a LimitReader
	}
	b := c.bufs.copyBuffer()
	defer c.bufs.copy.Put(b)
	return io.CopyBuffer(ew, r, *b)
}

// inMemory returns r as an io.WriterTo if r holds its bytes in memory and
// its WriteTo hands them over in one Write, consuming only the bytes that
// Write accepted: capped at ContentLength, it reads no byte past it.
func inMemory(r io.Reader) (io.WriterTo, bool) {
	switch r := r.(type) {
	case *bytes.Reader:
		return r, true
	case *bytes.Buffer:
		return r, true
	}
	return nil, false
}

// errCapped is what a capWriter returns for the bytes past its cap.
var errCapped = errors.New("s3crypt: body longer than ContentLength")

// capWriter writes at most n bytes to w; a Write of more writes the first
// n and fails with errCapped.
type capWriter struct {
	w io.Writer
	n int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	capped := int64(len(p)) > c.n
	if capped {
		p = p[:c.n]
	}
	n, err := c.w.Write(p)
	c.n -= int64(n)
	if err == nil && capped {
		err = errCapped
	}
	return n, err
}

// metaPrefix starts every metadata key Put writes; callers' keys may not.
const metaPrefix = "phicrypt-"

// checkPutInput refuses an input Put cannot store as asked.
func checkPutInput(in *s3.PutObjectInput) error {
	invalid := func(field, why string) error {
		return fmt.Errorf("s3crypt: PutObjectInput.%s: %s: %w", field, why, envelope.ErrInvalidOption)
	}
	switch {
	case in == nil:
		return fmt.Errorf("s3crypt: nil PutObjectInput: %w", envelope.ErrInvalidOption)
	case in.Bucket == nil || in.Key == nil:
		return invalid("Bucket/Key", "not set")
	case in.Body == nil:
		return invalid("Body", "nil plaintext reader")
	case in.ContentLength != nil && *in.ContentLength < 0:
		return invalid("ContentLength", fmt.Sprintf("negative plaintext length %d", *in.ContentLength))
	case in.WriteOffsetBytes != nil:
		return invalid("WriteOffsetBytes", "an append to an existing object is not one message")
	}
	for _, f := range []struct {
		name string
		v    *string
	}{
		{"ContentMD5", in.ContentMD5}, {"ChecksumCRC32", in.ChecksumCRC32}, {"ChecksumCRC32C", in.ChecksumCRC32C},
		{"ChecksumCRC64NVME", in.ChecksumCRC64NVME}, {"ChecksumMD5", in.ChecksumMD5}, {"ChecksumSHA1", in.ChecksumSHA1},
		{"ChecksumSHA256", in.ChecksumSHA256}, {"ChecksumSHA512", in.ChecksumSHA512},
		{"ChecksumXXHASH128", in.ChecksumXXHASH128}, {"ChecksumXXHASH3", in.ChecksumXXHASH3}, {"ChecksumXXHASH64", in.ChecksumXXHASH64},
	} {
		if f.v != nil {
			return invalid(f.name, "a checksum of the plaintext cannot apply to the stored ciphertext")
		}
	}
	for k := range in.Metadata {
		if len(k) >= len(metaPrefix) && strings.EqualFold(k[:len(metaPrefix)], metaPrefix) {
			return invalid("Metadata", fmt.Sprintf("key %.80q: keys starting %q are phicrypt's", k, metaPrefix))
		}
	}
	return nil
}

// upload is the io.Writer a message is written to: it cuts the message
// into parts and uploads them.
//
// Invariant: part n+1 is started only when the first byte after part n
// arrives, so the last part is never empty and a message of one part is
// one PutObject.
type upload struct {
	c           *Client
	opt         *options
	in          s3.PutObjectInput // the caller's, without Body and ContentLength
	bucket, key string
	ctx         context.Context // the caller's, cancelled when Put returns
	cancel      context.CancelCauseFunc
	g           *errgroup.Group // part uploads
	gctx        context.Context // cancelled on the first failed part

	planned bool
	meta    map[string]string
	first   int64 // length of part 1
	rest    int64 // length of later parts
	total   int64 // message length, or -1 if unknown
	bufSize int64 // capacity of a whole part buffer: max(first, rest)

	free    chan []byte // part buffers to reuse
	nbufs   int         // part buffers allocated, at most concurrency+1
	cur     []byte      // the part being filled
	written int64       // message bytes written so far

	uploadID *string
	nparts   int32

	mu       sync.Mutex // guards parts
	parts    []types.CompletedPart
	progress progress
}

// plan fixes the part layout and the metadata once the header is known.
// With R = FrameLength+32 and m = ⌈partSize/R⌉, part 1 is the header and m
// frames and each later part m frames (the last excepted), so parts end on
// frame boundaries and are at least the part size. Only frames too large
// for that (m·R > MaxPartSize) give parts of exactly the part size.
func (u *upload) plan(h *envelope.Header, size int64) {
	P := u.opt.partSize
	total := int64(-1)
	if size >= 0 {
		if n, err := h.MessageLength(size); err == nil {
			total = n
			// Grow the parts if the message would need more than MaxParts.
			if need := (total + MaxParts - 1) / MaxParts; need > P {
				P = (need + 1<<20 - 1) &^ (1<<20 - 1)
			}
		}
	}
	u.progress.total, u.total = total, total
	u.first, u.rest = P, P
	R := int64(h.FrameLength) + stream.RegularOverhead
	if m := (P + R - 1) / R; m*R <= MaxPartSize {
		u.first, u.rest = int64(h.Len())+m*R, m*R
	}
	u.bufSize = max(u.first, u.rest)
	u.meta = maps.Clone(u.in.Metadata)
	if u.meta == nil {
		u.meta = make(map[string]string, 4)
	}
	u.meta[MetaFormat] = fmt.Sprintf("aws-esdk-v%d", h.Version)
	u.meta[MetaSuite] = h.Suite.String()
	u.meta[MetaFrameLength] = strconv.FormatUint(uint64(h.FrameLength), 10)
	if size >= 0 {
		u.meta[MetaPlaintextLength] = strconv.FormatInt(size, 10)
	}
	u.planned = true
}

// target returns the length of the part being filled.
func (u *upload) target() int64 {
	if u.nparts == 0 {
		return u.first
	}
	return u.rest
}

// Write buffers message bytes and starts the upload of each full part once
// a byte of the next one arrives. The header, written before the layout is
// planned, is kept in a buffer of its own until then.
func (u *upload) Write(p []byte) (int, error) {
	if !u.planned {
		u.cur = append(u.cur, p...)
		u.written += int64(len(p))
		return len(p), nil
	}
	n := 0
	for len(p) > 0 {
		if err := u.gctx.Err(); err != nil {
			return n, u.cause()
		}
		room := u.target() - int64(len(u.cur))
		if room == 0 {
			if err := u.flush(); err != nil {
				return n, err
			}
			continue
		}
		k := int(min(room, int64(len(p))))
		if need := len(u.cur) + k; need > cap(u.cur) {
			if err := u.grow(int64(need)); err != nil {
				return n, err
			}
		}
		u.cur = append(u.cur, p[:k]...)
		p = p[k:]
		n += k
		u.written += int64(k)
	}
	return n, nil
}

// cause returns why the part uploads stopped.
func (u *upload) cause() error {
	if err := context.Cause(u.gctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if err := context.Cause(u.ctx); err != nil {
		return err
	}
	return context.Cause(u.gctx)
}

// grow gives u.cur a capacity of at least need bytes, need being at most
// the part's length: a later part, or part 1 of a message longer than one
// part, gets a whole part buffer; a message of known length that fits one
// part a buffer of exactly its length; part 1 of a message of unknown
// length an idle whole part buffer if the Client has one, else a buffer
// that doubles from firstBufferSize up to a whole part buffer.
func (u *upload) grow(need int64) error {
	c := u.bufSize
	switch {
	case u.nparts > 0:
	case u.total >= 0:
		c = min(u.total, u.bufSize)
	default:
		if b, ok := u.c.bufs.idlePart(u.bufSize); ok {
			u.nbufs++
			u.cur = append(b, u.cur...)
			return nil
		}
		c = min(max(2*int64(cap(u.cur)), firstBufferSize), u.bufSize)
	}
	c = max(c, need)
	var b []byte
	if c >= u.bufSize {
		var err error
		if b, err = u.buffer(); err != nil {
			return err
		}
	} else {
		b = make([]byte, 0, c)
	}
	u.cur = append(b, u.cur...) // the header or part 1 so far
	return nil
}

// release returns the Put's whole part buffers to the Client's pool once
// no part upload uses them.
func (u *upload) release() {
	if int64(cap(u.cur)) == u.bufSize {
		u.c.bufs.putPart(u.cur)
	}
	u.cur = nil
	for {
		select {
		case b := <-u.free:
			u.c.bufs.putPart(b)
		default:
			return
		}
	}
}

// buffer returns an empty part buffer, waiting for one to be free once
// concurrency+1 are allocated.
func (u *upload) buffer() ([]byte, error) {
	select {
	case b := <-u.free:
		return b[:0], nil
	default:
	}
	if u.nbufs <= u.opt.concurrency {
		u.nbufs++
		return u.c.bufs.part(u.bufSize), nil
	}
	select {
	case b := <-u.free:
		return b[:0], nil
	case <-u.gctx.Done():
		return nil, u.cause()
	}
}

// flush starts the upload of the full current part, creating the
// multipart upload before the first.
func (u *upload) flush() error {
	if u.uploadID == nil {
		out, err := u.c.s3.CreateMultipartUpload(u.gctx, u.createInput())
		if err != nil {
			return fmt.Errorf("s3crypt: create multipart upload: %w", mapError(err))
		}
		if out.UploadId == nil {
			return errors.New("s3crypt: create multipart upload: no upload ID")
		}
		u.uploadID = out.UploadId
	}
	if u.nparts >= MaxParts {
		return fmt.Errorf("s3crypt: more than %d parts of %d bytes: %w", MaxParts, u.rest, ErrTooLarge)
	}
	u.nparts++
	num, buf := u.nparts, u.cur
	u.cur = nil
	u.g.Go(func() error {
		defer func() { u.free <- buf }()
		in := &s3.UploadPartInput{
			Bucket: u.in.Bucket, Key: u.in.Key, UploadId: u.uploadID, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf))), ChecksumAlgorithm: u.partChecksum(),
			ExpectedBucketOwner: u.in.ExpectedBucketOwner, RequestPayer: u.in.RequestPayer,
			SSECustomerAlgorithm: u.in.SSECustomerAlgorithm, SSECustomerKey: u.in.SSECustomerKey, SSECustomerKeyMD5: u.in.SSECustomerKeyMD5,
		}
		out, err := u.c.s3.UploadPart(u.gctx, in)
		if err != nil {
			return fmt.Errorf("s3crypt: upload part %d: %w", num, err)
		}
		u.mu.Lock()
		u.parts = append(u.parts, types.CompletedPart{
			PartNumber:        aws.Int32(num),
			ETag:              out.ETag,
			ChecksumCRC32:     out.ChecksumCRC32,
			ChecksumCRC32C:    out.ChecksumCRC32C,
			ChecksumCRC64NVME: out.ChecksumCRC64NVME,
			ChecksumSHA1:      out.ChecksumSHA1,
			ChecksumSHA256:    out.ChecksumSHA256,
		})
		u.mu.Unlock()
		u.progress.add(int64(len(buf)))
		return nil
	})
	return nil
}

// partChecksum is the checksum algorithm of the multipart upload, declared
// at its creation and sent with every part whatever the client's
// RequestChecksumCalculation: servers reject parts whose checksums the
// upload did not declare.
func (u *upload) partChecksum() types.ChecksumAlgorithm {
	if u.in.ChecksumAlgorithm != "" {
		return u.in.ChecksumAlgorithm
	}
	return types.ChecksumAlgorithmCrc32
}

// createInput is the caller's PutObjectInput as a CreateMultipartUpload:
// every field it has, the metadata merged.
func (u *upload) createInput() *s3.CreateMultipartUploadInput {
	in := &u.in
	return &s3.CreateMultipartUploadInput{
		Bucket: in.Bucket, Key: in.Key, Metadata: u.meta, ChecksumAlgorithm: u.partChecksum(),
		ACL: in.ACL, GrantFullControl: in.GrantFullControl, GrantRead: in.GrantRead,
		GrantReadACP: in.GrantReadACP, GrantWriteACP: in.GrantWriteACP,
		CacheControl: in.CacheControl, ContentDisposition: in.ContentDisposition, ContentEncoding: in.ContentEncoding,
		ContentLanguage: in.ContentLanguage, ContentType: in.ContentType, Expires: in.Expires,
		WebsiteRedirectLocation: in.WebsiteRedirectLocation, StorageClass: in.StorageClass, Tagging: in.Tagging,
		ExpectedBucketOwner: in.ExpectedBucketOwner, RequestPayer: in.RequestPayer,
		ServerSideEncryption: in.ServerSideEncryption, SSEKMSKeyId: in.SSEKMSKeyId,
		SSEKMSEncryptionContext: in.SSEKMSEncryptionContext, BucketKeyEnabled: in.BucketKeyEnabled,
		SSECustomerAlgorithm: in.SSECustomerAlgorithm, SSECustomerKey: in.SSECustomerKey, SSECustomerKeyMD5: in.SSECustomerKeyMD5,
		ObjectLockMode: in.ObjectLockMode, ObjectLockRetainUntilDate: in.ObjectLockRetainUntilDate,
		ObjectLockLegalHoldStatus: in.ObjectLockLegalHoldStatus, ObjectLockEventHold: in.ObjectLockEventHold,
		ObjectLockEventHoldDurationDays:  in.ObjectLockEventHoldDurationDays,
		ObjectLockEventHoldDurationYears: in.ObjectLockEventHoldDurationYears,
	}
}

// finish stores a message of one part with PutObject, or uploads the last
// part and completes the multipart upload.
func (u *upload) finish() (*PutResult, error) {
	res := &PutResult{Bucket: u.bucket, Key: u.key, Size: u.written}
	if u.uploadID == nil {
		in := u.in // a copy
		in.Body, in.ContentLength, in.Metadata = bytes.NewReader(u.cur), aws.Int64(int64(len(u.cur))), u.meta
		out, err := u.c.s3.PutObject(u.ctx, &in)
		if err != nil {
			return nil, fmt.Errorf("s3crypt: put object: %w", mapError(err))
		}
		res.ETag, res.VersionID = aws.ToString(out.ETag), aws.ToString(out.VersionId)
		u.progress.finish(u.written)
		return res, nil
	}
	if err := u.flush(); err != nil {
		return nil, err
	}
	if err := u.g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(u.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	out, err := u.c.s3.CompleteMultipartUpload(u.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: u.in.Bucket, Key: u.in.Key, UploadId: u.uploadID,
		MultipartUpload:     &types.CompletedMultipartUpload{Parts: u.parts},
		ExpectedBucketOwner: u.in.ExpectedBucketOwner, RequestPayer: u.in.RequestPayer,
		IfMatch: u.in.IfMatch, IfNoneMatch: u.in.IfNoneMatch,
		SSECustomerAlgorithm: u.in.SSECustomerAlgorithm, SSECustomerKey: u.in.SSECustomerKey, SSECustomerKeyMD5: u.in.SSECustomerKeyMD5,
	})
	if err != nil {
		return nil, fmt.Errorf("s3crypt: complete multipart upload: %w", err)
	}
	res.ETag, res.VersionID = aws.ToString(out.ETag), aws.ToString(out.VersionId)
	res.Parts = int(u.nparts)
	u.progress.finish(u.written)
	return res, nil
}

// fail waits for the part uploads, aborts the multipart upload if there is
// one and returns the first cause of the failure. Parts in flight finish
// first unless ctx is done: a part cancelled mid-body may still be stored
// by the server after the abort.
func (u *upload) fail(ctx context.Context, err error) error {
	err = fromEnvelope(err, u.bucket, u.key)
	if ctx.Err() != nil {
		u.cancel(err)
	}
	if gerr := u.g.Wait(); gerr != nil && !errors.Is(gerr, context.Canceled) {
		// A part upload failed first; the writer's error is its echo.
		err = gerr
	}
	u.cancel(err)
	if u.uploadID == nil {
		return err
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if aerr := u.abort(actx); aerr != nil {
		return errors.Join(err, fmt.Errorf("s3crypt: abort multipart upload: %w", aerr))
	}
	return err
}

// abort aborts the multipart upload until ListParts no longer finds it:
// S3 may keep a part whose upload was still running during an abort, and
// asks for the abort to be repeated then.
func (u *upload) abort(ctx context.Context) error {
	wait := 50 * time.Millisecond
	for range 6 {
		_, err := u.c.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: u.in.Bucket, Key: u.in.Key, UploadId: u.uploadID,
			ExpectedBucketOwner: u.in.ExpectedBucketOwner, RequestPayer: u.in.RequestPayer,
		})
		if err != nil && !isNoSuchUpload(err) {
			return err
		}
		_, err = u.c.s3.ListParts(ctx, &s3.ListPartsInput{
			Bucket: u.in.Bucket, Key: u.in.Key, UploadId: u.uploadID,
			ExpectedBucketOwner: u.in.ExpectedBucketOwner, RequestPayer: u.in.RequestPayer,
			SSECustomerAlgorithm: u.in.SSECustomerAlgorithm, SSECustomerKey: u.in.SSECustomerKey, SSECustomerKeyMD5: u.in.SSECustomerKeyMD5,
		})
		if isNoSuchUpload(err) {
			return nil
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.New("upload still listed after repeated aborts")
}

func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	var ae smithy.APIError
	return errors.As(err, &nsu) || errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload"
}

// progress serializes the calls of a progress function.
type progress struct {
	mu    sync.Mutex
	fn    func(done, total int64)
	done  int64
	total int64
}

func (p *progress) add(n int64) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.total >= 0 && p.done > p.total {
		p.total = -1 // a declared size that was wrong: say unknown
	}
	p.fn(p.done, p.total)
}

// finish reports the end of a transfer of total bytes.
func (p *progress) finish(total int64) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = total, total
	p.fn(total, total)
}
