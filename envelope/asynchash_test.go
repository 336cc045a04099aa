package envelope

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/stream"
)

// TestAsyncHash: any sequence of writes hashes to the digest of their
// concatenation, including after Reset, and buffers written are not kept.
func TestAsyncHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 20*asyncHashChunk+123) // more chunks than buffers
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for _, n := range []int{0, 1, asyncHashChunk - 1, asyncHashChunk, asyncHashChunk + 1, 5 * asyncHashChunk, len(data)} {
		for _, maxWrite := range []int{1 << 10, asyncHashChunk + 7, 3 * asyncHashChunk} {
			if n > 3*asyncHashChunk && maxWrite == 1<<10 {
				continue
			}
			a := newAsyncHash(sha512.New384())
			scratch := make([]byte, maxWrite)
			for p := data[:n]; len(p) > 0; {
				k := min(len(p), 1+r.IntN(maxWrite))
				copy(scratch, p[:k])
				a.Write(scratch[:k])
				clear(scratch) // the caller may reuse its buffer at once
				p = p[k:]
			}
			want := sha512.Sum384(data[:n])
			if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Fatalf("%d bytes in writes ≤ %d: digest differs", n, maxWrite)
			}
			a.Reset()
			a.Write(data[:n])
			if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Fatalf("%d bytes after Reset: digest differs", n)
			}
		}
	}
}

// A message of up to asyncHashChunk bytes is hashed inline: no goroutine,
// no buffer (it allocated a chunk per signed object of a bucket job).
func TestAsyncHashSmallInline(t *testing.T) {
	p := make([]byte, asyncHashChunk/2)
	h := sha512.New384()
	out := make([]byte, 0, h.Size())
	write := func() *asyncHash {
		h.Reset()
		a := newAsyncHash(h)
		a.Write(p[:100])
		a.Write(p)
		a.Write(p[:asyncHashChunk/2-100])
		return a
	}
	waitGoroutines()
	a := write()
	if n := hashGoroutines(); n != 0 {
		t.Fatalf("%d hashing goroutines for a small message, want 0", n)
	}
	a.Sum(out[:0])
	allocs := testing.AllocsPerRun(20, func() { write().Sum(out[:0]) })
	if allocs > 1 {
		t.Fatalf("%v allocations per %d-byte message, want 1 (the asyncHash)", allocs, asyncHashChunk)
	}
}

// gidHash records the goroutines it is written on.
type gidHash struct {
	hash.Hash
	gids map[string]int // goroutine ID → bytes
}

func (g *gidHash) Write(p []byte) (int, error) {
	g.gids[goid()] += len(p)
	return g.Hash.Write(p)
}

// goid returns the ID of the calling goroutine.
func goid() string {
	var b [64]byte
	f := strings.Fields(string(b[:runtime.Stack(b[:], false)]))
	return f[1] // "goroutine N [running]:"
}

