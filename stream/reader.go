package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/phicrypt/phicrypt/internal/iocheck"
)

// A Reader opens a framed (or legacy non-framed) body read from an
// io.Reader. The caller's goroutine reads and parses frames ahead; they are
// opened on Config.Workers goroutines, the caller's among them while it
// waits for a frame, and released in order, each only after its tag
// verified. Unless Config.ReadPast, it never reads past the end of the
// body, so the caller can read a footer from the same source afterwards.
type Reader struct {
	src       io.Reader // checked, or a TeeReader of checked
	checked   iocheck.Reader
	cfg       Config
	k         keyed
	nonFrame  bool
	maxSingle int64
	workers   int
	group     int // frames opened per job: one hand-off per group, not per frame
	pool      *pool

	ring     []*rslot // frames read and being opened, oldest at head
	head     int
	inflight int
	released int // the frames from ring[head] on that out comes from

	out     []byte // verified plaintext not yet returned
	seq     uint32 // last frame parsed
	ended   bool   // the final frame has been parsed
	readErr error  // parse or read error, returned after earlier frames
	err     error  // returned once out is drained
	hdr     [finalHdr]byte
	// ahead bytes of the next frame's header were read into hdr with
	// the previous frame; aheadErr cut that read short, if anything did.
	ahead    int
	aheadErr error

	// Chunked reading (Config.ReadPast): frames are read into chunks of
	// up to chunkSize bytes and opened where they landed. cur.buf[off:filled]
	// is read and not yet parsed; a chunk no frame in flight is in goes
	// to free, or is compacted in place if it is cur.
	chunked     bool
	split       bool // chunks of small frames: opened into chunk.pt
	chunkSize   int
	cur         *chunk
	off, filled int
	free        []*chunk
	window      int    // the most a Read is given: doubles while Reads fill it
	srcErr      error  // what the last Read returned, once it returned it
	rest        []byte // read past the final frame
	wiped       bool   // see wipe

	toWriter bool // in WriteTo, chunked, with workers: turns may follow
	long     bool // WriteTo's first group was parsed and more followed
	turned   int  // writeTurns calls, for tests
}

// chunk is a buffer of whole and partial frames; refs counts the frames in
// it that are parsed and not yet released. If split, its frames are
// opened into pt, one after the other (ptn bytes so far), so that the
// plaintext of consecutive frames is written out at once.
type chunk struct {
	buf  []byte
	pt   []byte
	ptn  int
	refs int
	// The bytes of buf and pt anything may have written (a Read may
	// use all of what it is given): every byte after them is zero.
	used, ptUsed int
}

// chunkMin is the first chunk's size: a small message costs a small
// buffer; chunks double up to Reader.chunkSize.
const chunkMin = 4 << 10

// serialChunk bounds the chunks of a 1-worker Reader, but for frames of up
// to half of it, which come at least two to a chunk: a Read per 64 KiB
// frame, a system call each from a file, cost 15 % of the Reader's speed.
const serialChunk = 128 << 10

// splitFrame: frames shorter than this are opened out of place when
// chunked (see chunk.pt).
const splitFrame = 32 << 10

// rslot is one frame of a Reader.
type rslot struct {
	buf  []byte // ciphertext and tag; opened in place unless dst
	dst  []byte // where it is opened to, if split: in c.pt, at ptAt
	ptAt int
	c    *chunk // the chunk buf lies in, if chunked
	pt   []byte // the plaintext, once opened
	f    frame
	iv   [ivLen]byte
	aad  [aadCap]byte // scratch
	err  error        // from open
	done atomic.Bool  // opened; reset by the owner when it takes the frame
}

// NewReader returns a Reader of the framed body in src.
//
// With more than one worker the Reader reads ahead, filling its ring of
// workers × 2 × max(1, min(256, 256 KiB / frame length)) frames, at most
// workers × max(512 KiB, 2 frames) of ciphertext, before it releases the
// first, and then refills it a job (256 KiB or one frame) at a time: from
// a live source (a pipe, a socket) plaintext then arrives that many frames
// late. With Config.Workers = 1 each frame is released as soon as it
// verified.
func NewReader(src io.Reader, cfg Config) (*Reader, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return newReader(src, cfg), nil
}

