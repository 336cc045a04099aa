package envelope_test

// The public API misused, or fed by a source or destination that fails,
// panics or lies: each test failed before its fix (found by a probe).

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
)

// probePanics runs f and returns the panic value, if any.
func probePanics(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// probeWorkerGoroutines waits (without GC) up to ~1s for the pool/hash
// goroutines to end and returns how many remain.
func probeWorkerGoroutines() int {
	count := func() int {
		return envelope.GoroutinesIn("stream.(*pool).submit.func") + envelope.GoroutinesIn("envelope.(*asyncHash).start.func")
	}
	n := count()
	for i := 0; i < 200 && n > 0; i++ {
		time.Sleep(5 * time.Millisecond)
		n = count()
	}
	return n
}

// exactThenNegative gives b, then answers every Read with (-1, nil).
type exactThenNegative struct{ b []byte }

func (r *exactThenNegative) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return -1, nil
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// Was panic, found by a probe: with WithPlaintextLength, ReadFrom reads the byte past
// the declared length with io.ReadFull straight from the caller's reader,
// bypassing iocheck: a source returning a negative count there panics
// (slice bounds out of range in io.ReadAtLeast) instead of failing with
// io.ErrShortBuffer, as it does everywhere else (TestSourceCountsChecked).
func TestReadFromDeclaredNegativeCount(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(4096))
	pt := testPlaintext(10_000)
	var out bytes.Buffer
	w, err := c.NewEncryptWriter(ctx, &out, nil, envelope.WithPlaintextLength(int64(len(pt))))
	if err != nil {
		t.Fatal(err)
	}
	var rerr error
	if p := probePanics(func() { _, rerr = w.ReadFrom(&exactThenNegative{b: pt}) }); p != nil {
		t.Fatalf("ReadFrom with a declared length panicked on a source's negative count: %v", p)
	}
	if !errors.Is(rerr, io.ErrShortBuffer) {
		t.Errorf("ReadFrom: %v, want io.ErrShortBuffer", rerr)
	}
}

// uncomparableErr is a legal error type whose values cannot be compared
// with == (a slice field): errors.Is copes with it.
type uncomparableErr struct{ parts []string }

func (e uncomparableErr) Error() string { return strings.Join(e.parts, ": ") }

type failingSource struct {
	b   []byte
	err error
}

func (r *failingSource) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// Was panic, found by a probe: EncryptWriter.ReadFrom tells a source's error from the
// writer's with err == src.err; for an error type that is not comparable
// (a struct value with a slice field: legal, and errors.Is copes) the
// comparison panics, so io.Copy from such a source panics.
func TestReadFromUncomparableSourceError(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(4096))
	var out bytes.Buffer
	w, err := c.NewEncryptWriter(ctx, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := &failingSource{b: testPlaintext(10_000), err: uncomparableErr{parts: []string{"disk", "gone"}}}
	var rerr error
	if p := probePanics(func() { _, rerr = w.ReadFrom(src) }); p != nil {
		t.Fatalf("ReadFrom panicked on a source error of an uncomparable type: %v", p)
	}
	var ue uncomparableErr
	if !errors.As(rerr, &ue) {
		t.Errorf("ReadFrom: %v, want the source's error", rerr)
	}
}

// Was goroutine leak, unzeroed buffers, found by a probe: a Close that fails because fewer bytes were written than declared
// leaves the frame workers and the hashing goroutine running while the
// caller still holds the writer (they end only when it is collected).
func TestCloseLengthMismatchStopsWorkers(t *testing.T) {
	if runtime.GOMAXPROCS(0) == 1 {
		t.Skip("needs GOMAXPROCS > 1")
	}
	ctx := context.Background()
	before := probeWorkerGoroutines()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameLength(4096))
	w, err := c.NewEncryptWriter(ctx, io.Discard, nil, envelope.WithPlaintextLength(8<<20), envelope.WithFrameWorkers(4))
	if err != nil {
		t.Fatal(err)
	}
	pt := testPlaintext(1 << 20)
	for range 2 {
		if _, err := w.Write(pt); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); !errors.Is(err, envelope.ErrPlaintextLength) {
		t.Fatalf("Close: %v, want ErrPlaintextLength", err)
	}
	if n := probeWorkerGoroutines(); n > before {
		t.Errorf("after Close failed with ErrPlaintextLength, %d worker/hash goroutines still run (%d before)", n, before)
	}
	runtime.KeepAlive(w)
}

// errAfter accepts n bytes, then fails every Write.
type errAfter struct{ n int }

var errProbeDst = errors.New("probe: destination failed")

func (d *errAfter) Write(p []byte) (int, error) {
	if d.n <= 0 {
		return 0, errProbeDst
	}
	k := min(len(p), d.n)
	d.n -= k
	if k < len(p) {
		return k, errProbeDst
	}
	return k, nil
}

