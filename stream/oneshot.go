package stream

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
)

// chunkBytes is the plaintext a worker takes at a time in Seal and Open:
// large enough that scheduling costs nothing, small enough to share work.
const chunkBytes = 256 << 10

// Seal appends the framed body of plaintext to dst and returns the result.
// It writes exactly what a Writer writes, sealing straight from plaintext
// into dst on Config.Workers goroutines, with no intermediate copy.
func Seal(dst, plaintext []byte, cfg Config) ([]byte, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	bodyLen, err := SealedLength(int64(len(plaintext)), cfg.FrameLength)
	if err != nil {
		return nil, err
	}
	start := len(dst)
	out := grow(dst, start+int(bodyLen), start)
	F := cfg.FrameLength
	frames := int(bodyLen-int64(len(plaintext))-FinalOverhead)/RegularOverhead + 1
	j := sealJob{out: out, pt: plaintext, start: start, F: F, frames: frames, final: true, k: keyed{cfg.AEAD, cfg.MessageID}}
	if runWorkers(frames, F, cfg.Workers) <= 1 {
		// Inline, so small messages pay for no closure.
		var aad [aadCap]byte
		for i := range frames {
			j.frame(i, aad[:0])
		}
		return out, nil
	}
	run(frames, F, cfg.Workers, j.frame)
	return out, nil
}

// sealJob seals frames of pt into their places in out: frame i has
// sequence number first+i+1 and is the final frame if final and i is the
// last.
type sealJob struct {
	out, pt          []byte
	start, F, frames int
	first            uint32
	final            bool
	k                keyed
}

func (j *sealJob) frame(i int, aad []byte) error {
	out, F, k := j.out, j.F, j.k
	o := j.start + i*(F+RegularOverhead)
	seq := j.first + uint32(i) + 1
	if i < j.frames-1 || !j.final {
		binary.BigEndian.PutUint32(out[o:], seq)
		iv := out[o+4 : o+regularHdr]
		frameIV(iv, seq)
		aad = bodyAAD(aad, k.msgID, frameString, seq, uint64(F))
		k.aead.Seal(out[o+regularHdr:o+regularHdr], iv, j.pt[i*F:(i+1)*F], aad)
		return nil
	}
	pt := j.pt[i*F:]
	binary.BigEndian.PutUint32(out[o:], finalMarker)
	binary.BigEndian.PutUint32(out[o+4:], seq)
	iv := out[o+8 : o+8+ivLen]
	frameIV(iv, seq)
	binary.BigEndian.PutUint32(out[o+8+ivLen:], uint32(len(pt)))
	aad = bodyAAD(aad, k.msgID, finalString, seq, uint64(len(pt)))
	k.aead.Seal(out[o+finalHdr:o+finalHdr], iv, pt, aad)
	return nil
}

// Open authenticates and decrypts the framed body at the start of body,
// appending the plaintext to dst. It returns the extended dst and the
// length of the body (body may continue with a footer); on any error it
// returns no plaintext. Frames are opened on Config.Workers goroutines,
// straight from body into dst; body is not modified. Config.Final is not
// called.
func Open(dst, body []byte, cfg Config) ([]byte, int, error) {
	if err := cfg.check(); err != nil {
		return nil, 0, err
	}
	frames, finalLen, bodyLen, err := layout(body, cfg.FrameLength)
	if err != nil {
		return nil, 0, err
	}
	F := cfg.FrameLength
	start := len(dst)
	out := grow(dst, start+(frames-1)*F+finalLen, start)
	k := keyed{cfg.AEAD, cfg.MessageID}
	err = run(frames, F, cfg.Workers, func(i int, aad []byte) error {
		o := i * (F + RegularOverhead)
		seq := uint32(i + 1)
		iv, content, n, hdr := body[o+4:o+regularHdr], frameString, F, regularHdr
		if i == frames-1 {
			iv, content, n, hdr = body[o+8:o+8+ivLen], finalString, finalLen, finalHdr
		}
		aad = bodyAAD(aad, k.msgID, content, seq, uint64(n))
		if _, err := k.aead.Open(out[start+i*F:start+i*F], iv, body[o+hdr:o+hdr+n+tagLen], aad); err != nil {
			return fmt.Errorf("stream: frame %d: %w", seq, ErrAuthentication)
		}
		return nil
	})
	if err != nil {
		clear(out[start:])
		return nil, 0, err
	}
	return out, bodyLen, nil
}