func newReader(src io.Reader, cfg Config) *Reader {
	r := &Reader{cfg: cfg, k: cfg.keyed()}
	r.checked.R = src
	r.src = &r.checked
	r.workers = workersFor(cfg.Workers)
	n := 1
	if r.workers > 1 {
		n = r.workers * slotsPerWorker(cfg.FrameLength)
		r.group = groupFrames(cfg.FrameLength)
	}
	r.ring = make([]*rslot, n) // slots are made as they are first used
	// Chunks of a job's frames, or serially of serialChunk bytes, and room
	// for the longest final frame (finalHdr - regularHdr more than a
	// regular one) after them. Serially a chunk is opened as it arrives,
	// so it stays in cache; it pays for frames it holds two of.
	R, size := cfg.FrameLength+RegularOverhead, groupBytes
	if r.workers == 1 {
		size = serialChunk
		if 2*cfg.FrameLength <= serialChunk {
			size = max(size, 2*R)
		}
	}
	if cfg.ReadPast && 2*R <= size {
		r.chunked = true
		if r.workers > 1 {
			// A whole job of frames, not the fewer that fit in
			// groupBytes with their overhead: 4 frames of 64 KiB, not 3,
			// a quarter fewer turns (see readturns.go).
			size = max(size, groupFrames(cfg.FrameLength)*R)
		}
		r.chunkSize = size/R*R + finalHdr - regularHdr
		r.window = chunkMin
		// Small frames, written one by one, would cost a write call
		// each: open them out of place, back to back.
		r.split = cfg.FrameLength < splitFrame
		if r.workers == 1 {
			// The frames a chunk holds, to release together: parsed
			// only once they arrived (see readAhead).
			r.ring = make([]*rslot, size/R)
		}
	} else if cfg.Tee != nil {
		// Read frame by frame, never past the body: Tee sees what is read.
		r.src = io.TeeReader(r.src, cfg.Tee)
	}
	return r
}

// MaxNonFramedLength is the largest content a non-framed body may declare:
// the GCM limit of 2^36-32 bytes.
const MaxNonFramedLength = 1<<36 - 32

// NewNonFramedReader returns a Reader of the legacy non-framed body in src.
// Such a body has a single tag at its end, so the Reader buffers all of it
// and releases nothing until it verified; it refuses a body declaring more
// than max bytes (at most MaxNonFramedLength).
func NewNonFramedReader(src io.Reader, cfg Config, max int64) (*Reader, error) {
	cfg.FrameLength = 1 // unused; satisfies check
	cfg.Workers = 1
	cfg.ReadPast = false
	if err := cfg.check(); err != nil {
		return nil, err
	}
	r := newReader(src, cfg)
	r.nonFrame, r.maxSingle = true, min(max, MaxNonFramedLength)
	return r, nil
}

// openSlot authenticates and decrypts s in place, or into s.dst.
func (k keyed) openSlot(s *rslot) {
	ct := s.buf[:s.f.n+tagLen]
	dst := ct[:0]
	if s.dst != nil {
		dst = s.dst[:0]
	}
	s.pt, s.err = k.open(dst, ct, s.iv[:], s.f, s.aad[:0])
}

// openRun opens ring slots first .. first+n-1 (mod the ring length) and
// marks each done: a job, on a worker or serially on the owner.
func (k keyed) openRun(ring []*rslot, first, n int) {
	for i := range n {
		s := ring[(first+i)%len(ring)]
		k.openSlot(s)
		s.done.Store(true)
	}
}

// Read reads verified plaintext. It returns io.EOF only after the whole
// body authenticated and Config.Final accepted it.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			r.wipe()
			return 0, r.err
		}
		r.next()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// WriteTo writes the verified plaintext to w without an intermediate
