package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/phicrypt/phicrypt/envelope"
)

// ErrInputChanged reports a local input whose size or modification time
// changed while it was read, or whose size differs from the listing's:
// what was read may mix two versions, so nothing is written.
var ErrInputChanged = errors.New("input changed while it was read")

// smallFile is the largest local input encrypted or decrypted in one call
// (envelope's EncryptAppend or DecryptAppend) from a buffer holding it
// whole, rather than streamed: no frame goroutines, no per-file buffers
// (smallBufs are reused), one write of the output.
const smallFile = 1 << 20

// smallBufs are the buffers of one small file: in holds the input, out
// the result. Reused through runner.small; the part of either that held
// plaintext (plain) is cleared before they go back.
type smallBufs struct {
	in, out []byte
	plain   []byte // within in (encrypt) or out (decrypt)
}

// statter is an open local input, whose metadata tells whether it changed.
type statter interface{ Stat() (fs.FileInfo, error) }

// smallInput reports whether j, opened as in, takes the one-call path: a
// local file of at most smallFile bytes, encrypted or decrypted (not
// reencrypted) into a local directory or file.
func (r *runner) smallInput(j *job, in io.Reader) (statter, bool) {
	if r.op == Reencrypt || j.in.size < 0 || j.in.size > smallFile {
		return nil, false
	}
	if _, ok := j.dst.(*localSink); !ok {
		return nil, false
	}
	f, ok := in.(statter)
	return f, ok
}

func (r *runner) getSmall() *smallBufs {
	if b, ok := r.small.Get().(*smallBufs); ok {
		return b
	}
	return &smallBufs{}
}

// readWhole reads the whole of f, listed at size bytes, through r (which
// reads f) into buf, whose capacity must be at least size+1, and returns
// it. It fails with ErrInputChanged when f no longer has size bytes,
// holds more or fewer bytes than its metadata said, or its size or
// modification time changed during the read. A rewrite of the same size
// within one tick of the file system's clock goes unseen: the check is
// as fine as the timestamps.
func readWhole(r io.Reader, f statter, size int64, buf []byte) ([]byte, error) {
	before, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if before.Size() != size {
		return nil, fmt.Errorf("%w: %d bytes when listed, %d when opened", ErrInputChanged, size, before.Size())
	}
	buf = buf[:size+1] // one byte more than expected, to see a file that grew
	n, err := io.ReadFull(r, buf)
	switch {
	case err == nil:
		return nil, fmt.Errorf("%w: more than its %d bytes", ErrInputChanged, size)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		return nil, err
	}
	if int64(n) != size {
		return nil, fmt.Errorf("%w: %d of its %d bytes read", ErrInputChanged, n, size)
	}
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return nil, fmt.Errorf("%w: modified during the read", ErrInputChanged)
	}
	return buf[:n], nil
}

// unchangedReader reads a streamed local input, f, listed at size bytes
// (-1: unknown), through r, and ends it with ErrInputChanged instead of
// io.EOF when f's size or modification time changed since its first Read
// or its size is not the listing's: the output, written only after the
// end, is never committed from a file rewritten meanwhile. Like
// readWhole's, the check is as fine as the file system's timestamps.
type unchangedReader struct {
	r      io.Reader
	f      statter
	size   int64
	before fs.FileInfo
}

func (u *unchangedReader) Read(p []byte) (int, error) {
	if u.before == nil {
		fi, err := u.f.Stat()
		if err != nil {
			return 0, err
		}
		if u.size >= 0 && fi.Size() != u.size {
			return 0, fmt.Errorf("%w: %d bytes when listed, %d when opened", ErrInputChanged, u.size, fi.Size())
		}
		u.before = fi
	}
	n, err := u.r.Read(p)
	if err == io.EOF {
		after, serr := u.f.Stat()
		switch {
		case serr != nil:
			return n, serr
		case after.Size() != u.before.Size() || !after.ModTime().Equal(u.before.ModTime()):
			return n, fmt.Errorf("%w: modified during the read", ErrInputChanged)
		}
	}
	return n, err
}

