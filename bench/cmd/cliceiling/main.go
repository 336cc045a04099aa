// Command cliceiling times the floor under s3crypt's small-file target
// (scripts/bench-cli.sh): the least a program can do on this machine to
// encrypt a directory of files into another, durably, the way s3crypt
// does, with nothing of the message format but its cryptography.
//
// For each regular file of SRC, on 4 × GOMAXPROCS goroutines at once (as
// s3crypt's default), it reads the file whole, and then by MODE:
//
//	copy    writes it unchanged
//	gcm     seals it with raw AES-256-GCM in 64 KiB chunks (s3crypt's
//	        default frame length), one key for the whole run
//	signed  gcm, and per file what suite 0x0578 costs each message: a
//	        fresh P-384 key pair, its public key encoded, SHA-384 of the
//	        output and an ECDSA signature, appended
//
// into an unnamed file of DST (O_TMPFILE; a named temporary file renamed
// where there is none), linked under the file's name. At the end one
// syncfs(2) of DST's file system and an fsync of DST make every output
// durable. There is no header, key derivation, key wrapping, per-group
// commit, audit or input check: whatever s3crypt costs beyond this
// program is its own; up to this program, the machine's.
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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// chunk is s3crypt's default frame length.
const chunk = 64 << 10

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
			var in, out []byte
			for name := range names {
				var err error
				if in, out, err = one(mode, aead, filepath.Join(src, name), dir, name, in, out); err != nil {
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

// one makes name in dir from the file at path; in and out are buffers to
// reuse, returned grown.
func one(mode string, aead cipher.AEAD, path string, dir *os.File, name string, in, out []byte) ([]byte, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return in, out, err
	}
	fi, err := f.Stat()
	if err == nil {
		in = grow(in, int(fi.Size()))
		_, err = f.ReadAt(in, 0)
	}
	f.Close()
	if err != nil {
		return in, out, err
	}
	w := in
	if mode != "copy" {
		var nonce [12]byte
		out = out[:0]
		for i := 0; i < len(in); i += chunk {
			nonce[11]++
			out = aead.Seal(out, nonce[:], in[i:min(i+chunk, len(in))], nil)
		}
		if mode == "signed" {
			if out, err = sign(out); err != nil {
				return in, out, err
			}
		}
		w = out
	}
	return in, out, create(dir, name, w)
}

// sign appends to msg the signature of msg under a fresh P-384 key.
func sign(msg []byte) ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return msg, err
	}
	if _, err := k.PublicKey.Bytes(); err != nil { // the header's copy of it
		return msg, err
	}
	h := sha512.Sum384(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		return msg, err
	}
	return append(msg, sig...), nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// create writes b to a new file named name in dir, which must not exist
// (on Linux; elsewhere it is replaced).
func create(dir *os.File, name string, b []byte) error {
	f, publish, err := openTemp(dir, name)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = publish()
	}
	return errors.Join(err, f.Close())
}
