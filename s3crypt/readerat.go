package s3crypt

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/stream"
)

// ReaderAt decrypts any plaintext range of one object of an unsigned suite,
// fetching only the header (once, at Open) and the frames the range
// covers, each authenticated before any of its bytes is returned. It is
// safe for concurrent use.
type ReaderAt struct {
	obj *Object
	ob  *object
	d   *envelope.DecryptReaderAt
	src *spanSource
	opt options
	ctx context.Context // bounds the GETs of ReadAt
}

// Open opens in.Bucket/in.Key for random access: it fetches and
// authenticates the header (with the key from the Client's keyring).
// Signed messages can only be verified whole and are refused with
// envelope.ErrSignedMessage; read them with Get. ctx bounds every GET of
// ReadAt; ReadAtContext takes a context per call. WithExpectedContext
// refuses objects written under another context. The fields of in go to
// every ranged GET as they do for Get (Range and PartNumber are refused).
func (c *Client) Open(ctx context.Context, in *s3.GetObjectInput, opts ...GetOption) (*ReaderAt, error) {
	o, err := callOptions(c, callOpen, opts)
	if err != nil {
		return nil, err
	}
	gin, err := checkGetInput("GetObjectInput", in)
	if err != nil {
		return nil, err
	}
	ob, err := c.fetchObject(ctx, gin, headPrefix)
	if err != nil {
		return nil, err
	}
	src := &spanSource{ctxReaderAt: ctxReaderAt{ob: ob, ctx: ctx}}
	d, err := c.enc.NewDecryptReaderAt(ctx, src, ob.size, o.decrypt...)
	if err != nil {
		return nil, ob.headerError(src, err)
	}
	return &ReaderAt{obj: ob.describe(d.Header()), ob: ob, d: d, src: src, opt: o, ctx: ctx}, nil
}

// Object describes the object; its Header is authenticated.
func (r *ReaderAt) Object() *Object { return r.obj }

// Header returns the authenticated message header.
func (r *ReaderAt) Header() *envelope.Header { return r.d.Header() }

// EncryptionContext returns the message's full authenticated context.
func (r *ReaderAt) EncryptionContext() map[string]string { return r.d.EncryptionContext() }

// Size returns the plaintext length.
func (r *ReaderAt) Size() int64 { return r.d.Size() }

// ReadAt reads plaintext bytes [off, off+len(p)) under the Open context;
// see ReadAtContext.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) { return r.ReadAtContext(r.ctx, p, off) }

// ReadAtContext reads plaintext bytes [off, off+len(p)). It fetches the
// frames covering the range — with one GET per part size, concurrently —
// then authenticates and decrypts them. A range that reaches the end of
// the plaintext also verifies the final frame. Like io.ReaderAt it returns
// io.EOF when fewer than len(p) bytes remain; on any other error p holds
// nothing.
func (r *ReaderAt) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	size := r.d.Size()
	if off < 0 {
		return 0, errors.New("s3crypt: negative offset")
	}
	if off >= size || len(p) == 0 {
		return r.d.ReadAt(p, off)
	}
	end := min(off+int64(len(p)), size)
	h := r.d.Header()
	H := int64(h.Len())
	lo, hi, err := stream.SealedRange(off, end, r.ob.size-H, int(h.FrameLength))
	if err != nil {
		return 0, err
	}
	lo, hi = H+lo, H+hi
	sp := &span{off: lo, buf: make([]byte, hi-lo)}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opt.concurrency)
	for o := lo; o < hi; o += r.opt.partSize {
		b := sp.buf[o-lo : min(o-lo+r.opt.partSize, hi-lo)]
		g.Go(func() error { return r.ob.get(gctx, b, o) })
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	r.src.add(sp)
	defer r.src.remove(sp)
	n, err := r.d.ReadAt(p, off)
	return n, fromEnvelope(err, r.obj.Bucket, r.obj.Key)
}

// spanSource is the io.ReaderAt the DecryptReaderAt reads: it serves the
// ranges ReadAtContext fetched, and GETs anything else (the header).
type spanSource struct {
	ctxReaderAt
	mu    sync.Mutex
	spans []*span
}

// span is object bytes [off, off+len(buf)).
type span struct {
	off int64
	buf []byte
}

func (s *spanSource) add(sp *span) {
	s.mu.Lock()
	s.spans = append(s.spans, sp)
	s.mu.Unlock()
}

func (s *spanSource) remove(sp *span) {
	s.mu.Lock()
	s.spans = slices.DeleteFunc(s.spans, func(x *span) bool { return x == sp })
	s.mu.Unlock()
}

func (s *spanSource) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	for _, sp := range s.spans {
		if off >= sp.off && off+int64(len(p)) <= sp.off+int64(len(sp.buf)) {
			s.mu.Unlock()
			return copy(p, sp.buf[off-sp.off:]), nil
		}
	}
	s.mu.Unlock()
	return s.ctxReaderAt.ReadAt(p, off)
}