// copy: a frame at a time, or the frames opened back to back in a chunk.
// A chunked Reader with workers opens the rest of a body longer than a
// job in turns (see readturns.go): w's Write is then called from several
// goroutines, one call at a time and in order, and a panic in it or in
// the source's Read reaches WriteTo's caller.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	r.toWriter = r.chunked && r.workers > 1
	defer func() { r.toWriter = false }()
	var total int64
	for {
		if r.turnsReady() {
			n, err := r.settle(w)
			total += n
			if err != nil {
				return total, err
			}
			if r.turnsReady() {
				total += r.writeTurns(w)
			}
			continue
		}
		n, err := r.writeOut(w)
		if total += n; err != nil {
			return total, err
		}
		if r.err != nil {
			r.wipe()
			if r.err == io.EOF {
				return total, nil
			}
			return total, r.err
		}
		r.next()
	}
}

// writeOut writes r.out, if any, to w.
func (r *Reader) writeOut(w io.Writer) (int64, error) {
	if len(r.out) == 0 {
		return 0, nil
	}
	n, err := iocheck.Write(w, r.out)
	r.out = r.out[n:]
	return int64(n), err
}

// next releases the next verified frame into r.out, or sets r.err.
func (r *Reader) next() {
	r.release()
	if r.inflight == 0 || len(r.ring)-r.inflight >= r.group {
		// Refill a group's worth of slots at once: topping up one slot
		// at a time would hand the workers one frame per job.
		r.readAhead()
	}
	r.take()
}

// release lets go of the frames whose plaintext r.out was.
func (r *Reader) release() {
	for ; r.released > 0; r.released-- {
		r.ring[r.head].pt = nil
		r.unref(r.ring[r.head])
		r.head = (r.head + 1) % len(r.ring)
		r.inflight--
	}
}

// take waits for the oldest frame in flight and releases it into r.out,
// or sets r.err.
func (r *Reader) take() {
	if r.inflight == 0 {
		if r.readErr == nil {
			panic("stream: internal error: nothing read ahead and no error")
		}
		r.fail(r.readErr)
		return
	}
	s := r.ring[r.head]
	r.pool.wait(&s.done)
	r.released = 1
	switch {
	case s.err != nil:
		r.fail(s.err)
	case s.f.kind != regularFrame:
		if r.cfg.Final != nil {
			if err := r.cfg.Final(); err != nil {
				r.fail(err)
				return
			}
		}
		r.out, r.err = s.pt, io.EOF
		r.stop()
	default:
		r.out = s.pt
		if s.dst != nil {
			r.join(s)
		}
	}
}

// join extends out, the plaintext of s, over the next frames in flight
// already opened and verified, regular, and opened right after it in the
// same chunk, releasing them with s.
func (r *Reader) join(s *rslot) {
	end := s.ptAt + len(s.pt)
	for r.released < r.inflight {
		t := r.ring[(r.head+r.released)%len(r.ring)]
		if !t.done.Load() || t.err != nil || t.f.kind != regularFrame || t.c != s.c || t.ptAt != end {
			break
		}
		t.done.Store(false) // taken, as pool.wait would
		end += len(t.pt)
		r.released++
	}
	r.out = s.c.pt[s.ptAt:end:end]
}

