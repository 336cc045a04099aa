package stream

import (
	"bytes"
	"io"
	"sync/atomic"

	"github.com/phicrypt/phicrypt/internal/iocheck"
)

// Opening in turns: WriteTo of a chunked Reader with W > 1 workers, once
// its ring was filled (the body is longer than a job). As a Writer reads
// in turns (see turns.go), each of W goroutines, the caller's among them,
// takes the read turn, reads and parses the next chunk of frames into a
// buffer of its own, gives the turn up, opens those frames where they
// landed and writes their plaintext in order; the caller no longer reads
// every chunk for another core to open.
//
// Invariants, beside the Reader's own (plaintext only of verified frames,
// in order; io.EOF only after the final frame verified and Final accepted
// it; Read only for bytes the body is known to hold):
//   - Chunks are read and parsed in order, under the turn, which holds
//     the sequence number and the bytes of a frame the previous chunk cut
//     (carry: copied to the front of the next chunk). Tee sees each frame
//     as it is parsed, so in order.
//   - A chunk holds at most k = len(chunk)/R whole frames, R a regular
//     frame's length: each frame starts at most at i × R, so the longest
//     (final) frame still fits.
//   - Chunks are written in order, each frame only if it and every frame
//     before it verified; a parse or read error is returned after the
//     frames parsed before it.

// openSlot is one chunk and the frames parsed in it.
type openSlot struct {
	buf, pt      []byte // the chunk; the plaintext of split frames
	used, ptUsed int    // written since get: what put zeroes
	group        int
	frames       []rslot // parsed; opened in place, or into pt if split
	err          error   // what ended parsing after frames, if anything
	busy         atomic.Bool
	opened       atomic.Bool
}

// openTurns is the shared state of one writeTurns.
type openTurns struct {
	turnstile
	r     *Reader
	dst   io.Writer
	k     int // whole frames a chunk holds
	slots []openSlot
	at    []atomic.Pointer[openSlot] // chunk j's slot at j mod len(slots), once read

	next   int    // the next chunk: the turn's holder only
	seq    uint32 // the last frame parsed: the turn's holder only
	carry  []byte // the cut frame's bytes: the turn's holder only
	srcErr error  // what the last Read returned: the turn's holder only

	written atomic.Int64 // chunks written
	n       int64        // plaintext written (wmu)
	err     error        // io.EOF once the final frame was written, or what failed (wmu)
}

// turnsReady reports whether WriteTo should open the rest of the body in
// turns: chunked, several workers, the body longer than a job (its first
// group opened, or a pipeline running), nothing ended or failed yet.
func (r *Reader) turnsReady() bool {
	return r.chunked && r.workers > 1 && (r.pool != nil || r.long) && !r.ended && r.readErr == nil && r.err == nil && r.srcErr == nil
}

// settle writes every frame in flight to w, releasing each in order as
// next does, without reading more.
func (r *Reader) settle(w io.Writer) (int64, error) {
	var total int64
	for {
		n, err := r.writeOut(w)
		if total += n; err != nil {
			return total, err
		}
		r.release()
		if r.inflight == 0 || r.err != nil {
			return total, nil
		}
		r.take()
	}
}

// writeTurns writes the rest of the body's plaintext to w, opened in
// turns, and sets r.err (io.EOF at the end). The ring must be settled.
func (r *Reader) writeTurns(w io.Writer) int64 {
	R := r.cfg.FrameLength + RegularOverhead
	t := &openTurns{r: r, dst: w, k: r.chunkSize / R, seq: r.seq}
	t.carry = append([]byte(nil), r.cur.buf[r.off:r.filled]...) // less than a frame
	r.stop()
	r.wipe() // the ring's chunks go back; the slots below, at the end
	r.turned++
	t.slots = make([]openSlot, slotsPerTurner*r.workers)
	t.at = make([]atomic.Pointer[openSlot], len(t.slots))
	for i := range t.slots {
		t.slots[i].group = -1 // buffers: on first use (work)
	}
	t.init()
	t.run(r.workers, func(i int) { t.work(i, t.slots[i*slotsPerTurner:][:slotsPerTurner]) })
	t.wmu.Lock()
	t.writeReady()
	t.wmu.Unlock()

	clear(t.carry)
	for i := range t.slots {
		sl := &t.slots[i]
		if sl.buf == nil {
			continue
		}
		r.cfg.Buffers.put(sl.buf, sl.used, 0)
		if sl.pt != nil {
			r.cfg.Buffers.put(sl.pt, sl.ptUsed, 0)
		}
	}
	if t.err == nil {
		panic("stream: internal error: turns ended with no error and no final frame")
	}
	r.out, r.err = nil, t.err
	return t.n
}

