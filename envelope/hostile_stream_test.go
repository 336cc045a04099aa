package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// skipReader returns n bytes without writing them: a message body that
// holds nothing in memory.
type skipReader struct{ n int64 }

func (s *skipReader) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), s.n))
	s.n -= int64(k)
	return k, nil
}

// hugeFrameHeader returns the authentic header of an unsigned message with
// frame length 2^32-1, followed by the sequence number and IV of frame 1.
func hugeFrameHeader(t *testing.T, c *envelope.Client) []byte {
	t.Helper()
	ct := mustEncrypt(t, c, nil, nil, envelope.WithFrameLength(math.MaxUint32))
	return append(ct[:h0Len(t, ct)], 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
}

// streamAlloc decrypts hdr and then n body bytes through a DecryptReader
// and returns the bytes allocated meanwhile and the error.
func streamAlloc(c *envelope.Client, hdr []byte, n int64, opts ...envelope.DecryptOption) (uint64, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := c.NewDecryptReader(context.Background(), io.MultiReader(bytes.NewReader(hdr), &skipReader{n}), opts...)
	if err == nil {
		_, err = io.Copy(io.Discard, r)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// TestHostileFrameLengthStreaming: a header declaring 4 GiB frames followed
// by 256 MiB must be refused by default before its body is read, and with
// the limit raised memory must follow the bytes received.
func TestHostileFrameLengthStreaming(t *testing.T) {
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	hdr := hugeFrameHeader(t, c)
	n, err := streamAlloc(c, hdr, 256<<20)
	if !errors.Is(err, envelope.ErrFrameTooLong) || !strings.Contains(err.Error(), "WithMaxFrameLength") {
		t.Fatalf("default limit: %v, want ErrFrameTooLong naming WithMaxFrameLength", err)
	}
	if n > 128<<20 {
		t.Fatalf("default limit: %d MiB allocated", n>>20)
	}
	const fed = 64 << 20
	n, err = streamAlloc(c, hdr, fed, envelope.WithMaxFrameLength(math.MaxUint32), envelope.WithFrameWorkers(2))
	if !errors.Is(err, envelope.ErrTruncated) {
		t.Fatalf("raised limit: %v, want ErrTruncated", err)
	}
	if n > fed+fed/8 {
		t.Fatalf("raised limit: %d MiB allocated for %d MiB received", n>>20, fed>>20)
	}
}

// zeroReaderAt is a message of size bytes: hdr, then zeros.
type zeroReaderAt struct {
	hdr  []byte
	size int64
}

func (z zeroReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.size-off)]
	clear(p)
	if off < int64(len(z.hdr)) {
		copy(p, z.hdr[off:])
	}
	return len(p), nil
}

// TestHostileFrameLengthReaderAt: random access to a message of 4 GiB
// frames, which would allocate a whole frame to read one byte, is refused
// by default.
func TestHostileFrameLengthReaderAt(t *testing.T) {
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	hdr := hugeFrameHeader(t, c)
	src := zeroReaderAt{hdr, int64(len(hdr)) + math.MaxUint32 + 32 + 41} // one regular frame, a 1-byte final frame
	if _, err := c.NewDecryptReaderAt(context.Background(), src, src.size); !errors.Is(err, envelope.ErrFrameTooLong) {
		t.Fatalf("%v, want ErrFrameTooLong", err)
	}
}

// eofReaderAt returns io.EOF with a read that reaches the end of its
// input, as io.ReaderAt allows.
type eofReaderAt struct{ b []byte }

func (e eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(e.b).ReadAt(p, off)
	if err == nil && off+int64(n) == int64(len(e.b)) {
		err = io.EOF
	}
	return n, err
}

// TestHostileDecryptReaderAtEOFWithLastRead: a source returning (len(p),
// io.EOF) at its end, as io.ReaderAt allows, is read like any other.
func TestHostileDecryptReaderAtEOFWithLastRead(t *testing.T) {
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameLength(100))
	for _, size := range []int{1, 100, 1000} {
		pt := testPlaintext(size)
		ct := mustEncrypt(t, c, pt, nil)
		ra, err := c.NewDecryptReaderAt(context.Background(), eofReaderAt{ct}, int64(len(ct)))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size+1)
		if n, err := ra.ReadAt(got, 0); n != size || err != io.EOF || !bytes.Equal(got[:n], pt) {
			t.Fatalf("size %d: %d bytes, %v", size, n, err)
		}
		if n, err := ra.ReadAt(got[:1], int64(size-1)); n != 1 || err != nil || got[0] != pt[size-1] {
			t.Fatalf("size %d: last byte: %d, %v", size, n, err)
		}
	}
}

// TestMaxFrameLength: the limit applies to the streaming readers only, at
// the boundary, and takes values 1 to 2^32-1.
func TestMaxFrameLength(t *testing.T) {
	kr := aesKeyring(t)
	c := newClient(t, kr, envelope.AES256GCMHKDFSHA512Commit)
	const frame = envelope.DefaultMaxFrameLength + 1
	pt := testPlaintext(10)
	ct := mustEncrypt(t, c, pt, nil, envelope.WithFrameLength(frame))
	if got, _, err := c.Decrypt(context.Background(), ct); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Decrypt: %v", err)
	}
	if _, _, err := decryptStream(c, ct, 0); !errors.Is(err, envelope.ErrFrameTooLong) {
		t.Fatalf("DecryptReader: %v, want ErrFrameTooLong", err)
	}
	if _, err := c.NewDecryptReaderAt(context.Background(), bytes.NewReader(ct), int64(len(ct))); !errors.Is(err, envelope.ErrFrameTooLong) {
		t.Fatalf("DecryptReaderAt: %v, want ErrFrameTooLong", err)
	}
	for _, o := range [][]envelope.DecryptOption{{envelope.WithMaxFrameLength(frame)}, {envelope.WithMaxFrameLength(frame + 1)}} {
		if got, _, err := decryptStream(c, ct, 0, o...); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("DecryptReader, limit raised: %v", err)
		}
		if _, err := c.NewDecryptReaderAt(context.Background(), bytes.NewReader(ct), int64(len(ct)), o...); err != nil {
			t.Fatalf("DecryptReaderAt, limit raised: %v", err)
		}
	}
	if _, _, err := decryptStream(c, ct, 0, envelope.WithMaxFrameLength(frame-1)); !errors.Is(err, envelope.ErrFrameTooLong) {
		t.Fatalf("limit one below: %v, want ErrFrameTooLong", err)
	}
	for _, n := range []int{0, -1, math.MaxUint32 + 1} {
		if _, err := envelope.New(kr, envelope.WithMaxFrameLength(n)); !errors.Is(err, envelope.ErrInvalidOption) {
			t.Errorf("New: maximum frame length %d: %v, want ErrInvalidOption", n, err)
		}
		if _, _, err := decryptStream(c, ct, 0, envelope.WithMaxFrameLength(n)); !errors.Is(err, envelope.ErrInvalidOption) {
			t.Errorf("DecryptReader: maximum frame length %d: %v, want ErrInvalidOption", n, err)
		}
	}
}
