package iocheck

import (
	"errors"
	"io"
	"testing"
)

type says struct {
	n   int
	err error
}

func (s says) Read(p []byte) (int, error) { return s.n, s.err }

func TestRead(t *testing.T) {
	p := make([]byte, 8)
	for _, c := range []struct {
		n    int
		err  error
		want int
		is   error
	}{
		{0, io.EOF, 0, io.EOF},
		{8, nil, 8, nil},
		{3, io.EOF, 3, io.EOF},
		{-1, nil, 0, io.ErrShortBuffer},
		{9, nil, 0, io.ErrShortBuffer},
		{9, io.EOF, 0, io.ErrShortBuffer},
	} {
		n, err := (&Reader{R: says{c.n, c.err}}).Read(p)
		if n != c.want || !errors.Is(err, c.is) || (c.is == nil) != (err == nil) {
			t.Errorf("source says %d, %v: got %d, %v; want %d, %v", c.n, c.err, n, err, c.want, c.is)
		}
	}
	r := &Reader{R: says{0, nil}}
	for i := 1; i < MaxEmptyReads; i++ {
		if _, err := r.Read(p); err != nil {
			t.Fatalf("empty Read %d: %v", i, err)
		}
	}
	if _, err := r.Read(p); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("empty Read %d: %v, want io.ErrNoProgress", MaxEmptyReads, err)
	}
	// Progress resets the count.
	r = &Reader{R: says{0, nil}}
	for range MaxEmptyReads - 1 {
		r.Read(p)
	}
	r.R = says{1, nil}
	r.Read(p)
	r.R = says{0, nil}
	if _, err := r.Read(p); err != nil {
		t.Fatalf("an empty Read after progress: %v", err)
	}
}

type writes struct {
	n   int
	err error
}

func (w writes) Write(p []byte) (int, error) { return w.n, w.err }

func TestWrite(t *testing.T) {
	p := make([]byte, 8)
	failed := errors.New("disk full")
	for _, c := range []struct {
		n    int
		err  error
		want int
		is   error
	}{
		{8, nil, 8, nil},
		{3, failed, 3, failed},
		{3, nil, 3, io.ErrShortWrite},
		{0, nil, 0, io.ErrShortWrite},
		{-1, nil, 0, io.ErrShortWrite},
		{9, nil, 0, io.ErrShortWrite},
		{-1, failed, 0, io.ErrShortWrite},
	} {
		n, err := Write(writes{c.n, c.err}, p)
		if n != c.want || !errors.Is(err, c.is) || (c.is == nil) != (err == nil) {
			t.Errorf("destination says %d, %v: got %d, %v; want %d, %v", c.n, c.err, n, err, c.want, c.is)
		}
	}
	if n, err := Write(writes{0, nil}, nil); n != 0 || err != nil {
		t.Errorf("an empty Write: %d, %v", n, err)
	}
}