// work reads, parses, opens and writes chunks in the worker's own slots
// until the body ends or something fails. Worker 0, the caller's, starts
// the others once it read a chunk and more may follow.
func (t *openTurns) work(i int, own []openSlot) {
	for {
		var sl *openSlot
		if !t.take(func() bool { sl = freeSlot(own); return sl != nil }, func() { t.ready(sl) }) {
			return
		}
		t.readChunk(sl)
		t.give()
		if i == 0 && !t.stop.Load() {
			t.spawn()
		}
		t.open(sl)
		t.write(t.writeReady)
	}
}

func (sl *openSlot) free() bool { return !sl.busy.Load() }

// ready gives sl its buffers on first use.
func (t *openTurns) ready(sl *openSlot) {
	if sl.buf == nil {
		r := t.r
		sl.buf = r.cfg.Buffers.get(r.chunkSize, 0)
		if r.split {
			sl.pt = r.cfg.Buffers.get(r.chunkSize, 0)
		}
		sl.frames = make([]rslot, t.k)
	}
}

// readChunk, with the turn, reads and parses up to k frames into sl, a
// free slot: the carried bytes first, then Reads only while a frame is
// incomplete. It stops reading at the final frame or an error.
func (t *openTurns) readChunk(sl *openSlot) {
	r := t.r
	sl.busy.Store(true)
	sl.group, sl.err, sl.frames = t.next, nil, sl.frames[:0]
	t.at[t.next%len(t.at)].Store(sl)
	t.next++
	filled := copy(sl.buf, t.carry)
	sl.used = max(sl.used, filled)
	off, ptn := 0, 0
	// fill reads until the chunk holds n bytes from off.
	fill := func(n int) error {
		for filled-off < n {
			if t.srcErr != nil {
				return t.srcErr
			}
			sl.used = len(sl.buf) // a Read may use all it is given
			m, err := r.src.Read(sl.buf[filled:])
			filled += m
			t.srcErr = err
		}
		return nil
	}
	for len(sl.frames) < t.k {
		f, hl, err := r.frameHead(func() []byte { return sl.buf[off:] }, fill, t.seq+1)
		if err != nil {
			sl.err = err
			break
		}
		n := hl + f.n + tagLen
		sl.frames = append(sl.frames, rslot{})
		s := &sl.frames[len(sl.frames)-1]
		if err := r.place(s, f, sl.buf[off:off+n], hl); err != nil {
			sl.frames, sl.err = sl.frames[:len(sl.frames)-1], err
			break
		}
		if r.split {
			s.ptAt = ptn
			s.dst = sl.pt[ptn : ptn+f.n : ptn+f.n]
			ptn += f.n
			sl.ptUsed = max(sl.ptUsed, ptn)
		}
		off += n
		t.seq = f.seq
		if f.kind == finalFrame {
			r.ended = true
			r.rest = bytes.Clone(sl.buf[off:filled])
			t.stop.Store(true)
			return
		}
	}
	if sl.err != nil {
		t.stop.Store(true)
		return
	}
	t.carry = append(t.carry[:0], sl.buf[off:filled]...)
}

// open opens sl's frames in order, up to the first that fails.
func (t *openTurns) open(sl *openSlot) {
	k := t.r.k
	for i := range sl.frames {
		s := &sl.frames[i]
		k.openSlot(s)
		if s.err != nil {
			break
		}
	}
	sl.opened.Store(true)
}

// writeReady, with wmu, writes opened chunks in order: the plaintext of
// their frames up to the first that failed, then that failure or the
// chunk's own error; the final frame once Final accepted it.
func (t *openTurns) writeReady() {
	for t.err == nil {
		j := t.written.Load()
		sl := t.at[j%int64(len(t.at))].Load()
		if sl == nil || !sl.opened.Load() || int64(sl.group) != j {
			return
		}
		t.err = t.writeChunk(sl)
		sl.opened.Store(false)
		t.written.Add(1)
		sl.busy.Store(false)
		t.room.wake()
	}
	t.fail() // ended or failed: nothing more is read or written
}

// writeChunk writes one chunk's verified plaintext and returns io.EOF
// after the final frame, the error that ended the chunk, or nil.
func (t *openTurns) writeChunk(sl *openSlot) error {
	var lo, hi int // split: sl.pt[lo:hi] verified, not yet written
	flush := func() error {
		if hi > lo {
			n, err := iocheck.Write(t.dst, sl.pt[lo:hi])
			t.n += int64(n)
			lo = hi
			return err
		}
		return nil
	}
	for i := range sl.frames {
		s := &sl.frames[i]
		if s.err != nil {
			if err := flush(); err != nil {
				return err
			}
			return s.err
		}
		if s.f.kind == finalFrame {
			if err := flush(); err != nil {
				return err
			}
			if t.r.cfg.Final != nil {
				if err := t.r.cfg.Final(); err != nil {
					return err
				}
			}
		}
		if sl.pt != nil {
			hi = s.ptAt + len(s.pt)
		} else {
			n, err := iocheck.Write(t.dst, s.pt)
			t.n += int64(n)
			if err != nil {
				return err
			}
		}
		if s.f.kind == finalFrame {
			if err := flush(); err != nil {
				return err
			}
			return io.EOF
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return sl.err
}
