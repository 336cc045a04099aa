package s3crypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
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

// Put encrypts the size bytes of r (size -1: until io.EOF) into one
// message under the encryption context ec and stores it as bucket/key.
//
// The message is streamed: frames are sealed, cut into parts and uploaded
// while r is read, with at most concurrency+1 parts in memory. A message
// that fits one part is stored with one PutObject; a larger one with a
// multipart upload whose parts are uploaded concurrently. If anything fails
// — r, the encryption, an S3 call, ctx — the multipart upload is aborted:
// no object and no parts are left. With size ≥ 0, a reader that ends early
// fails with envelope.ErrPlaintextLength; bytes after size are not read.
//
// The encryption context is authenticated and stored in the message header
// (and sent to KMS, which logs it); it is not copied into the object's
// metadata, which holds only the Meta* descriptions.
func (c *Client) Put(ctx context.Context, bucket, key string, r io.Reader, size int64, ec map[string]string, opts ...PutOption) (*PutResult, error) {
	o, err := callOptions(c, callPut, opts)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("s3crypt: nil reader")
	}
	if size < -1 {
		return nil, fmt.Errorf("s3crypt: size %d, want -1 (unknown) or more", size)
	}
	eopts := o.encrypt
	if size >= 0 {
		eopts = slices.Concat(eopts, []envelope.EncryptOption{envelope.WithPlaintextLength(size)})
		r = io.LimitReader(r, size)
	}
	u := &upload{c: c, opt: &o, bucket: bucket, key: key, free: make(chan []byte, o.concurrency+1)}
	u.ctx, u.cancel = context.WithCancelCause(ctx)
	defer u.cancel(nil)
	u.g, u.gctx = errgroup.WithContext(u.ctx)
	u.g.SetLimit(o.concurrency)
	u.progress = progress{fn: o.progress, total: -1}

	ew, err := c.enc.NewEncryptWriter(u.ctx, u, ec, eopts...)
	if err != nil {
		return nil, u.fail(ctx, err)
	}
	u.plan(ew.Header(), size)
	var n int64
	if wt, ok := r.(io.WriterTo); ok {
		n, err = wt.WriteTo(ew)
	} else {
		n, err = io.CopyBuffer(ew, r, make([]byte, copyBufferSize))
	}
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

// upload is the io.Writer a message is written to: it cuts the message
// into parts and uploads them.
//
// Invariant: part n+1 is started only when the first byte after part n
// arrives, so the last part is never empty and a message of one part is
// one PutObject.
type upload struct {
	c           *Client
	opt         *options
	bucket, key string
	ctx         context.Context // the caller's, cancelled when Put returns
	cancel      context.CancelCauseFunc
	g           *errgroup.Group // part uploads
	gctx        context.Context // cancelled on the first failed part

	planned bool
	meta    map[string]string
	first   int64 // length of part 1
	rest    int64 // length of later parts

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
	u.progress.total = total
	u.first, u.rest = P, P
	R := int64(h.FrameLength) + stream.RegularOverhead
	if m := (P + R - 1) / R; m*R <= MaxPartSize {
		u.first, u.rest = int64(h.Len())+m*R, m*R
	}
	u.meta = map[string]string{
		MetaFormat:      fmt.Sprintf("aws-esdk-v%d", h.Version),
		MetaSuite:       h.Suite.String(),
		MetaFrameLength: strconv.FormatUint(uint64(h.FrameLength), 10),
	}
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
		if cap(u.cur) < int(u.target()) {
			b, err := u.buffer()
			if err != nil {
				return n, err
			}
			u.cur = append(b, u.cur...) // the header, before part 1
		}
		room := u.target() - int64(len(u.cur))
		if room == 0 {
			if err := u.flush(); err != nil {
				return n, err
			}
			continue
		}
		k := int(min(room, int64(len(p))))
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
		return make([]byte, 0, max(u.first, u.rest)), nil
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
		out, err := u.c.s3.CreateMultipartUpload(u.gctx, &s3.CreateMultipartUploadInput{
			Bucket:      &u.bucket,
			Key:         &u.key,
			Metadata:    u.meta,
			ContentType: aws.String("application/octet-stream"),
			// Declared here and sent with every part, whatever the
			// client's RequestChecksumCalculation: servers reject parts
			// whose checksums the upload did not declare.
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
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
		out, err := u.c.s3.UploadPart(u.gctx, &s3.UploadPartInput{
			Bucket:            &u.bucket,
			Key:               &u.key,
			UploadId:          u.uploadID,
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(buf),
			ContentLength:     aws.Int64(int64(len(buf))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
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

// finish stores a message of one part with PutObject, or uploads the last
// part and completes the multipart upload.
func (u *upload) finish() (*PutResult, error) {
	res := &PutResult{Bucket: u.bucket, Key: u.key, Size: u.written}
	if u.uploadID == nil {
		out, err := u.c.s3.PutObject(u.ctx, &s3.PutObjectInput{
			Bucket:        &u.bucket,
			Key:           &u.key,
			Body:          bytes.NewReader(u.cur),
			ContentLength: aws.Int64(int64(len(u.cur))),
			Metadata:      u.meta,
			ContentType:   aws.String("application/octet-stream"),
		})
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
		Bucket:          &u.bucket,
		Key:             &u.key,
		UploadId:        u.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
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
			Bucket: &u.bucket, Key: &u.key, UploadId: u.uploadID,
		})
		if err != nil && !isNoSuchUpload(err) {
			return err
		}
		_, err = u.c.s3.ListParts(ctx, &s3.ListPartsInput{Bucket: &u.bucket, Key: &u.key, UploadId: u.uploadID})
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