// readAhead parses frames until the ring is full, the body ends or
// reading fails (r.readErr). Frames go to the workers in groups of
// consecutive slots; every parsed frame is submitted before it returns,
// so waiting on any of them is safe.
func (r *Reader) readAhead() {
	pending := 0 // parsed, not yet submitted: the last slots in flight
	for r.inflight < len(r.ring) && !r.ended && r.readErr == nil {
		if r.workers == 1 && r.inflight > 0 && !r.arrived() {
			break // serial: release what arrived before waiting for more
		}
		i := (r.head + r.inflight) % len(r.ring)
		if r.ring[i] == nil {
			// Made on first use, as many at once as are made already
			// (the ring fills in order the first time, so every slot
			// from i on is nil): a small message costs the slots it
			// fills, a long one a few allocations. Workers read only
			// slots submitted to them.
			batch := make([]rslot, min(len(r.ring)-i, max(1, i)))
			for j := range batch {
				r.ring[i+j] = &batch[j]
			}
		}
		s := r.ring[i]
		if r.readErr = r.parse(s); r.readErr != nil {
			break
		}
		r.inflight++
		if r.workers == 1 || r.ended && r.pool == nil {
			// Serial, or a whole body of less than a group (nothing
			// submitted yet, so every frame in flight is pending): no
			// goroutine is worth starting.
			r.k.openRun(r.ring, r.head+r.inflight-1-pending, pending+1)
			pending = 0
			continue
		}
		if pending++; pending == r.group && r.pool == nil && !r.long && !r.ended && r.toWriter {
			// WriteTo's first group of a body longer than one: opened
			// here, the rest in turns (turnsReady).
			r.k.openRun(r.ring, r.head+r.inflight-pending, pending)
			pending, r.long = 0, true
			break
		}
		if pending == r.group || r.ended {
			r.submit(pending)
			pending = 0
		}
	}
	if pending > 0 {
		r.submit(pending)
	}
}

// submit hands the last n slots in flight to the workers as one job.
func (r *Reader) submit(n int) {
	if r.pool == nil {
		r.pool = r.newPool(r.workers)
	}
	r.pool.submit(group{first: (r.head + r.inflight - n) % len(r.ring), n: n, seq: r.seq - uint32(n) + 1})
}

// newPool returns the Reader's pool: workers-1 goroutines and the caller's.
func (r *Reader) newPool(workers int) *pool {
	ring, k := r.ring, r.k // not r: an abandoned Reader must be collectable
	return newPool(r, workers, len(ring), func(first, n int) { k.openRun(ring, first, n) })
}

// fail sets the error, drops everything not yet released and waits for
// the workers to finish with the ring.
func (r *Reader) fail(err error) {
	r.out, r.err = nil, err
	for i := 0; r.inflight > 0; i++ {
		s := r.ring[r.head]
		if i >= r.released {
			r.pool.wait(&s.done)
		}
		clear(s.buf)
		clear(s.pt)
		s.pt = nil
		r.unref(s)
		r.head = (r.head + 1) % len(r.ring)
		r.inflight--
	}
	r.released = 0
	r.stop()
}

func (r *Reader) stop() {
	if r.pool != nil {
		r.pool.stop()
	}
}

// parse reads the next frame from src into s.
func (r *Reader) parse(s *rslot) error {
	if r.nonFrame {
		return r.parseSingle(s)
	}
	if r.chunked {
		return r.parseChunked(s)
	}
	if err := r.readHeader(r.hdr[:4]); err != nil {
		return r.truncated(err)
	}
	hdr := r.hdr[:headerLen(r.hdr[:4])]
	if err := r.readHeader(hdr); err != nil {
		return r.truncated(err)
	}
	r.ahead = 0
	f, err := parseFrame(hdr, r.seq+1, r.cfg.FrameLength)
	if err != nil {
		return err
	}
	s.f = f
	copy(s.iv[:], f.iv(hdr))
	if err := r.readFrame(s); err != nil {
		return r.truncated(err)
	}
	r.seq = f.seq
	r.ended = f.kind == finalFrame
	return nil
}

// parseSingle reads a whole non-framed body into s.
func (r *Reader) parseSingle(s *rslot) error {
	hdr := r.hdr[:singleHdr]
	if err := r.readFull(hdr); err != nil {
		return r.truncated(err)
	}
	n := binary.BigEndian.Uint64(hdr[ivLen:])
	if n > uint64(r.maxSingle) {
		return fmt.Errorf("stream: non-framed body of %d bytes exceeds the limit of %d: %w", n, r.maxSingle, ErrMalformedBody)
	}
	s.f = frame{seq: 1, kind: singleBlock, n: int(n)}
	copy(s.iv[:], s.f.iv(hdr))
	if err := r.readFrame(s); err != nil {
		return r.truncated(err)
	}
	r.ended = true
	return nil
}