// layout walks the frame headers at the start of body: the frames (the
// final one included), the final frame's content length and the body's
// length. It checks sequence numbers and lengths, not tags.
func layout(body []byte, F int) (frames, finalLen, bodyLen int, err error) {
	o := 0
	for seq := uint32(1); ; seq++ {
		if len(body)-o < 4 {
			return 0, 0, 0, fmt.Errorf("stream: after frame %d: %w", seq-1, ErrTruncated)
		}
		if binary.BigEndian.Uint32(body[o:]) == finalMarker {
			if len(body)-o < finalHdr {
				return 0, 0, 0, fmt.Errorf("stream: after frame %d: %w", seq-1, ErrTruncated)
			}
			if s := binary.BigEndian.Uint32(body[o+4:]); s != seq {
				return 0, 0, 0, fmt.Errorf("stream: frame %d where %d was expected: %w", s, seq, ErrMalformedBody)
			}
			n := binary.BigEndian.Uint32(body[o+8+ivLen:])
			if uint64(n) > uint64(F) {
				return 0, 0, 0, fmt.Errorf("stream: final frame %d: content length %d exceeds frame length %d: %w", seq, n, F, ErrMalformedBody)
			}
			if uint64(len(body)-o) < uint64(FinalOverhead)+uint64(n) {
				return 0, 0, 0, fmt.Errorf("stream: final frame %d: %w", seq, ErrTruncated)
			}
			return int(seq), int(n), o + FinalOverhead + int(n), nil
		}
		if s := binary.BigEndian.Uint32(body[o:]); s != seq {
			return 0, 0, 0, fmt.Errorf("stream: frame %d where %d was expected: %w", s, seq, ErrMalformedBody)
		}
		if len(body)-o < F+RegularOverhead {
			return 0, 0, 0, fmt.Errorf("stream: frame %d: %w", seq, ErrTruncated)
		}
		o += F + RegularOverhead
	}
}

// runWorkers is the number of goroutines run uses: one per chunk of
// chunkBytes, at most workers.
func runWorkers(frames, F, workers int) int {
	per := max(1, chunkBytes/F)
	return min(workersFor(workers), (frames+per-1)/per)
}

// run calls fn for frames 0..frames-1, in chunks on up to workers
// goroutines (serially if one chunk suffices), and returns the error of the
// lowest failing frame. Each goroutine passes fn its own AAD buffer.
func run(frames, F, workers int, fn func(i int, aad []byte) error) error {
	per := max(1, chunkBytes/F)
	chunks := (frames + per - 1) / per
	workers = runWorkers(frames, F, workers)
	if workers <= 1 {
		var aad [aadCap]byte
		for i := range frames {
			if err := fn(i, aad[:0]); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	var mu sync.Mutex
	errAt, firstErr := frames, error(nil)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var aad [aadCap]byte
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				for i := c * per; i < min(frames, (c+1)*per); i++ {
					if err := fn(i, aad[:0]); err != nil {
						mu.Lock()
						if i < errAt {
							errAt, firstErr = i, err
						}
						mu.Unlock()
						break
					}
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// BodyLength returns the length of the framed body at the start of body,
// from its frame headers alone; nothing is authenticated.
func BodyLength(body []byte, frameLen int) (int, error) {
	_, _, n, err := layout(body, frameLen)
	return n, err
}
