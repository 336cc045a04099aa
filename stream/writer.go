package stream

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/phicrypt/phicrypt/internal/iocheck"
)

// A Writer seals plaintext into frames and writes them, in order, to an
// io.Writer. Frames are sealed on Config.Workers goroutines, the caller's
// among them: it fills the next frames, writes finished ones and, when the
// frames in flight fill the ring, seals those no other goroutine started.
//
// A full frame is written as a regular frame only once more plaintext
// arrives, so that Close seals the last FrameLength bytes as a full-length
// final frame, as the official SDKs do (a serial Writer may seal a frame
// as regular ahead and reseal it final at Close: see preseal). Memory is bounded by
// workers × max(512 KiB, 2 frames) in flight (2 frames serially); whole
// frames of a large Write are sealed straight from p, which Write never
// retains: it returns once they are written. Frames of up to 128 KiB fed
// through ReadFrom, two or more to a group, are read a group at a time
// once a group was read: serially into a packed ring (see pack; twice
// 512 KiB), with W workers, once a frame after it is full too, by each
// worker in turn into buffers of its own (see turns.go; at most
// W × 2 × 512 KiB), in both cases a group's plaintext and its frames.
type Writer struct {
	dst     io.Writer
	src     iocheck.Reader // ReadFrom's, while it runs
	cfg     Config
	k       keyed
	workers int
	pool    *pool
	group   int // frames sealed per job: one hand-off per group, not per frame
	pending int // the last frames in flight, not yet handed to the workers

	// ring holds the frames in flight, oldest at head, then the frame
	// being filled at head+inflight.
	ring     []*wslot
	head     int
	inflight int

	seq    uint32 // frames submitted
	err    error
	broken bool // a call panicked (guard): Close only stops the workers

	// Packed (see pack): slot i reads its plaintext into in[i*F:(i+1)*F]
	// and seals into its window of out, where regular frames lie back to
	// back: frame i at out[i*S+packPad:(i+1)*S+packPad], S = F +
	// RegularOverhead. Nil until packed.
	in, out []byte

	turned  int // readTurns calls, for tests
	slotted int // turn slots given buffers, for tests
}

// packPad is what a final frame's header adds to a regular one's: a slot's
// window of out starts that much before its regular frame.
const packPad = finalHdr - regularHdr

// wslot is one frame of a Writer.
type wslot struct {
	// buf is finalHdr bytes of header space, the plaintext (sealed in
	// place) or the ciphertext of src, then the tag. Nothing is written
	// past its length: of its capacity, only buf[:used] may have been.
	buf   []byte
	used  int
	src   []byte // plaintext outside buf (the caller's p), or nil
	n     int    // plaintext length
	seq   uint32
	final bool
	// presealed: sealed already, as regular frame seq, from a caller's
	// Write of exactly one frame (see preseal).
	presealed bool
	aad       [aadCap]byte // scratch
	done      atomic.Bool  // sealed; reset by the owner when it takes the frame
}

// NewWriter returns a Writer that writes a framed body to dst.
func NewWriter(dst io.Writer, cfg Config) (*Writer, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	w := &Writer{dst: dst, cfg: cfg, k: cfg.keyed(), workers: workersFor(cfg.Workers)}
	n, group := 2, 1 // serial: one frame held back, one being filled
	if w.workers > 1 {
		n, group = w.workers*slotsPerWorker(cfg.FrameLength), groupFrames(cfg.FrameLength)
	}
	w.group = group
	w.ring = make([]*wslot, n) // slots are made as they are first used
	return w, nil
}

// slot returns ring slot i, making it on first use: a small message
// costs the slots it fills, not the ring.
func (w *Writer) slot(i int) *wslot {
	i %= len(w.ring)
	if w.ring[i] == nil {
		w.ring[i] = new(wslot)
	}
	return w.ring[i]
}

// frame returns the slot's frame.
func (s *wslot) frame() frame {
	if s.final {
		return frame{s.seq, finalFrame, s.n}
	}
	return frame{s.seq, regularFrame, s.n}
}

// sealSlot seals s in place: header, then ciphertext and tag.
func (k keyed) sealSlot(s *wslot) {
	f := s.frame()
	pt := s.src
	if pt == nil {
		pt = s.buf[finalHdr : finalHdr+s.n]
	}
	k.seal(s.buf[finalHdr-f.kind.hdrLen():], pt, f, s.aad[:0])
}

