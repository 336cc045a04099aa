package main_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// slowReader yields its data, then holds the reader for a pause before EOF,
// as a slow upstream pipe would.
type slowReader struct {
	data  []byte
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		return n, nil
	}
	if s.pause > 0 {
		time.Sleep(s.pause) // the upstream is slow: this is the input, not synchronization
		s.pause = 0
	}
	return 0, io.EOF
}

// TestProgressLines: with stderr not a terminal, progress reaches it as
// plain lines (auto and lines); --progress none and --quiet print none.
func TestProgressLines(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	enc := func(args ...string) result {
		t.Helper()
		in := &slowReader{data: bytes.Repeat([]byte("x"), 100<<10), pause: 600 * time.Millisecond}
		return mustRun(t, dir, in, nil, append(append([]string{"encrypt", "--key", key, "--progress-interval", "100ms"}, args...), "-", "-")...)
	}
	for _, mode := range []string{"auto", "lines"} {
		r := enc("--progress", mode)
		if !strings.Contains(r.stderr, "s3crypt: progress: 0/1 inputs done (0 failed, 0 skipped), 100.0 KiB read, ") {
			t.Errorf("--progress %s: no progress line on stderr:\n%s", mode, r.stderr)
		}
		if strings.Contains(r.stderr, "\r") {
			t.Errorf("--progress %s: a bar's carriage return in a log:\n%q", mode, r.stderr)
		}
	}
	for _, args := range [][]string{{"--progress", "none"}, {"--quiet"}} {
		if r := enc(args...); strings.Contains(r.stderr, "progress") {
			t.Errorf("%v: progress printed:\n%s", args, r.stderr)
		}
	}
	for _, bad := range [][]string{{"--progress", "fancy"}, {"--progress-interval", "0s"}} {
		if r := run(t, dir, nil, nil, append([]string{"encrypt", "--key", key}, append(bad, "-", "-")...)...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", bad, r.code, r.stderr)
		}
	}
}
