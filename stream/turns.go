package stream

import (
	"io"
	"sync/atomic"

	"github.com/phicrypt/phicrypt/internal/iocheck"
)

// Reading in turns: ReadFrom of a Writer with W > 1 workers, once it read
// a group of frames (see readTurns). Each of W goroutines, the
// caller's among them, takes the read turn, reads the next group of
// frames into a buffer of its own, gives the turn up, seals the group
// where it read it and writes it in order. Were the caller to read every
// group for the others to seal, each byte would be read by one core and
// sealed by another: the buffers' cache lines would cross between cores
// twice per use, and the copy out of the source ran at a third of its
// speed (2 workers: 0.5-0.6 of raw GCM on 2 goroutines, against 0.8 for
// the same work done where it was read).
//
// Invariants:
//   - Groups are read in order, one Read sequence at a time (the turn):
//     group j holds plaintext bytes [j*G - carry, (j+1)*G - carry) of what
//     readTurns reads, G the group's plaintext, so its frame i has
//     sequence number seq0 + j*g + i + 1.
//   - Only the last group read is short. A full group's last frame (its
//     tail) is regular only if the next group's read returns a byte (its
//     verdict), else it is the Writer's current frame when readTurns
//     returns. Its sealer learns the verdict, reading the next group
//     itself if the turn is free (readAhead), before it seals the tail;
//     with the read under way it seals the tail ahead, out of place, its
//     plaintext kept, and the writer drops it on a verdict of no more.
//   - Groups are written in order. A worker reads only into a slot of its
//     own (slotsPerTurner) that holds no group not yet written, so at most
//     len(slots) groups are unwritten and at[j mod len(slots)] names
//     group j's slot until it is written.
//   - A worker that has read group j+1 and sealed it wrote, or left to
//     the worker writing, every group up to j+1 that is sealed and whose
//     verdict is known (turnstile.write): the lowest unwritten group always
//     becomes writable, so a worker waiting for a free slot never waits
//     forever.

// turnSlot is one group's buffers and state.
type turnSlot struct {
	in, out         []byte
	inUsed, outUsed int          // written since get: what put zeroes
	group           int          // the group it holds
	m               int          // plaintext bytes read into in
	nseal           int          // frames sealed
	spec            bool         // the tail is among them: a full group's last
	aad             [aadCap]byte // scratch
	busy            atomic.Bool  // holds a group not yet written
	sealed          atomic.Bool  // nseal frames sealed: the writer may take it
	verdict         atomic.Int32 // verdictMore or verdictEnd once known
}

// slotsPerTurner is the slots of each worker: one being sealed or waiting
// to be written while the next is read. A worker uses only its own, so
// that a buffer stays in the cache of the core that reads and seals it.
const slotsPerTurner = 2

const (
	verdictMore = 1 // more plaintext follows the group: its tail is regular
	verdictEnd  = 2 // none does: the group's last frame is the current one
)

// turns is the shared state of one readTurns.
type turns struct {
	w     *Writer
	r     io.Reader
	F, g  int // frame length, frames per group
	seq0  int64
	carry int                        // plaintext of the Writer's current frame, group 0's first bytes
	slots []turnSlot                 // worker i's are slots[i*slotsPerTurner:][:slotsPerTurner]
	at    []atomic.Pointer[turnSlot] // group j's slot at j mod len(slots), once read

	turnstile
	next    int          // the next group to read: the turn's holder only
	written atomic.Int64 // groups written
	read    int64        // plaintext read from r: the turn's holder only
	readErr error        // what ended reading: the turn's holder only

	err   error  // a Write's error (wmu)
	tail  []byte // the current frame's plaintext once known (wmu)
	wrote int64  // frames written (wmu)
}