// sealRun seals ring slots first .. first+n-1 (mod the ring length) and
// marks each done: a job, on a worker or serially on the owner.
func (k keyed) sealRun(ring []*wslot, first, n int) {
	for i := range n {
		s := ring[(first+i)%len(ring)]
		k.sealSlot(s)
		s.done.Store(true)
	}
}

// sealed returns the frame's bytes once sealed.
func (s *wslot) sealed() []byte {
	f := s.frame()
	return s.buf[finalHdr-f.kind.hdrLen() : finalHdr+f.n+tagLen]
}

func (w *Writer) cur() *wslot { return w.slot(w.head + w.inflight) }

// Write seals p into frames. It returns an error only if a frame could not
// be written, after which the Writer is unusable.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	defer w.guard()
	total := len(p)
	direct := false
	for len(p) > 0 && w.err == nil {
		s := w.cur()
		switch {
		case s.n == w.cfg.FrameLength:
			w.submit(false) // more plaintext follows: s is a regular frame
		case s.n == 0 && len(p) == w.cfg.FrameLength && w.workers == 1 && w.seq >= presealAfter && w.seq < MaxFrames-2:
			w.preseal(s, p)
			p = p[w.cfg.FrameLength:]
		case s.n == 0 && len(p) > w.cfg.FrameLength:
			// A whole frame with more after it: seal straight from p.
			s.src, s.n = p[:w.cfg.FrameLength], w.cfg.FrameLength
			p = p[w.cfg.FrameLength:]
			direct = true
			w.submit(false)
		default:
			k := min(len(p), w.cfg.FrameLength-s.n)
			w.reserve(s, s.n+k)
			copy(s.buf[finalHdr+s.n:], p[:k])
			s.n += k
			p = p[k:]
		}
	}
	if direct {
		w.drain(0) // no frame may still read p once Write returns
	}
	if w.err != nil {
		return total - len(p), w.err
	}
	return total, nil
}

// presealAfter is how many frames a serial Writer seals before it seals a
// Write of exactly one frame straight from the caller's p (see preseal).
// Undoing a last such frame costs two passes over it; copying costs about
// a third of one per frame, so presealing pays after a few frames.
const presealAfter = 16

// preseal seals p, one whole frame that may turn out to be the final one,
// into s as the regular frame it is if more plaintext follows: sealing
// reads p once, where copying it into s and sealing there reads it twice.
// If Close comes next, submit opens s back in place and seals it as the
// final frame. Write never retains p: s holds only the sealed frame.
func (w *Writer) preseal(s *wslot, p []byte) {
	F := w.cfg.FrameLength
	w.reserve(s, F)
	s.seq, s.n, s.presealed = w.seq+1, F, true
	w.k.seal(s.buf[finalHdr-regularHdr:], p, frame{s.seq, regularFrame, F}, s.aad[:0])
}

// unseal opens the presealed regular frame s in place, restoring its
// plaintext in s.buf.
func (k keyed) unseal(s *wslot) {
	f := frame{s.seq, regularFrame, s.n}
	ct := s.buf[finalHdr : finalHdr+s.n+tagLen]
	if _, err := k.open(ct[:0], ct, f.iv(s.buf[finalHdr-regularHdr:]), f, s.aad[:0]); err != nil {
		panic("stream: internal error: a frame sealed here did not open")
	}
}

// ReadFrom reads plaintext from r into frame buffers until EOF, without
// the intermediate copy of Write; io.Copy uses it. Every Read lands on a
// readAlign boundary. Frames of up to 128 KiB, two or more to a group,
// are read a group at a time once a group of them was read (see pack and
// turns.go): a Read then fills many frames and a Write sends many.
// With workers, r's Read and the Writer's io.Writer are called from
// several goroutines, one call at a time, each call ordered after the one
// before; a panic in either reaches ReadFrom's caller.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	defer w.guard()
	var total int64
	defer w.unpack()
	w.src = iocheck.Reader{R: r}
	defer func() { w.src = iocheck.Reader{} }()
	for w.err == nil {
		m, err := w.readStep(&w.src)
		total += int64(m)
		if err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
	}
	return total, w.err
}

