package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
)

// The fuzz targets open arbitrary bodies under the fixed key of testConfig
// and a message ID that names the frame length (fuzzID), as a real
// message's authenticated header fixes it: the AAD of a frame does not
// hold the frame length, so a final frame sealed under one frame length
// opens under another, at another plaintext offset. Sealing is
// deterministic, so every fuzzing process builds the same seeds; a body
// opens only if it is one of them, and any plaintext released is a prefix
// of streamPlaintext's stream.

// fuzzID returns the message ID of the bodies of frame length F.
func fuzzID(F int) []byte {
	id := bytes.Repeat([]byte{9}, 32)
	binary.BigEndian.PutUint32(id, uint32(F))
	return id
}

// fuzzBodies adds bodies of several frame lengths and both final-frame
// layouts to f and returns their plaintexts by body.
func fuzzBodies(f *testing.F) map[string][]byte {
	seeds := map[string][]byte{}
	for _, frame := range []int{1, 16, 100} {
		cfg := testConfig(f, frame, 1)
		cfg.MessageID = fuzzID(frame)
		for _, size := range []int{0, 1, frame, 3*frame + 2} {
			pt := streamPlaintext(size)
			for _, emptyFinal := range []bool{false, true} {
				body := specSeal(cfg.AEAD, cfg.MessageID, frame, pt, emptyFinal)
				seeds[string(body)] = pt
				f.Add(body, uint16(frame), uint8(size))
			}
		}
	}
	f.Add([]byte{}, uint16(16), uint8(0))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1}, uint16(16), uint8(1))
	return seeds
}

// fuzzConfig takes the frame length (1..65536) and the worker count
// (1..4) from the fuzzer's numbers.
func fuzzConfig(t *testing.T, frame uint16, workers uint8) Config {
	cfg := testConfig(t, int(frame)+1, int(workers%4)+1)
	cfg.MessageID = fuzzID(cfg.FrameLength)
	cfg.ReadPast = workers&4 != 0
	return cfg
}

func checkBodyErr(t *testing.T, what string, err error) {
	t.Helper()
	for _, s := range []error{ErrAuthentication, ErrTruncated, ErrMalformedBody, ErrTooManyFrames} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("%s: untyped error %v", what, err)
}

// FuzzStreamReader: a Reader never panics, releases only verified
// plaintext, reaches io.EOF only on a seed body (it may be followed by
// anything: a Reader never reads past the final frame, or returns what it
// read past it as Rest) and agrees with Open.
func FuzzStreamReader(f *testing.F) {
	seeds := fuzzBodies(f)
	f.Fuzz(func(t *testing.T, b []byte, frame uint16, workers uint8) {
		cfg := fuzzConfig(t, frame-1, workers)
		src := bytes.NewReader(b)
		r, err := NewReader(src, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if !bytes.Equal(got, streamPlaintext(len(got))) {
			t.Fatalf("released %d bytes that no body sealed here holds", len(got))
		}
		openPT, n, openErr := Open(nil, b, cfg)
		if err != nil {
			checkBodyErr(t, "Reader", err)
			if openErr == nil {
				t.Fatalf("Open accepted what the Reader refused with %v", err)
			}
			return
		}
		body := b[:len(b)-src.Len()-len(r.Rest())]
		if !bytes.HasSuffix(b[:len(b)-src.Len()], r.Rest()) {
			t.Fatalf("Rest is not what was read past the body")
		}
		if want, ok := seeds[string(body)]; !ok || !bytes.Equal(got, want) {
			t.Fatalf("Reader accepted a %d-byte body that is not a seed", len(body))
		}
		if openErr != nil || n != len(body) || !bytes.Equal(openPT, got) {
			t.Fatalf("Open: %d of %d bytes, %v", n, len(body), openErr)
		}
	})
}

// FuzzStreamOpen: Open never panics, returns no plaintext on failure and
// succeeds only on a seed body, whose length it reports.
func FuzzStreamOpen(f *testing.F) {
	seeds := fuzzBodies(f)
	f.Fuzz(func(t *testing.T, b []byte, frame uint16, workers uint8) {
		cfg := fuzzConfig(t, frame-1, workers)
		in := slices.Clone(b)
		bl, blErr := BodyLength(b, cfg.FrameLength)
		_, size, sl, scanErr := Scan(bytes.NewReader(b), cfg.FrameLength)
		if (blErr == nil) != (scanErr == nil) || int64(bl) != sl {
			t.Fatalf("BodyLength %d, %v; Scan %d, %v", bl, blErr, sl, scanErr)
		}
		pt, n, err := Open([]byte("dst"), b, cfg)
		if !bytes.Equal(in, b) {
			t.Fatal("Open modified its input")
		}
		if err != nil {
			checkBodyErr(t, "Open", err)
			if pt != nil || n != 0 {
				t.Fatalf("Open failed (%v) but returned %d bytes", err, len(pt))
			}
			return
		}
		if want, ok := seeds[string(b[:n])]; !ok || !bytes.Equal(pt, append([]byte("dst"), want...)) {
			t.Fatalf("Open accepted a %d-byte body that is not a seed", n)
		}
		if bl != n || size != int64(len(pt)-3) {
			t.Fatalf("BodyLength %d, Scan %d plaintext bytes; Open read %d of %d bytes", bl, size, len(pt)-3, n)
		}
	})
}

// FuzzStreamReaderFrameLength: a Reader told any frame length up to
// 2^32-1 never panics, allocates in proportion to the bytes it is given
// (not to the declared frame length), releases only verified plaintext
// and reaches io.EOF only on a seed body. The seeds are final-frame-only
// bodies, valid under every frame length at least their content's.
func FuzzStreamReaderFrameLength(f *testing.F) {
	cfg := testConfig(f, 100, 1)
	seeds := map[string][]byte{}
	for _, size := range []int{0, 1, 50, 100} {
		pt := streamPlaintext(size)
		body := specSeal(cfg.AEAD, cfg.MessageID, 100, pt, false)
		seeds[string(body)] = pt
		f.Add(body, uint32(size), uint8(0))
		f.Add(body, uint32(MaxFrameLength), uint8(1))
	}
	hdr := make([]byte, regularHdr+100)
	hdr[3] = 1
	f.Add(hdr, uint32(MaxFrameLength), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, frame uint32, workers uint8) {
		cfg := testConfig(t, int(max(frame, 1)), int(workers%4)+1)
		cfg.ReadPast = workers&4 != 0
		src := bytes.NewReader(b)
		var got, rest []byte
		var err error
		n := allocated(func() {
			r, nerr := NewReader(src, cfg)
			if nerr != nil {
				t.Fatal(nerr)
			}
			got, err = io.ReadAll(r)
			rest = r.Rest()
		})
		if limit := uint64(4*len(b)) + 4*eagerAlloc; n > limit {
			t.Fatalf("%d bytes allocated for a %d-byte body", n, len(b))
		}
		if !bytes.Equal(got, streamPlaintext(len(got))) {
			t.Fatalf("released %d bytes that no body sealed here holds", len(got))
		}
		if err != nil {
			checkBodyErr(t, "Reader", err)
			return
		}
		body := b[:len(b)-src.Len()-len(rest)]
		if want, ok := seeds[string(body)]; !ok || !bytes.Equal(got, want) {
			t.Fatalf("Reader accepted a %d-byte body that is not a seed", len(body))
		}
	})
}