// readTurns reads r to its end in turns (see above), starting from a
// Writer whose current frame is full; the frames in flight before it are
// drained first, those still pending (ReadFrom's first group, when no
// pool runs) sealed here. It returns what it read and the error that ended reading
// (io.EOF at the end), with every frame but the last written and the last
// one current, or w.err set.
func (w *Writer) readTurns(r io.Reader) (int, error) {
	if w.pool == nil {
		w.k.sealRun(w.ring, w.head+w.inflight-w.pending, w.pending)
		w.pending = 0
	}
	w.drain(0)
	if w.err != nil {
		return 0, nil
	}
	w.turned++
	cur := w.cur()
	w.releaseBut(cur) // the slots hold the frames from here on
	F, g := w.cfg.FrameLength, groupFrames(w.cfg.FrameLength)
	t := &turns{w: w, r: r, F: F, g: g, seq0: int64(w.seq), carry: cur.n}
	t.slots = make([]turnSlot, slotsPerTurner*w.workers)
	t.at = make([]atomic.Pointer[turnSlot], len(t.slots))
	for i := range t.slots {
		t.slots[i].group = -1 // buffers: on first use (work)
	}
	t.init()
	t.run(w.workers, func(i int) { t.work(i, t.slots[i*slotsPerTurner:][:slotsPerTurner]) })
	t.wmu.Lock()
	t.writeReady() // a last look: the workers leave nothing writable
	t.wmu.Unlock()

	// The Writer takes over: its current frame is the tail.
	if t.err != nil {
		w.err = t.err
	}
	w.seq = uint32(t.seq0 + t.wrote)
	cur.n = 0
	w.reserve(cur, len(t.tail))
	cur.n = copy(cur.buf[finalHdr:], t.tail)
	for i := range t.slots {
		if sl := &t.slots[i]; sl.in != nil {
			w.slotted++
			w.cfg.Buffers.put(sl.in, sl.inUsed, 0)
			w.cfg.Buffers.put(sl.out, sl.outUsed, 0)
		}
	}
	err := t.readErr
	switch {
	case w.err != nil:
		err = nil // ReadFrom returns w.err
	case err == nil:
		panic("stream: internal error: turns ended with no read error and no write error")
	}
	return int(t.read), err
}

// work reads, seals and writes groups into the worker's own slots until
// reading ends or fails. Worker 0, the caller's, starts the others once a
// group was read and more may follow: a stream of one group starts none.
func (t *turns) work(i int, own []turnSlot) {
	var sl *turnSlot // a group read ahead (seal), else the next one read
	for {
		if sl == nil {
			if !t.take(func() bool { sl = freeSlot(own); return sl != nil }, func() { t.ready(sl) }) {
				return
			}
			t.readGroup(sl)
			t.give()
			if i == 0 && !t.stop.Load() {
				t.spawn() // the stream is longer than a group: helpers
			}
		}
		ahead := t.seal(sl, own)
		t.write(t.writeReady)
		sl = ahead
	}
}

// freeSlot returns the first of own that holds no group, or nil.
func freeSlot[S any, P interface {
	*S
	free() bool
}](own []S) *S {
	for i := range own {
		if P(&own[i]).free() {
			return &own[i]
		}
	}
	return nil
}

func (sl *turnSlot) free() bool { return !sl.busy.Load() }

// ready gives sl its buffers on first use: a stream that ends in its first
// group uses one slot of one worker.
func (t *turns) ready(sl *turnSlot) {
	if sl.in == nil {
		g := t.g
		sl.in, sl.out = t.w.cfg.Buffers.get(g*t.F, 0), t.w.cfg.Buffers.get(packPad+g*(t.F+RegularOverhead), 0)
	}
}

// readGroup, with the turn, reads the next group into sl, a free slot,
// and sets the verdict of the group before it.
func (t *turns) readGroup(sl *turnSlot) {
	j := t.next
	sl.busy.Store(true)
	off := 0
	if j == 0 {
		off = copy(sl.in, t.w.cur().buf[finalHdr:finalHdr+t.carry])
	}
	G := t.g * t.F
	var err error
	for off < G && err == nil { // one Read always comes: carry < G
		// A Read may use all it is given, and put zeroes all it was
		// given: the first group is read into a window that doubles, so
		// that a short stream leaves little to zero.
		end := G
		if j == 0 {
			end = min(G, max(2*off, t.F))
		}
		sl.inUsed = max(sl.inUsed, end)
		var m int
		m, err = t.r.Read(sl.in[off:end])
		off += m
		t.read += int64(m)
	}
	sl.group, sl.m = j, off
	t.at[j%len(t.at)].Store(sl)
	t.next++
	if j > 0 {
		v := int32(verdictMore)
		if off == 0 {
			v = verdictEnd
		}
		t.at[(j-1)%len(t.at)].Load().verdict.Store(v)
		t.dirty.Store(true) // the group before may be writable now
	}
	if err != nil {
		t.readErr = err
		sl.verdict.Store(verdictEnd)
		t.stop.Store(true)
	}
}