// readStep reads once from r into frame buffers and submits what it can,
// or makes room to read.
func (w *Writer) readStep(r io.Reader) (int, error) {
	if w.in != nil {
		return w.readPacked(r)
	}
	s := w.cur()
	if s.n < w.cfg.FrameLength {
		// A window that doubles from 4 KiB: a short message leaves
		// little of a whole frame's buffer to zero.
		w.reserve(s, min(w.cfg.FrameLength, s.n+max(4<<10, s.n)))
		m, err := r.Read(s.buf[finalHdr+s.n : len(s.buf)-tagLen])
		s.n += m
		return m, err
	}
	// s is full: it is a regular frame once one more byte arrives, read
	// into the next slot.
	switch g := groupFrames(w.cfg.FrameLength); {
	case g > 1 && w.workers > 1 && w.seq >= uint32(g):
		// A group and a full frame read: the group pending unless
		// Writes handed it out.
		return w.readTurns(r)
	case g > 1 && w.seq >= uint32(g) && !s.presealed:
		w.pack(s) // serial
		return 0, nil
	case w.inflight+2 > len(w.ring):
		w.drain(w.inflight - w.group) // a group at once, as in submit
		return 0, nil
	}
	next := w.slot(w.head + w.inflight + 1)
	w.reserve(next, min(w.cfg.FrameLength, eagerAlloc))
	m, err := r.Read(next.buf[finalHdr : len(next.buf)-tagLen])
	if m > 0 {
		next.n = m
		w.submit(false)
	}
	return m, err
}

// pack makes a serial Writer's ring two groups of slots, windows of w.in
// and w.out (see Writer), once every frame in flight is written; cur,
// full, keeps its plaintext. (With workers ReadFrom reads in turns
// instead: see turns.go.)
// Frames of a group are then read by one Read and, lying back to back,
// written by one Write (see drain): from and to files, a read and a write
// call per frame cost about what sealing a 4 KiB frame does, and a fifth
// of the time of 64 KiB ones. Sealing is out of place, from in to out.
func (w *Writer) pack(cur *wslot) {
	w.drain(0)
	if w.err != nil {
		return
	}
	F := w.cfg.FrameLength
	w.group = groupFrames(F)
	n, S := 2*w.group, F+RegularOverhead
	in, out := w.cfg.Buffers.get(n*F, 0), w.cfg.Buffers.get(packPad+n*S, 0)
	// The ring always grows, so it is a new one, cur first.
	w.releaseBut(cur)
	slots := make([]wslot, n-1) // made at once, not one by one
	w.ring, w.head = make([]*wslot, n), 0
	w.ring[0] = cur
	for j := 1; j < n; j++ {
		w.ring[j] = &slots[j-1]
	}
	copy(in, cur.buf[finalHdr:finalHdr+cur.n])
	w.release(cur)
	for j, s := range w.ring {
		s.buf = out[j*S : j*S+packPad+S : j*S+packPad+S]
	}
	cur.src = in[:F]
	w.in, w.out = in, out
}

// readPacked is readStep once packed: it reads into the free slots' run
// of w.in from cur on (from the next slot if cur is full), and submits
// every full frame more bytes follow. Cur holds its bytes in w.in, until
// ReadFrom returns (see unpack).
func (w *Writer) readPacked(r io.Reader) (int, error) {
	F, L := w.cfg.FrameLength, len(w.ring)
	c := (w.head + w.inflight) % L
	cur := w.slot(c)
	if cur.src == nil && cur.n > 0 && !cur.presealed { // left by Write
		copy(w.in[c*F:], cur.buf[finalHdr:finalHdr+cur.n])
		cur.src = w.in[c*F : (c+1)*F]
	}
	start, off := c, cur.n
	if off == F {
		if w.inflight+2 > L {
			w.drain(w.inflight - w.group)
			return 0, nil
		}
		start, off = (c+1)%L, 0
	}
	free := L - w.inflight // slots not in flight, cur among them
	if start != c {
		free--
	}
	m, err := r.Read(w.in[start*F+off : (start+min(L-start, free))*F])
	if m > 0 && start != c {
		w.submit(false) // cur, full, has more after it
	}
	for rest := off + m; rest > 0 && w.err == nil; {
		s, i := w.cur(), (w.head+w.inflight)%L
		s.src, s.n = w.in[i*F:(i+1)*F], min(F, rest)
		if rest -= s.n; rest > 0 {
			w.submit(false)
		}
	}
	return m, err
}

