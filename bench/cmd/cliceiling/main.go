// Command cliceiling times the floor under s3crypt's small-file target
// (scripts/bench-cli.sh): the least a program can do on this machine to
// encrypt a directory of files into another, durably, the way s3crypt
// does, with nothing of the message format but its cryptography.
//
// For each regular file of SRC, on 4 × GOMAXPROCS goroutines at once (as
// s3crypt's default), it reads the file 1 MiB at a time (a small file in
// one read; a larger read sealed on every core), and then by MODE:
//
//	copy    writes it unchanged
//	gcm     seals it with raw AES-256-GCM in 64 KiB chunks (s3crypt's
//	        default frame length), one key for the whole run
//	signed  gcm, and per file what suite 0x0578 costs each message: a
//	        fresh P-384 key pair, its public key encoded, SHA-384 of the
//	        output and an ECDSA signature, appended
//
// into an unnamed file of DST (O_TMPFILE; a named temporary file renamed
// where there is none), linked under the file's name. It starts the
// write-back of each 8 MiB written, as s3crypt does, and of the rest of a
// file once written (sync_file_range(2), Linux; s3crypt leaves a small
// file's to its group's syncfs), so the disk works through the run. At the
// end one syncfs(2) of DST's file system and an fsync of DST make every
// output durable. There is no header, key derivation, key wrapping,
// per-group commit, audit or input check: what s3crypt costs beyond this
// program is its own; up to it, the machine's. It is a reference, not a
// proof: on a disk whose speed drifts, either can come out ahead in a
// round.
//
// It prints the seconds taken, from listing SRC to the last sync.
//
// Usage: cliceiling copy|gcm|signed SRC DST
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

const (
	chunk         = 64 << 10  // s3crypt's default frame length
	readChunk     = 1 << 20   // a read's size: small files in one read
	writebackStep = 8 << 20   // s3crypt's: write-back started every 8 MiB
	parallelMin   = 256 << 10 // a larger read is sealed on every core
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: cliceiling copy|gcm|signed SRC DST")
		os.Exit(2)
	}
	secs, err := run(os.Args[1], os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cliceiling:", err)
		os.Exit(1)
	}
	fmt.Printf("%.3f\n", secs)
}

func run(mode, src, dst string) (float64, error) {
	switch mode {
	case "copy", "gcm", "signed":
	default:
		return 0, fmt.Errorf("mode %q: want copy, gcm or signed", mode)
	}
	start := time.Now()
	ents, err := os.ReadDir(src)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return 0, err
	}
	dir, err := os.Open(dst)
	if err != nil {
		return 0, err
	}
	defer dir.Close()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return 0, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return 0, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return 0, err
	}

	names := make(chan string)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var bufs buffers
			for name := range names {
				if err := one(mode, aead, filepath.Join(src, name), dir, name, &bufs); err != nil {
					select {
					case errs <- fmt.Errorf("%s: %w", name, err):
					default:
					}
				}
			}
		})
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			names <- e.Name()
		}
	}
	close(names)
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	if err := syncFS(dir); err != nil {
		return 0, err
	}
	if err := dir.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

// buffers are a worker's, reused from file to file: what it reads, and
// the sealed chunks, one sealed while the other is hashed.
type buffers struct {
	in   []byte
	outs [2][]byte
}

// one makes name in dir from the file at path, read readChunk bytes at a
// time into bufs, grown as needed.
func one(mode string, aead cipher.AEAD, path string, dir *os.File, name string, bufs *buffers) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	w, publish, err := openTemp(dir, name)
	if err != nil {
		return err
	}
	defer w.Close()
	var h *hasher
	if mode == "signed" {
		h = newHasher(fi.Size() > readChunk)
	}
	bufs.in = grow(bufs.in, int(min(fi.Size(), readChunk)))
	in, outs := bufs.in, &bufs.outs
	var written, flushed int64
	for k, off := 0, int64(0); off < fi.Size(); k++ {
		n, err := f.ReadAt(in[:min(int64(len(in)), fi.Size()-off)], off)
		if err != nil {
			h.close()
			return err
		}
		off += int64(n)
		b := in[:n]
		if mode != "copy" {
			outs[k%2] = seal(aead, outs[k%2], b, off)
			b = outs[k%2]
		}
		h.write(b)
		if _, err := w.Write(b); err != nil {
			h.close()
			return err
		}
		if written += int64(len(b)); written-flushed >= writebackStep {
			startWriteback(w, flushed, written-flushed) // as s3crypt: the disk works while the rest is sealed
			flushed = written
		}
	}
	startWriteback(w, flushed, written-flushed) // the rest: the disk starts on it now
	if h != nil {
		sig, err := sign(h.sum())
		if err != nil {
			return err
		}
		if _, err := w.Write(sig); err != nil {
			return err
		}
	}
	return publish()
}

// seal seals b, read at off, chunk by chunk into out (grown), on as many
// goroutines as GOMAXPROCS when b is larger than parallelMin (a large
// file's read, as s3crypt's frame workers seal it), and returns it.
func seal(aead cipher.AEAD, out, b []byte, off int64) []byte {
	n := len(b) + (len(b)+chunk-1)/chunk*aead.Overhead()
	out = grow(out, n)
	part := func(i, j int) { // chunks i to j
		for ; i < j; i++ {
			var nonce [12]byte
			binary.BigEndian.PutUint64(nonce[4:], uint64(off)+uint64(i))
			p := b[i*chunk : min((i+1)*chunk, len(b))]
			o := i * (chunk + aead.Overhead())
			aead.Seal(out[o:o], nonce[:], p, nil)
		}
	}
	chunks := (len(b) + chunk - 1) / chunk
	workers := runtime.GOMAXPROCS(0)
	if len(b) <= parallelMin || workers == 1 {
		part(0, chunks)
		return out
	}
	var wg sync.WaitGroup
	per := (chunks + workers - 1) / workers
	for i := 0; i < chunks; i += per {
		wg.Go(func() { part(i, min(i+per, chunks)) })
	}
	wg.Wait()
	return out
}

// A hasher computes SHA-384 of what it is given, on a goroutine of its
// own if async (a large file: the hash, serial, overlaps the sealing, as
// in s3crypt), holding one buffer at a time. A nil hasher does nothing.
type hasher struct {
	h    hash.Hash
	todo chan []byte
	done chan struct{}
	busy bool // a buffer is being hashed
}

func newHasher(async bool) *hasher {
	h := &hasher{h: sha512.New384()}
	if async {
		h.todo, h.done = make(chan []byte), make(chan struct{}, 1)
		go func() {
			for b := range h.todo {
				h.h.Write(b)
				h.done <- struct{}{}
			}
		}()
	}
	return h
}

// write hashes b, or hands it over once the previous buffer is hashed; b
// must not change until the next write or sum.
func (h *hasher) write(b []byte) {
	switch {
	case h == nil:
	case h.todo == nil:
		h.h.Write(b)
	default:
		h.wait()
		h.todo <- b
		h.busy = true
	}
}

func (h *hasher) wait() {
	if h.busy {
		<-h.done
		h.busy = false
	}
}

func (h *hasher) close() {
	if h != nil && h.todo != nil {
		h.wait()
		close(h.todo)
		h.todo = nil
	}
}

func (h *hasher) sum() []byte {
	h.close()
	return h.h.Sum(nil)
}

// sign signs digest under a fresh P-384 key, its public key encoded as a
// header would carry it.
func sign(digest []byte) ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if _, err := k.PublicKey.Bytes(); err != nil {
		return nil, err
	}
	return ecdsa.SignASN1(rand.Reader, k, digest)
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