// FuzzStreamReaderAt: a ReaderAt over arbitrary bytes never panics, keeps
// the io.ReaderAt contract, fails with typed errors, reads without error
// every body Open accepts, and returns only verified plaintext, at its
// place in the stream every seed is a prefix of. Odd worker counts read
// through a source that returns io.EOF with its last full read.
func FuzzStreamReaderAt(f *testing.F) {
	fuzzBodies(f)
	f.Fuzz(func(t *testing.T, b []byte, frame uint16, workers uint8) {
		cfg := fuzzConfig(t, frame-1, workers)
		var src io.ReaderAt = bytes.NewReader(b)
		if workers%2 == 1 {
			src = eofReaderAt{b}
		}
		ra, err := NewReaderAt(src, 0, int64(len(b)), cfg)
		if err != nil {
			checkBodyErr(t, "NewReaderAt", err)
			return
		}
		size := ra.Size()
		// A body Open accepts whole must read without error.
		whole, bodyLen, openErr := Open(nil, b, cfg)
		valid := openErr == nil && bodyLen == len(b)
		if valid && int64(len(whole)) != size {
			t.Fatalf("Size %d, Open returned %d bytes", size, len(whole))
		}
		for _, rg := range [][2]int64{{0, size}, {size / 2, size/2 + int64(frame)}, {max(0, size-1), size + 1}, {int64(frame), int64(frame) + 1}} {
			p := make([]byte, rg[1]-rg[0])
			n, err := ra.ReadAt(p, rg[0])
			switch {
			case err == nil && n != len(p), err == io.EOF && n >= len(p) && len(p) > 0, err != nil && err != io.EOF && n != 0:
				t.Fatalf("ReadAt [%d, %d): %d bytes, %v", rg[0], rg[1], n, err)
			case err != nil && err != io.EOF:
				if valid {
					t.Fatalf("ReadAt [%d, %d) of a body Open accepts: %v", rg[0], rg[1], err)
				}
				checkBodyErr(t, "ReadAt", err)
			case !bytes.Equal(p[:n], streamPlaintext(int(rg[0]) + n)[rg[0]:]):
				t.Fatalf("ReadAt [%d, %d): %d bytes that no body sealed here holds", rg[0], rg[1], n)
			}
		}
	})
}