// unpack moves cur's plaintext from w.in into its own window, where Write
// and Close expect it.
func (w *Writer) unpack() {
	if s := w.cur(); s.src != nil {
		copy(s.buf[finalHdr:finalHdr+s.n], s.src[:s.n])
		s.src = nil
	}
}

// reserve makes s.buf hold n plaintext bytes, keeping the s.n it has.
// With Config.Buffers it takes a whole frame's buffer, kept or made (for
// frames of up to eagerAlloc; larger ones only if kept): it goes back to
// them, and only what was written of it is zeroed. Else it grows by
// doubling from 4 KiB up to the frame length, so a small message costs a
// small buffer and filling a frame byte by byte copies each byte O(1)
// times.
func (w *Writer) reserve(s *wslot, n int) {
	need := finalHdr + n + tagLen
	if need <= cap(s.buf) {
		s.buf = s.buf[:need]
		s.used = max(s.used, need)
		return
	}
	var g []byte
	if w.cfg.Buffers != nil && w.cfg.FrameLength <= eagerAlloc {
		g = w.cfg.Buffers.get(w.frameCap(), finalHdr)
	} else if g = w.cfg.Buffers.take(w.frameCap(), finalHdr); g == nil {
		size := min(w.cfg.FrameLength, max(n, 4<<10, 2*(cap(s.buf)-finalHdr-tagLen)))
		g = alignedAt(finalHdr+size+tagLen, finalHdr+size+tagLen, finalHdr) // reads land aligned
	}
	g = g[:need]
	copy(g, s.buf[:min(len(s.buf), finalHdr+s.n)])
	w.release(s)
	s.buf, s.used = g, need
}

// releaseBut releases the buffer of every ring slot but cur, none of
// them in flight.
func (w *Writer) releaseBut(cur *wslot) {
	for _, s := range w.ring {
		if s != nil && s != cur {
			w.release(s)
		}
	}
}

// frameCap is the capacity of a slot's buffer once it holds a whole frame:
// header space, the plaintext (at a readAlign boundary), the tag.
func (w *Writer) frameCap() int { return finalHdr + w.cfg.FrameLength + tagLen }

// release zeroes s's buffer, its own (not a window of w.out), and lets it
// go: to w.cfg.Buffers if it holds a whole frame.
func (w *Writer) release(s *wslot) {
	if cap(s.buf) == w.frameCap() {
		w.cfg.Buffers.put(s.buf, s.used, finalHdr)
	} else {
		clear(s.buf[:s.used])
	}
	s.buf, s.used = nil, 0
}

// submit hands the current frame to the workers (or seals it here) and
// writes the oldest frames while the ring is full.
func (w *Writer) submit(final bool) {
	if w.seq >= MaxFrames-1 && !final || w.seq >= MaxFrames {
		w.err = ErrTooManyFrames
		return
	}
	w.seq++
	s := w.cur()
	s.seq, s.final = w.seq, final
	if s.src != nil {
		s.buf = s.buf[:0] // sealed from s.src: nothing in s.buf to keep
	}
	w.reserve(s, s.n) // room for the sealed frame
	w.inflight++
	switch {
	case s.presealed:
		// Serial: sealed by preseal as a regular frame.
		s.presealed = false
		if final {
			w.k.unseal(s)
			w.k.sealSlot(s)
		}
		s.done.Store(true)
	case w.workers == 1 || final && w.pool == nil:
		// Serial, or a whole message of less than a group (no job handed
		// out yet, so every frame in flight is pending): no goroutine is
		// worth starting.
		w.k.sealRun(w.ring, w.head+w.inflight-1-w.pending, w.pending+1)
		w.pending = 0
	default:
		// ReadFrom's first group stays pending (if turns follow: groups
		// of two frames or more): readTurns seals it here, and a stream
		// that ends within a byte of it starts no goroutine.
		first := w.src.R != nil && w.pool == nil && w.group > 1
		if w.pending++; w.pending == w.group && !first || final {
			w.flush()
		}
	}
	if w.inflight == len(w.ring) {
		// A group's worth of slots at once: the next frames go out as a
		// whole group, not one hand-off each.
		w.drain(w.inflight - w.group)
	}
}

