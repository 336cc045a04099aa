package stream

import (
	"sync"
	"sync/atomic"

	"github.com/phicrypt/phicrypt/internal/alias"
)

// chunkBytes is the plaintext a worker takes at a time in Seal and Open:
// large enough that scheduling costs nothing, small enough to share work.
const chunkBytes = 256 << 10

// minChunkBytes is the least plaintext Seal and Open hand to a goroutine:
// below it, starting and waking one costs more than it saves, so a body
// of at most minChunkBytes is sealed or opened in the calling goroutine.
const minChunkBytes = 128 << 10

// oneShotChunk is the number of frames of length F a worker of Seal or
// Open takes at a time for a body of n plaintext bytes: two chunks per
// worker, for balance, of minChunkBytes to chunkBytes; at least one frame.
func oneShotChunk(F int, n int64, workers int) int {
	b := min(chunkBytes, max(minChunkBytes, n/int64(2*workersFor(workers))))
	return max(1, int(b)/F)
}

// oneShotSerial reports whether Seal and Open work on a body of shape s
// in the calling goroutine alone: when it holds at most minChunkBytes of
// plaintext (an empty final frame after them included) or one chunk of
// per frames.
func oneShotSerial(s shape, per, workers int) bool {
	return s.size() <= minChunkBytes || runWorkers(int(s.frames()), per, workers) <= 1
}

// Seal appends the framed body of plaintext to dst and returns the result.
// It writes exactly what a Writer writes, sealing straight from plaintext
// into dst on Config.Workers goroutines, with no intermediate copy.
func Seal(dst, plaintext []byte, cfg Config) ([]byte, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if alias.SpareOverlaps(dst, plaintext) {
		return nil, ErrBufferOverlap
	}
	s, err := sealedShape(int64(len(plaintext)), cfg.FrameLength)
	if err != nil {
		return nil, err
	}
	start := len(dst)
	out := grow(dst, start+int(s.bodyLen()), start)
	j := &sealJob{out: out[start:], pt: plaintext, s: s, k: cfg.keyed()}
	frames, per := int(s.frames()), oneShotChunk(cfg.FrameLength, s.size(), cfg.Workers)
	if oneShotSerial(s, per, cfg.Workers) {
		// Inline, so small messages pay for no closure: the job and
		// its AAD scratch are one allocation.
		for i := range frames {
			j.frame(i, j.aad[:0])
		}
		return out, nil
	}
	run(frames, per, cfg.Workers, j.frame) // sealing does not fail
	return out, nil
}

// sealJob seals frames of pt into their places in out, as laid out by s.
type sealJob struct {
	out, pt []byte
	s       shape
	k       keyed
	aad     [aadCap]byte // scratch of a serial run
}

func (j *sealJob) frame(i int, aad []byte) error {
	f, o := j.s.frame(int64(i))
	p := int64(i) * j.s.F
	j.k.seal(j.out[o:o+int64(f.size())], j.pt[p:p+int64(f.n)], f, aad)
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
	if alias.SpareOverlaps(dst, body) {
		return nil, 0, ErrBufferOverlap
	}
	s, err := layout(body, cfg.FrameLength)
	if err != nil {
		return nil, 0, err
	}
	start := len(dst)
	out := grow(dst, start+int(s.size()), start)
	j := &openJob{out: out, body: body, start: start, F: cfg.FrameLength, s: s, k: cfg.keyed()}
	frames, per := int(s.frames()), oneShotChunk(cfg.FrameLength, s.size(), cfg.Workers)
	if oneShotSerial(s, per, cfg.Workers) {
		// Inline, as in Seal.
		for i := range frames {
			if err = j.frame(i, j.aad[:0]); err != nil {
				break
			}
		}
	} else {
		err = run(frames, per, cfg.Workers, j.frame)
	}
	if err != nil {
		clear(out[start:])
		return nil, 0, err
	}
	return out, int(s.bodyLen()), nil
}

// openJob opens the frames of body into out after its first start bytes.
type openJob struct {
	out, body []byte
	start, F  int
	s         shape
	k         keyed
	aad       [aadCap]byte // scratch of a serial run
}

func (j *openJob) frame(i int, aad []byte) error {
	f, o := j.s.frame(int64(i))
	b := j.body[o : o+int64(f.size())]
	p := j.start + i*j.F
	_, err := j.k.open(j.out[p:p], b[f.kind.hdrLen():], f.iv(b), f, aad)
	return err
}

// runWorkers is the number of goroutines run uses: one per chunk, at most
// workers.
func runWorkers(n, per, workers int) int {
	return min(workersFor(workers), (n+per-1)/per)
}

// run calls fn for 0..n-1, in chunks of per on up to workers goroutines
// (the caller's alone if one chunk suffices, else new ones), and
// returns the error of the lowest failing i: a chunk stops at its first
// error, and every i below it is in a chunk that ran to its end or failed
// lower. Each goroutine passes fn its own AAD buffer.
func run(n, per, workers int, fn func(i int, aad []byte) error) error {
	chunks := (n + per - 1) / per
	workers = runWorkers(n, per, workers)
	if workers <= 1 {
		var aad [aadCap]byte
		for i := range n {
			if err := fn(i, aad[:0]); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	var mu sync.Mutex
	errAt, firstErr := n, error(nil)
	var panicked any // a worker's panic (a caller's ReaderAt, say), raised again in the caller
	work := func() {
		defer func() {
			if p := recover(); p != nil {
				mu.Lock()
				if panicked == nil {
					panicked = p
				}
				mu.Unlock()
				next.Store(int64(chunks)) // the others stop at their next chunk
			}
		}()
		var aad [aadCap]byte
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks {
				return
			}
			for i := c * per; i < min(n, (c+1)*per); i++ {
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
	}
	// Every chunk runs on a new goroutine while the caller waits. Had the
	// caller worked too, the goroutine it started would wait in its P's
	// next-to-run slot, which another P steals from a running P only
	// after a sleep (3 µs asked, ~50 µs with Linux's default timer slack):
	// 2 workers ran at 0.61–0.67 × raw GCM on 2 goroutines for 1 MiB,
	// 0.80–0.82 this way (BenchmarkOneShotPaired).
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
	return firstErr
}