// doSmall encrypts or decrypts j, a small local input read through in
// (counting f's bytes), in one call, then writes and commits the output:
// a message of the same form, and as durable, as the streaming path's.
func (r *runner) doSmall(ctx context.Context, j *job, in io.Reader, f statter, rec *Record) error {
	var out output
	var err error
	if r.op == Encrypt {
		// First, as when streaming: an output that exists (ErrExists) costs
		// no data key, which may be a KMS request.
		if out, err = j.dst.create(ctx, j.target, j.below, j.in, r.o.Overwrite); err != nil {
			return err
		}
		defer out.abort()
	}
	b := r.getSmall()
	msg, err := r.sealOrOpen(ctx, j, in, f, b, rec)
	if err != nil {
		r.putSmall(b)
		return err
	}
	if out == nil {
		if out, err = j.dst.create(ctx, j.target, j.below, j.in, r.o.Overwrite); err != nil {
			r.putSmall(b)
			return err
		}
		defer out.abort()
	}
	cw := &countWriter{w: out}
	_, err = cw.Write(msg)
	r.putSmall(b) // before the commit: the data is the file's now
	if err != nil {
		return err
	}
	return commit(ctx, j, out, cw, rec)
}

// putSmall clears b of plaintext and keeps it for the next small file.
func (r *runner) putSmall(b *smallBufs) {
	clear(b.plain)
	b.plain = nil
	r.small.Put(b)
}

// sealOrOpen reads j's input into b.in and returns its message (encrypt)
// or plaintext (decrypt), held in b.out. Decrypt refuses, before any key
// is used, a context the run does not expect and frames longer than the
// run's limit, as the streaming path does.
func (r *runner) sealOrOpen(ctx context.Context, j *job, in io.Reader, f statter, b *smallBufs, rec *Record) ([]byte, error) {
	if int64(cap(b.in)) < j.in.size+1 {
		b.in = make([]byte, j.in.size+1)
	}
	if r.op == Encrypt {
		b.plain = b.in[:j.in.size+1] // what readWhole may fill
	}
	data, err := readWhole(in, f, j.in.size, b.in)
	if err != nil {
		return nil, err
	}
	if r.op == Encrypt {
		opts := []envelope.EncryptOption{envelope.WithFrameWorkers(1)}
		if r.o.Suite != 0 {
			opts = append(opts, envelope.WithSuite(r.o.Suite))
		}
		if r.o.FrameSize != 0 {
			opts = append(opts, envelope.WithFrameLength(r.o.FrameSize))
		}
		ec := r.o.Context
		if ec == nil {
			ec = map[string]string{}
		}
		msg, err := r.client.EncryptAppend(ctx, b.out[:0], data, ec, opts...)
		if err != nil {
			return nil, err
		}
		b.out = msg
		h, err := envelope.ParseHeader(bytes.NewReader(msg))
		if err != nil {
			return nil, err
		}
		describe(rec, h)
		return msg, nil
	}
	h, herr := envelope.ParseHeader(bytes.NewReader(data))
	if herr == nil {
		describe(rec, h) // for a failure's record; replaced once authenticated
		if err := r.o.checkContext(h); err != nil {
			return nil, err
		}
		if err := r.o.checkFrameLength(h); err != nil {
			return nil, err
		}
	}
	opts := []envelope.DecryptOption{envelope.WithFrameWorkers(1)}
	if len(r.o.ExpectContext) > 0 {
		opts = append(opts, envelope.WithExpectedContext(r.o.ExpectContext))
	}
	// No WithMaxFrameLength: Decrypt refuses it, its input being whole;
	// checkFrameLength above applies the limit.
	pt, dh, err := r.dclient.DecryptAppend(ctx, b.out[:0], data, opts...)
	if err != nil {
		err = frameLimitHint(err)
		if herr == nil && errors.Is(err, envelope.ErrNoDecryptionKey) {
			return nil, withKeysHint(err, h)
		}
		return nil, err
	}
	b.out, b.plain = pt, pt // DecryptAppend cleared what it wrote on failure
	if err := r.o.checkContext(dh); err != nil {
		return nil, err
	}
	describe(rec, dh)
	return pt, nil
}