// Past the inline part, one goroutine hashes every chunk, at most
// asyncHashChunks of them in memory, whatever the stream's length.
func TestAsyncHashOneGoroutine(t *testing.T) {
	if runtime.GOMAXPROCS(0) == 1 {
		t.Skip("GOMAXPROCS 1 hashes inline")
	}
	waitGoroutines()
	g := &gidHash{Hash: sha512.New384(), gids: map[string]int{}}
	a := newAsyncHash(g)
	data := make([]byte, 3*asyncHashChunks*asyncHashChunk+5)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for p := data; len(p) > 0; p = p[min(len(p), 32<<10):] {
		a.Write(p[:min(len(p), 32<<10)])
	}
	runtime.ReadMemStats(&after)
	if n := hashGoroutines(); n != 1 {
		t.Fatalf("%d hashing goroutines while writing, want 1", n)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > (asyncHashChunks+1)*asyncHashChunk {
		t.Fatalf("%d bytes allocated to hash %d", got, len(data))
	}
	want := sha512.Sum384(data)
	if !bytes.Equal(a.Sum(nil), want[:]) {
		t.Fatal("digest differs")
	}
	if n := ended(); n != 0 {
		t.Fatalf("%d hashing goroutines after Sum, want 0", n)
	}
	me := goid()
	if g.gids[me] != asyncHashChunk+5 || len(g.gids) != 2 {
		t.Fatalf("bytes hashed per goroutine: %v; want %d (the first chunk and the tail) on the caller's, %s, and the rest on one other",
			g.gids, asyncHashChunk+5, me)
	}
}

// hashGoroutines counts the running hashing goroutines of asyncHash.
func hashGoroutines() int { return goroutinesIn("envelope.(*asyncHash).start.func") }

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	b := make([]byte, 1<<20)
	for {
		n := runtime.Stack(b, true)
		if n < len(b) {
			b = b[:n]
			break
		}
		b = make([]byte, 2*len(b))
	}
	count := 0
	for g := range strings.SplitSeq(string(b), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

// ended waits, without collecting garbage, until no hashing goroutine
// runs, and returns how many still do: one that has signalled its end is
// gone a moment later.
func ended() int {
	n := hashGoroutines()
	for i := 0; i < 200 && n > 0; i++ {
		time.Sleep(time.Millisecond)
		n = hashGoroutines()
	}
	return n
}

// waitGoroutines collects garbage until no hashing goroutine runs, and
// reports whether that happened.
func waitGoroutines() bool {
	for range 200 {
		runtime.GC()
		if hashGoroutines() == 0 {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// The hashing goroutine of a signed stream ends when the stream does, and
// with the stream when it is abandoned: a writer never closed, a reader
// failing mid-message.
func TestAsyncHashStreamGoroutine(t *testing.T) {
	if runtime.GOMAXPROCS(0) == 1 {
		t.Skip("GOMAXPROCS 1 hashes inline")
	}
	ctx := context.Background()
	c, err := New(clearKeyring{}, WithSuite(AES256GCMHKDFSHA512CommitP384))
	if err != nil {
		t.Fatal(err)
	}
	pt := make([]byte, 4<<20)
	if !waitGoroutines() {
		t.Fatal("hashing goroutines left by earlier tests")
	}
	// Abandoned writer.
	func() {
		w, err := c.NewEncryptWriter(ctx, io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(pt); err != nil {
			t.Fatal(err)
		}
		if n := hashGoroutines(); n != 1 {
			t.Fatalf("%d hashing goroutines while writing, want 1", n)
		}
	}()
	if !waitGoroutines() {
		t.Fatal("an abandoned EncryptWriter's hashing goroutine still runs")
	}
	// Closed writer, reader read to the end.
	var ct bytes.Buffer
	w, err := c.NewEncryptWriter(ctx, &ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pt)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := ended(); n != 0 {
		t.Fatalf("%d hashing goroutines after Close", n)
	}
	runtime.KeepAlive(w) // its collection would end the goroutine too
	r, err := c.NewDecryptReader(ctx, bytes.NewReader(ct.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if n := ended(); n != 0 {
		t.Fatalf("%d hashing goroutines after the reader's end", n)
	}
	runtime.KeepAlive(r)
	// Reader failing mid-message, then dropped.
	bad := bytes.Clone(ct.Bytes())
	bad[len(bad)-1<<20] ^= 1
	func() {
		r, err := c.NewDecryptReader(ctx, bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("tampered message: %v", err)
		}
	}()
	if !waitGoroutines() {
		t.Fatal("a failed DecryptReader's hashing goroutine still runs")
	}
}

// A signed stream with the default workers seals or opens on one core
// fewer than GOMAXPROCS, leaving one to the hash: with GOMAXPROCS 2 it
// runs serially beside the hashing goroutine.
func TestSignedStreamWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	ctx := context.Background()
	c, err := New(clearKeyring{}, WithSuite(AES256GCMHKDFSHA512CommitP384), WithFrameLength(4096))
	if err != nil {
		t.Fatal(err)
	}
	waitGoroutines()
	const pool = "stream.(*pool[...]).submit.func"
	before := goroutinesIn(pool)
	pt := make([]byte, 2<<20)
	var ct bytes.Buffer
	w, err := c.NewEncryptWriter(ctx, &ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pt)
	if n := goroutinesIn(pool); n > before {
		t.Errorf("a signed EncryptWriter started %d frame workers with GOMAXPROCS 2, want none", n-before)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before = goroutinesIn(pool)
	r, err := c.NewDecryptReader(ctx, bytes.NewReader(ct.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, r, 1<<20); err != nil {
		t.Fatal(err)
	}
	if n := goroutinesIn(pool); n > before {
		t.Errorf("a signed DecryptReader started %d frame workers with GOMAXPROCS 2, want none", n-before)
	}
	if got, want := signedWorkers(3), 3; got != want {
		t.Errorf("signedWorkers(3) = %d, want the caller's %d", got, want)
	}
}

// sealSigned writes the body stream.Seal writes and a signature over the
// header and body; from sealSignedMin bytes the hashing is off the
// caller's goroutine, all of it.
func TestSealSigned(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(block)
	header := []byte("header")
	pt := make([]byte, sealSignedMin+3*asyncHashChunk+5)
	crand.Read(pt)
	for _, n := range []int{0, 1000, sealSignedMin - 1, sealSignedMin, len(pt)} {
		for _, frame := range []int{4096, 65536} {
			for _, workers := range []int{0, 1, 2} {
				cfg := stream.Config{AEAD: aead, MessageID: make([]byte, 32), FrameLength: frame, Workers: workers}
				want, err := stream.Seal(bytes.Clone(header), pt[:n], cfg)
				if err != nil {
					t.Fatal(err)
				}
				g := &gidHash{Hash: sha512.New384(), gids: map[string]int{}}
				dst := append(make([]byte, 0, len(want)+2+signatureLen(elliptic.P384())), header...)
				got, err := sealSigned(dst, 0, pt[:n], cfg, key, g)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got[:len(want)], want) {
					t.Fatalf("%d bytes, %d-byte frames, %d workers: body differs", n, frame, workers)
				}
				sig := got[len(want):]
				digest := sha512.Sum384(want)
				if len(sig) < 2 || int(binary.BigEndian.Uint16(sig)) != len(sig)-2 || !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig[2:]) {
					t.Fatalf("%d bytes, %d-byte frames, %d workers: bad footer", n, frame, workers)
				}
				if n >= sealSignedMin && runtime.GOMAXPROCS(0) > 1 && g.gids[goid()] != 0 {
					t.Fatalf("%d bytes, %d-byte frames, %d workers: %d bytes hashed serially", n, frame, workers, g.gids[goid()])
				}
			}
		}
	}
	if n := ended(); n != 0 {
		t.Fatalf("%d hashing goroutines left", n)
	}
}

// Signed one-shot calls with the default workers leave the hash a core
// too: with GOMAXPROCS 2 they seal and open in the calling goroutine.
func TestSignedOneShotWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	ctx := context.Background()
	c, err := New(clearKeyring{}, WithSuite(AES256GCMHKDFSHA512CommitP384), WithFrameLength(4096))
	if err != nil {
		t.Fatal(err)
	}
	pt := make([]byte, 16<<20)
	// workersDuring returns the most frame workers seen while f runs.
	workersDuring := func(f func()) int {
		stop, most := make(chan struct{}), make(chan int)
		go func() {
			m := 0
			for {
				m = max(m, goroutinesIn("stream.run.func")+goroutinesIn("stream.(*pool[...]).submit.func"))
				select {
				case <-stop:
					most <- m
					return
				default:
					runtime.Gosched()
				}
			}
		}()
		f()
		close(stop)
		return <-most
	}
	var ct []byte
	if n := workersDuring(func() { ct, err = c.Encrypt(ctx, pt, nil) }); err != nil || n > 0 {
		t.Errorf("signed Encrypt: %d frame workers seen with GOMAXPROCS 2, want none (err %v)", n, err)
	}
	if n := workersDuring(func() { _, _, err = c.Decrypt(ctx, ct) }); err != nil || n > 0 {
		t.Errorf("signed Decrypt: %d frame workers seen with GOMAXPROCS 2, want none (err %v)", n, err)
	}
}

// BenchmarkSignedHashIdle streams 64 MiB through a signed 0x0578 stream,
// default workers, and reports hash-idle: the share of the hashing
// goroutine's life it waited for bytes to hash, and hash-handback: the
// share it spent handing hashed buffers back (a send that wakes a Write
// waiting for one). The stream's other work (reading, sealing or opening,
// writing) hides behind SHA-384, its serial ceiling, when hash-idle is
// near 0; what remains between the stream and SHA-384 of the same bytes
// alone is then the hand-backs and the speed of the hash itself on a core
// whose neighbour is busy.
func BenchmarkSignedHashIdle(b *testing.B) {
	ctx := context.Background()
	pt := make([]byte, 64<<20)
	b.Run("sha384", func(b *testing.B) { // the ceiling, for reference
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			sha512.Sum384(pt)
		}
	})
	for _, frame := range []int{64 << 10, 4 << 10} {
		c, err := New(clearKeyring{}, WithSuite(AES256GCMHKDFSHA512CommitP384), WithFrameLength(frame))
		if err != nil {
			b.Fatal(err)
		}
		var ct bytes.Buffer
		w, err := c.NewEncryptWriter(ctx, &ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(pt); err != nil || w.Close() != nil {
			b.Fatal(err)
		}
		msg := ct.Bytes()
		report := func(b *testing.B, life, idle, back time.Duration) {
			b.SetBytes(int64(len(pt)))
			b.ReportMetric(float64(idle)/float64(life), "hash-idle")
			b.ReportMetric(float64(back)/float64(life), "hash-handback")
		}
		name := fmt.Sprintf("frame=%dKiB", frame>>10)
		b.Run("encrypt/"+name, func(b *testing.B) {
			var life, idle, back time.Duration
			for b.Loop() {
				w, err := c.NewEncryptWriter(ctx, io.Discard, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(w, struct{ io.Reader }{bytes.NewReader(pt)}); err != nil || w.Close() != nil {
					b.Fatal(err)
				}
				life, idle, back = life+w.hash.life, idle+w.hash.idle, back+w.hash.back
			}
			report(b, life, idle, back)
		})
		b.Run("decrypt/"+name, func(b *testing.B) {
			var life, idle, back time.Duration
			for b.Loop() {
				r, err := c.NewDecryptReader(ctx, bytes.NewReader(msg))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(struct{ io.Writer }{io.Discard}, r); err != nil {
					b.Fatal(err)
				}
				life, idle, back = life+r.hash.life, idle+r.hash.idle, back+r.hash.back
			}
			report(b, life, idle, back)
		})
	}
}

// slowHash is a hash that takes d per Write, slower than any caller.
type slowHash struct {
	hash.Hash
	d func() time.Duration
}

func (h slowHash) Write(p []byte) (int, error) {
	time.Sleep(h.d())
	return h.Hash.Write(p)
}

// TestAsyncHashSleeps: a caller that outruns the hash sleeps once per
// asyncHashWake buffers handed back, not once per buffer (each wake-up is
// time taken from the hashing goroutine), and the digest is that of the
// bytes written, whatever the timing of the two sides.
func TestAsyncHashSleeps(t *testing.T) {
	if runtime.GOMAXPROCS(0) == 1 {
		t.Skip("GOMAXPROCS 1 hashes inline")
	}
	data := make([]byte, 40*asyncHashChunk+5)
	for i := range data {
		data[i] = byte(i * 131)
	}
	want := sha512.Sum384(data)
	a := newAsyncHash(slowHash{sha512.New384(), func() time.Duration { return 200 * time.Microsecond }})
	for p := data; len(p) > 0; p = p[min(len(p), 16<<10):] {
		a.Write(p[:min(len(p), 16<<10)])
	}
	if got := a.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatal("digest differs")
	}
	// 40 chunks: 1 hashed inline, asyncHashChunks made, the rest waited
	// for: a sleep per buffer would be ~32.
	if maxSleeps := (40 - asyncHashChunks) / 2; a.sleeps == 0 || a.sleeps > maxSleeps {
		t.Fatalf("the writer slept %d times for buffers; want 1..%d", a.sleeps, maxSleeps)
	}

	// Random delays on both sides: the hand-off between a Write about to
	// sleep and the goroutine handing buffers back loses no wake-up (the
	// test would hang) and no byte.
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 30 {
		hr := rand.New(rand.NewPCG(5, uint64(i))) // the hashing goroutine's
		h := slowHash{sha512.New384(), func() time.Duration { return time.Duration(hr.IntN(3)) * 20 * time.Microsecond }}
		a := newAsyncHash(h)
		n := r.IntN(len(data))
		for p := data[:n]; len(p) > 0; {
			k := min(len(p), 1+r.IntN(3*asyncHashChunk))
			a.Write(p[:k])
			p = p[k:]
			if r.IntN(4) == 0 {
				time.Sleep(time.Duration(r.IntN(50)) * time.Microsecond)
			}
		}
		if got, want := a.Sum(nil), sha512.Sum384(data[:n]); !bytes.Equal(got, want[:]) {
			t.Fatalf("%d bytes: digest differs", n)
		}
	}
}