// Was goroutine leak, found by a probe: after a destination write error, Close returns the error but leaves the
// workers and the hashing goroutine running while the writer is held.
func TestCloseAfterWriteErrorStopsWorkers(t *testing.T) {
	if runtime.GOMAXPROCS(0) == 1 {
		t.Skip("needs GOMAXPROCS > 1")
	}
	ctx := context.Background()
	before := probeWorkerGoroutines()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameLength(4096))
	w, err := c.NewEncryptWriter(ctx, &errAfter{n: 3 << 20}, nil, envelope.WithFrameWorkers(4))
	if err != nil {
		t.Fatal(err)
	}
	pt := testPlaintext(1 << 20)
	var werr error
	for range 8 {
		if _, werr = w.Write(pt); werr != nil {
			break
		}
	}
	if !errors.Is(werr, errProbeDst) {
		t.Fatalf("Write: %v, want the destination's error", werr)
	}
	if err := w.Close(); !errors.Is(err, errProbeDst) {
		t.Fatalf("Close: %v, want the destination's error", err)
	}
	if n := probeWorkerGoroutines(); n > before {
		t.Errorf("after a write error and Close, %d worker/hash goroutines still run (%d before)", n, before)
	}
	runtime.KeepAlive(w)
}

// opaqueReader hides a reader's length, so NewDecryptReader keeps the
// configured workers.
type opaqueReader struct{ r io.Reader }

func (o opaqueReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// Was panic / unbounded resource, found by a probe: WithFrameWorkers accepts any positive count, and the streaming calls
// size their rings as workers × slots: a huge count panics (makeslice)
// instead of failing with ErrInvalidOption or being capped.
func TestHugeFrameWorkers(t *testing.T) {
	ctx := context.Background()
	const huge = 1 << 40
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(4096))
	pt := testPlaintext(1 << 20)
	msg, err := c.Encrypt(ctx, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := probePanics(func() {
		w, err := c.NewEncryptWriter(ctx, io.Discard, nil, envelope.WithFrameWorkers(huge))
		if err == nil {
			_, err = w.Write(pt)
			err = errors.Join(err, w.Close())
		}
		if err != nil && !errors.Is(err, envelope.ErrInvalidOption) {
			t.Errorf("NewEncryptWriter, %d workers: %v", huge, err)
		}
	}); p != nil {
		t.Errorf("NewEncryptWriter with WithFrameWorkers(%d) panicked: %v", huge, p)
	}
	if p := probePanics(func() {
		r, err := c.NewDecryptReader(ctx, opaqueReader{bytes.NewReader(msg)}, envelope.WithFrameWorkers(huge))
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if err != nil && !errors.Is(err, envelope.ErrInvalidOption) {
			t.Errorf("NewDecryptReader, %d workers: %v", huge, err)
		}
	}); p != nil {
		t.Errorf("NewDecryptReader with WithFrameWorkers(%d) panicked: %v", huge, p)
	}
}

// panickyReaderAt panics on every ReadAt once armed.
type panickyReaderAt struct {
	b     []byte
	armed bool
}

func (r *panickyReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if r.armed {
		panic("probe: source ReadAt panicked")
	}
	return bytes.NewReader(r.b).ReadAt(p, off)
}

// Was a panic on a worker goroutine, found by a probe:
// DecryptReaderAt.ReadAt of a range of several frames with workers calls
// the source's ReadAt on goroutines of its own (stream.run): a panicking
// io.ReaderAt killed the process. Its panic now reaches ReadAt's caller,
// as a source's panic does for the streaming readers and writers (turns);
// without the fix this test binary crashes.
func TestReaderAtSourcePanic(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(4096))
	msg, err := c.Encrypt(ctx, testPlaintext(1<<20), nil)
	if err != nil {
		t.Fatal(err)
	}
	src := &panickyReaderAt{b: msg}
	r, err := c.NewDecryptReaderAt(ctx, src, int64(len(msg)), envelope.WithFrameWorkers(4))
	if err != nil {
		t.Fatal(err)
	}
	src.armed = true
	if p := probePanics(func() { r.ReadAt(make([]byte, 512<<10), 1000) }); p == nil {
		t.Fatal("no panic reached ReadAt's caller")
	}
}