// readHeader fills hdr, a prefix of r.hdr, after the r.ahead bytes read
// with the previous frame, returning the error that cut that read short
// if those bytes are too few.
func (r *Reader) readHeader(hdr []byte) error {
	if r.ahead >= len(hdr) {
		return nil
	}
	if r.aheadErr != nil {
		return r.aheadErr
	}
	if err := r.readFull(hdr[r.ahead:]); err != nil {
		return err
	}
	r.ahead = len(hdr)
	return nil
}

func (r *Reader) readFull(p []byte) error {
	_, err := io.ReadFull(r.src, p)
	return err
}

// readFrame reads s.f.n bytes and the tag into s.buf. Memory follows the
// bytes that arrive, never a declared length alone: of a frame larger
// than eagerAlloc and than s.buf, the first half is read in chunks of at
// most eagerAlloc; only then is the whole frame allocated (twice what was
// received), the chunks copied in and the second half read in place.
// Nothing is copied twice and a truncated frame costs what it sent.
func (r *Reader) readFrame(s *rslot) error {
	n := s.f.n + tagLen
	if r.workers > 1 && s.f.kind == regularFrame && n+regularHdr <= max(cap(s.buf), eagerAlloc) {
		// A regular frame is always followed by a frame header of at
		// least regularHdr bytes: read them with it, one Read per frame
		// instead of three, never past the body. Not serially: a
		// 1-worker Reader releases a frame before it reads on.
		r.frameBuf(s, n+regularHdr)
		m, err := io.ReadFull(r.src, s.buf)
		if m < n {
			return err
		}
		r.ahead, r.aheadErr = copy(r.hdr[:], s.buf[n:m]), err
		s.buf = s.buf[:n]
		return nil
	}
	if n <= cap(s.buf) || n <= eagerAlloc {
		r.frameBuf(s, n)
		return r.readFull(s.buf)
	}
	s.buf = nil // too small: let it go
	var chunks [][]byte
	got := 0
	for got < n/2 {
		c := make([]byte, min(eagerAlloc, n/2-got))
		if err := r.readFull(c); err != nil {
			return err
		}
		chunks = append(chunks, c)
		got += len(c)
	}
	s.buf = make([]byte, n)
	o := 0
	for i, c := range chunks {
		o += copy(s.buf[o:], c)
		chunks[i] = nil
	}
	return r.readFull(s.buf[got:])
}

// Rest returns what a Reader with Config.ReadPast read past the end of the
// body: set once the final frame was parsed, else empty.
func (r *Reader) Rest() []byte { return r.rest }

// parseChunked parses the next frame where it lies in cur, reading it
// first if needed, and points s.buf at it.
func (r *Reader) parseChunked(s *rslot) error {
	f, hl, err := r.frameHead(func() []byte { return r.cur.buf[r.off:] }, r.need, r.seq+1)
	if err != nil {
		return err
	}
	n := hl + f.n + tagLen
	c, at := r.cur, r.off
	if err := r.place(s, f, c.buf[at:at+n], hl); err != nil {
		return err
	}
	s.c = c
	if r.split {
		s.ptAt, c.ptn = c.ptn, c.ptn+f.n
		c.ptUsed = max(c.ptUsed, c.ptn)
		s.dst = c.pt[s.ptAt:c.ptn:c.ptn]
	}
	c.refs++
	r.off += n
	r.seq = f.seq
	if r.ended = f.kind == finalFrame; r.ended {
		r.rest = bytes.Clone(c.buf[r.off:r.filled])
		r.filled = r.off
	}
	return nil
}

// frameHead waits, through need, for the next frame's header, parses it
// and waits for the rest of the frame: view returns the bytes from the
// frame's start (need may move them), want is its sequence number. A
// body that ends first is ErrTruncated after frame want-1. It returns
// the frame and its header's length.
func (r *Reader) frameHead(view func() []byte, need func(int) error, want uint32) (frame, int, error) {
	if err := need(4); err != nil {
		return frame{}, 0, truncatedAt(err, want-1)
	}
	hl := headerLen(view())
	if err := need(hl); err != nil {
		return frame{}, 0, truncatedAt(err, want-1)
	}
	f, err := parseFrame(view(), want, r.cfg.FrameLength)
	if err != nil {
		return frame{}, 0, err
	}
	if err := need(hl + f.n + tagLen); err != nil {
		return frame{}, 0, truncatedAt(err, want-1)
	}
	return f, hl, nil
}