// seal seals a group's frames into its out: all but the last of the
// last group; every frame of a full group, its tail (the last frame) once
// its verdict says more follows, or ahead, as regular, if the verdict is
// still unknown and the next group is being read. It returns the group it
// read to learn the verdict, if any: the caller seals it next.
func (t *turns) seal(sl *turnSlot, own []turnSlot) (ahead *turnSlot) {
	n := (sl.m + t.F - 1) / t.F // frames with plaintext
	done := t.sealFrames(sl, 0, n-1)
	full := sl.m == t.g*t.F
	if full && done == n-1 && sl.verdict.Load() == 0 {
		ahead = t.readAhead(own)
	}
	sl.spec = false
	if full && done == n-1 && sl.verdict.Load() != verdictEnd {
		done = t.sealFrames(sl, n-1, n)
		sl.spec = done == n
	}
	sl.nseal = done
	sl.outUsed = max(sl.outUsed, packPad+done*(t.F+RegularOverhead))
	sl.sealed.Store(true)
	return ahead
}

// sealFrames seals frames from .. to-1 of sl as regular, and returns the
// index after the last it sealed: it stops before the sequence number
// MaxFrames, which only a final frame may take.
func (t *turns) sealFrames(sl *turnSlot, from, to int) int {
	S := t.F + RegularOverhead
	for i := from; i < to; i++ {
		seq := t.seq0 + int64(sl.group*t.g+i) + 1
		if seq > MaxFrames-1 {
			return i
		}
		f := frame{uint32(seq), regularFrame, t.F}
		t.w.k.seal(sl.out[packPad+i*S:], sl.in[i*t.F:(i+1)*t.F], f, sl.aad[:0])
	}
	return max(from, to)
}

// readAhead reads the next group into a free slot of own, if the turn is
// free, and returns it; it is called by a worker whose full group's
// verdict is unknown, which the read then settles. A worker alone (the
// stream's first groups, before a helper starts; its last ones) so learns
// whether more follows instead of sealing its tail ahead, which is wasted
// when nothing does (a 256 KiB stream sealed 5 frames of 64 KiB for 4).
// With the turn taken the next group is being read, almost surely not
// empty: the tail is sealed ahead.
func (t *turns) readAhead(own []turnSlot) *turnSlot {
	next := freeSlot(own)
	if next == nil || !t.tryTurn() {
		return nil
	}
	t.ready(next) // under the turn: once per slot
	t.readGroup(next)
	t.give()
	return next
}

// writeReady, with wmu, writes groups in order while the next one is
// sealed and its verdict known.
func (t *turns) writeReady() {
	S := t.F + RegularOverhead
	for {
		j := t.written.Load()
		sl := t.at[j%int64(len(t.at))].Load()
		if sl == nil || !sl.sealed.Load() || int64(sl.group) != j {
			return
		}
		v := sl.verdict.Load()
		if v == 0 {
			return
		}
		// need: the group's frames that must be regular; sealing stops
		// short of them only at MaxFrames.
		n, need := sl.nseal, (sl.m+t.F-1)/t.F
		if v == verdictEnd {
			need = max(need-1, 0) // the last is the current frame
			if sl.spec {
				n-- // sealed ahead, and no byte followed: current
			}
		}
		if n < need && t.err == nil {
			t.err = ErrTooManyFrames
		}
		if last := n * t.F; v == verdictEnd && t.err == nil && sl.m > last {
			t.tail = sl.in[last:sl.m]
		}
		if t.err == nil && n > 0 {
			if _, err := iocheck.Write(t.w.dst, sl.out[packPad:packPad+n*S]); err != nil {
				t.err = err
			}
		}
		if t.err != nil {
			t.fail()
		} else {
			t.wrote += int64(n)
		}
		sl.sealed.Store(false)
		sl.verdict.Store(0)
		t.written.Add(1)
		sl.busy.Store(false)
		t.room.wake()
	}
}