// Was goroutine leak until GC, low, found by a probe: Reencrypt whose destination fails mid-body returns the error with the
// old message's frame workers and both hashing goroutines still running:
// they end only when a garbage collection finds the abandoned streams.
func TestReencryptDestinationErrorStopsWorkers(t *testing.T) {
	if runtime.GOMAXPROCS(0) == 1 {
		t.Skip("needs GOMAXPROCS > 1")
	}
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameLength(4096), envelope.WithFrameWorkers(3))
	msg, err := c.Encrypt(ctx, testPlaintext(12<<20), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without a collection in between (as in a program that allocates
	// little), nothing stops them.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := probeWorkerGoroutines()
	_, err = c.Reencrypt(ctx, &errAfter{n: 2 << 20}, opaqueReader{bytes.NewReader(msg)}, c, &envelope.ReencryptOptions{Decrypt: []envelope.DecryptOption{envelope.WithFrameWorkers(1)}})
	if !errors.Is(err, errProbeDst) {
		t.Fatalf("Reencrypt: %v, want the destination's error", err)
	}
	if n := probeWorkerGoroutines(); n > before {
		t.Errorf("after Reencrypt failed, %d worker/hash goroutines still run (%d before; %d hashing)", n, before, envelope.GoroutinesIn("envelope.(*asyncHash).start.func"))
	}
}

// Was goroutine leak, found by a probe: a signed DecryptReader that failed on a tampered frame has returned its
// error for good, yet its hashing goroutine runs on while the caller
// holds the reader (it ends only when the reader is collected).
func TestDecryptReaderErrorStopsHash(t *testing.T) {
	if runtime.GOMAXPROCS(0) == 1 {
		t.Skip("needs GOMAXPROCS > 1")
	}
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameLength(4096))
	msg, err := c.Encrypt(ctx, testPlaintext(6<<20), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg[len(msg)/2] ^= 1
	before := probeWorkerGoroutines()
	for _, workers := range []int{1, 3} {
		r, err := c.NewDecryptReader(ctx, opaqueReader{bytes.NewReader(msg)}, envelope.WithFrameWorkers(workers))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, struct{ io.Reader }{r}); !errors.Is(err, envelope.ErrAuthentication) {
			t.Fatalf("workers %d: %v, want ErrAuthentication", workers, err)
		}
		if n := probeWorkerGoroutines(); n > before {
			t.Errorf("workers %d: after the reader failed, %d worker/hash goroutines still run (%d before)", workers, n, before)
		}
		runtime.KeepAlive(r)
	}
}

// panicOnce panics on Write number at, once, and accepts every other.
type panicOnce struct {
	bytes.Buffer
	calls, at int
}

func (d *panicOnce) Write(p []byte) (int, error) {
	d.calls++
	if d.calls == d.at {
		panic("probe: destination Write panicked")
	}
	return d.Buffer.Write(p)
}

// Was hang / panic, found by a probe: a destination whose Write panics once during
// Write or io.Copy, then Close (a deferred w.Close() runs exactly so,
// while the panic unwinds). The panic leaves the drained slot at the ring
// head with its done flag already reset by pool.wait, so Close's drain
// waits for it again: with workers it sleeps forever (the deferred Close
// turns the panic into a permanent hang); serially it panics with
// "stream: internal error: waiting for a frame no one runs". Close must
// return (an error), never hang or panic, and must not leave a message
// that decrypts to anything but the whole plaintext.
func TestDestinationPanicThenClose(t *testing.T) {
	ctx := context.Background()
	pt := testPlaintext(9 << 20)
	for _, workers := range []int{1, 3} {
		for _, at := range []int{2, 9} {
			for _, src := range []string{"ReadFrom", "Write"} {
				c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(4096), envelope.WithFrameWorkers(workers))
				dst := &panicOnce{at: at}
				w, err := c.NewEncryptWriter(ctx, dst, nil)
				if err != nil {
					t.Fatal(err)
				}
				p := probePanics(func() {
					if src == "ReadFrom" {
						w.ReadFrom(opaqueReader{bytes.NewReader(pt)})
					} else {
						for i := 0; i < len(pt); i += 1 << 20 {
							w.Write(pt[i:min(len(pt), i+1<<20)])
						}
					}
				})
				if p == nil {
					t.Fatalf("workers %d at %d %s: no panic", workers, at, src)
				}
				var cerr error
				var cp any
				done := make(chan struct{})
				go func() {
					defer close(done)
					cp = probePanics(func() { cerr = w.Close() })
				}()
				select {
				case <-done:
				case <-time.After(3 * time.Second):
					t.Errorf("workers %d at %d %s: Close after the destination's panic hangs", workers, at, src)
					continue
				}
				if cp != nil {
					t.Errorf("workers %d at %d %s: Close after the destination's panic panicked: %v", workers, at, src, cp)
					continue
				}
				got, _, err := c.Decrypt(ctx, dst.Bytes())
				if err == nil && !bytes.Equal(got, pt) {
					t.Errorf("workers %d at %d %s: Close %v; the destination holds a valid message of %d of %d bytes (prefix %v)", workers, at, src, cerr, len(got), len(pt), bytes.HasPrefix(pt, got))
				}
			}
		}
	}
}