// place gives Tee frame f's bytes b, header (hl bytes) to tag, and points
// s at it: its IV, and its ciphertext and tag to open.
func (r *Reader) place(s *rslot, f frame, b []byte, hl int) error {
	if r.cfg.Tee != nil {
		if _, err := iocheck.Write(r.cfg.Tee, b); err != nil {
			return err
		}
	}
	s.f = f
	copy(s.iv[:], f.iv(b))
	s.buf = b[hl:len(b):len(b)]
	return nil
}

// arrived reports whether cur holds the whole next frame, or a header
// that does not parse: whether parseChunked would return without a Read.
func (r *Reader) arrived() bool {
	if r.cur == nil {
		return false
	}
	b := r.cur.buf[r.off:r.filled]
	if len(b) < 4 || len(b) < headerLen(b) {
		return false
	}
	f, err := parseFrame(b, r.seq+1, r.cfg.FrameLength)
	return err != nil || len(b) >= headerLen(b)+f.n+tagLen
}

// need reads until cur holds n unparsed bytes, first moving those it holds
// to a chunk with room if cur has none. It calls Read only while the body
// is known to hold more bytes (the rest of a frame, or a header after a
// regular frame), so it never waits for bytes past the body; a Read may
// return some, which parseChunked keeps as Rest.
func (r *Reader) need(n int) error {
	for r.filled-r.off < n {
		if r.srcErr != nil {
			return r.srcErr
		}
		if r.cur == nil || r.off+n > len(r.cur.buf) {
			r.move(n)
		}
		// A Read is given what is missing, or more up to a window that
		// doubles while Reads fill it: a short message leaves little of
		// a whole chunk to zero.
		c := r.cur
		p := c.buf[r.filled:min(len(c.buf), r.filled+max(r.window, n-(r.filled-r.off)))]
		c.used = max(c.used, r.filled+len(p))
		m, err := r.src.Read(p)
		if m == len(p) {
			r.window = min(2*r.window, r.chunkSize)
		}
		r.filled += m
		r.srcErr = err
	}
	return nil
}

// move makes cur a chunk with room for n bytes from its unparsed ones,
// which it moves to the chunk's start: cur itself if no frame in flight
// is in it and it has full size, else a free or new (larger) chunk.
func (r *Reader) move(n int) {
	old := r.cur
	var tail []byte
	if old != nil {
		tail = old.buf[r.off:r.filled]
	}
	c := old
	if c == nil || c.refs > 0 || len(c.buf) < r.chunkSize {
		if k := len(r.free); k > 0 {
			c, r.free = r.free[k-1], r.free[:k-1] // chunkSize >= n
		} else {
			size := chunkMin
			if old != nil {
				size = 2 * len(old.buf)
			}
			c = new(chunk)
			if n <= r.chunkSize && r.cfg.Buffers != nil {
				// With Buffers, chunks are whole from the first: kept or
				// made, each goes back to them, for the next stream (no
				// growing from chunkMin, which would make and copy each
				// size on the way). The Read window bounds what a short
				// message leaves to zero.
				c.buf = r.cfg.Buffers.get(r.chunkSize, 0)
			} else {
				c.buf = make([]byte, max(n, min(r.chunkSize, size)))
			}
			if r.split {
				c.pt = r.chunkBuf(len(c.buf))
			}
		}
	}
	r.filled = copy(c.buf, tail) // c may be old: copy moves bytes down
	c.used = max(c.used, r.filled)
	r.cur, r.off, c.ptn = c, 0, 0
	if old != nil && old != c && old.refs == 0 {
		r.keep(old)
	}
}