// flush hands the pending frames to the workers as one job.
func (w *Writer) flush() {
	if w.pending == 0 {
		return
	}
	if w.pool == nil {
		w.pool = w.newPool(w.workers)
	}
	w.pool.submit(group{first: (w.head + w.inflight - w.pending) % len(w.ring), n: w.pending, seq: w.seq - uint32(w.pending) + 1})
	w.pending = 0
}

// newPool returns the Writer's pool: workers-1 goroutines and the caller's.
func (w *Writer) newPool(workers int) *pool {
	ring, k := w.ring, w.k // not w: an abandoned Writer must be collectable
	return newPool(w, workers, len(ring), func(first, n int) { k.sealRun(ring, first, n) })
}

// drain writes the oldest frames until at most keep are in flight. It
// waits for every frame it drains, even after a write error, so that no
// worker still reads a caller's buffer. Packed regular frames that lie
// back to back go out in one Write.
func (w *Writer) drain(keep int) {
	S := w.cfg.FrameLength + RegularOverhead
	lo, hi := 0, 0 // w.out[lo:hi]: packed frames drained, not yet written
	for w.inflight > keep {
		if w.inflight <= w.pending {
			w.flush() // the oldest frame is not yet handed out
		}
		s := w.ring[w.head]
		w.pool.wait(&s.done)
		switch o := w.head*S + packPad; {
		case w.out != nil && !s.final && o == hi:
			hi += S
		case w.out != nil && !s.final:
			w.write(w.out[lo:hi])
			lo, hi = o, o+S
		default:
			w.write(w.out[lo:hi])
			lo, hi = 0, 0
			w.write(s.sealed())
		}
		s.src, s.n = nil, 0
		w.head = (w.head + 1) % len(w.ring)
		w.inflight--
	}
	w.write(w.out[lo:hi])
}

// write writes b, if not empty and no write failed before.
func (w *Writer) write(b []byte) {
	if len(b) == 0 || w.err != nil {
		return
	}
	if _, err := iocheck.Write(w.dst, b); err != nil {
		w.err = err
	}
}

// Close seals the buffered plaintext, possibly none, as the final frame,
// writes every frame still in flight, and stops the workers. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	if w.broken {
		// The ring is as the panic left it: wait on nothing, write
		// nothing; the workers end after the frames they hold, whose
		// buffers are left to the collector.
		if w.pool != nil {
			w.pool.stop()
		}
		return w.err
	}
	defer w.guard()
	if w.out != nil {
		w.drain(0) // a final frame's header overlaps its predecessor's window
	}
	if w.err == nil {
		w.submit(true)
	}
	w.drain(0)
	if w.pool != nil {
		w.pool.stop()
	}
	for _, s := range w.ring {
		switch {
		case s == nil:
		case w.out != nil:
			s.buf, s.src = nil, nil // a window of w.out
		default:
			w.release(s)
		}
	}
	if w.out != nil {
		w.cfg.Buffers.put(w.in, len(w.in), 0)
		w.cfg.Buffers.put(w.out, len(w.out), 0)
		w.in, w.out = nil, nil
	}
	err := w.err
	if w.err == nil {
		w.err = errClosed
	}
	return err
}

var errClosed = errors.New("stream: write after Close")

// errPanicked is the error of a Writer one of whose calls panicked (its
// destination's Write, say): its frames and ring are as the panic left
// them, so it writes nothing more, and a later Close only stops it.
var errPanicked = errors.New("stream: Writer unusable: a call panicked")

// guard, deferred by the Writer's methods, marks w broken when the call
// panics, and lets the panic go on.
func (w *Writer) guard() {
	if p := recover(); p != nil {
		w.broken = true
		w.err = errPanicked
		panic(p)
	}
}

// Abort ends w without writing anything more (no frame in flight, no
// final frame: the message stays incomplete, and no reader takes it for
// whole), stops its workers and releases its buffers. err becomes w's
// error unless it has one; Abort returns it.
func (w *Writer) Abort(err error) error {
	if w.err == nil {
		w.err = err
	}
	w.Close()
	return w.err
}