// unref drops s's reference to its chunk, which is kept for reuse once no
// frame in flight is in it and it is not being filled.
func (r *Reader) unref(s *rslot) {
	c := s.c
	if c == nil {
		return
	}
	s.c, s.buf, s.dst = nil, nil, nil
	if c.refs--; c.refs == 0 && c != r.cur {
		r.keep(c)
	}
}

// keep puts a chunk no frame is in on the free list if it has full size;
// a smaller one, from the first reads of a body, is zeroed and let go.
func (r *Reader) keep(c *chunk) {
	if len(c.buf) == r.chunkSize {
		r.free = append(r.free, c)
		return
	}
	clear(c.buf[:c.used])
	clear(c.pt[:c.ptUsed])
}

// wipe zeroes the Reader's buffers once it ended and returned all its
// plaintext, so that none outlives the stream in memory the Reader holds.
// No worker runs by then: every frame in flight was waited for.
// Whole chunks go back to Config.Buffers, each once, and the Reader keeps
// no reference to them.
func (r *Reader) wipe() {
	if r.wiped {
		return
	}
	r.wiped = true
	chunks := r.free
	if r.cur != nil {
		chunks = append(chunks, r.cur)
	}
	for _, s := range r.ring {
		if s == nil {
			continue
		}
		switch {
		case s.c != nil:
			chunks = append(chunks, s.c)
		case cap(s.buf) == r.frameCap() && r.keepsFrames():
			r.cfg.Buffers.put(s.buf, cap(s.buf), 0) // its plaintext, s.pt, with it
		default:
			clear(s.buf[:cap(s.buf)])
			clear(s.pt)
		}
		s.buf, s.dst, s.pt, s.c = nil, nil, nil, nil
	}
	for _, c := range chunks {
		r.dropChunkBuf(c.buf, c.used) // once: nil after, for a chunk in many slots
		r.dropChunkBuf(c.pt, c.ptUsed)
		c.buf, c.pt, c.used, c.ptUsed = nil, nil, 0, 0
	}
	r.cur, r.free = nil, nil
}

// frameCap is the capacity of a whole frame's buffer when frames are
// read one by one: a regular frame, tag and the next frame's header.
func (r *Reader) frameCap() int { return r.cfg.FrameLength + tagLen + regularHdr }

// keepsFrames reports whether whole frame buffers come from and go back to
// Config.Buffers: for frames of up to eagerAlloc (a larger one is
// allocated as its bytes arrive).
func (r *Reader) keepsFrames() bool { return r.frameCap() <= eagerAlloc && !r.nonFrame }

// frameBuf makes s.buf n bytes long, keeping none of its bytes: a whole
// frame's buffer from Config.Buffers if keepsFrames, else n bytes (memory
// follows the input). A buffer too small is zeroed and let go.
func (r *Reader) frameBuf(s *rslot, n int) {
	if n <= cap(s.buf) {
		s.buf = s.buf[:n]
		return
	}
	clear(s.buf[:cap(s.buf)])
	if c := r.frameCap(); n <= c && r.keepsFrames() && r.cfg.Buffers != nil {
		s.buf = r.cfg.Buffers.get(c, 0)[:n]
		return
	}
	s.buf = make([]byte, n)
}

// chunkBuf returns a zeroed chunk buffer of n bytes: from Config.Buffers
// if it is a whole chunk.
func (r *Reader) chunkBuf(n int) []byte {
	if n == r.chunkSize {
		return r.cfg.Buffers.get(n, 0)
	}
	return make([]byte, n)
}

// dropChunkBuf zeroes b, which nothing uses any more and of which only
// b[:used] was written, and gives it to Config.Buffers if it is a whole
// chunk.
func (r *Reader) dropChunkBuf(b []byte, used int) {
	if len(b) == r.chunkSize {
		r.cfg.Buffers.put(b, used, 0)
		return
	}
	clear(b[:used])
}

func (r *Reader) truncated(err error) error { return truncatedAt(err, r.seq) }

// truncatedAt is ErrTruncated after frame seq if err is the end of the
// source, else err.
func truncatedAt(err error, seq uint32) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated(seq)
	}
	return err
}
