package envelope_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/stream"
)

// TestStreamsShareBuffers: the streams of one Client, and of the Clients
// With derives from it, reuse each other's buffers (see stream.Buffers).
// Streams encrypted and decrypted through io.Copy one after another and
// on 8 goroutines at once, with frame lengths, worker counts and suites
// that differ, each decrypt to their own plaintext, through a stream and
// in one call; a tampered one fails and a stream after it is unharmed.
func TestStreamsShareBuffers(t *testing.T) {
	ctx := context.Background()
	base := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit)
	type job struct {
		frame, workers, size int
		suite                envelope.SuiteID
		tamper               bool
	}
	var jobs []job
	for _, frame := range []int{4096, 64 << 10} {
		for _, workers := range []int{1, 2, 3} {
			for _, size := range []int{100, 3*frame + 1, 3 << 20} {
				jobs = append(jobs, job{frame, workers, size, envelope.AES256GCMHKDFSHA512Commit, size > 1<<20})
			}
			jobs = append(jobs, job{frame, workers, 1 << 20, envelope.AES256GCMHKDFSHA512CommitP384, false})
		}
	}
	pt := testPlaintext(3 << 20)
	ec := map[string]string{"tenant": "t-1"}
	run := func(j job) error {
		c, err := base.With(envelope.WithFrameWorkers(j.workers))
		if err != nil {
			return err
		}
		var ct bytes.Buffer
		w, err := c.NewEncryptWriter(ctx, &ct, ec, envelope.WithFrameLength(j.frame), envelope.WithSuite(j.suite))
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, struct{ io.Reader }{bytes.NewReader(pt[:j.size])}); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		one, _, err := c.Decrypt(ctx, ct.Bytes())
		if err != nil || !bytes.Equal(one, pt[:j.size]) {
			return fmt.Errorf("%+v: one-shot decrypt: %v", j, err)
		}
		msg := ct.Bytes()
		if j.tamper {
			msg = bytes.Clone(msg)
			msg[len(msg)/2] ^= 1
		}
		r, err := c.NewDecryptReader(ctx, bytes.NewReader(msg))
		if err != nil {
			return err
		}
		var got bytes.Buffer
		_, err = io.Copy(struct{ io.Writer }{&got}, r)
		switch {
		case j.tamper && err == nil:
			return fmt.Errorf("%+v: a tampered message decrypted", j)
		case !j.tamper && (err != nil || !bytes.Equal(got.Bytes(), pt[:j.size])):
			return fmt.Errorf("%+v: stream decrypt: %v", j, err)
		}
		return nil
	}
	for _, j := range jobs {
		if err := run(j); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(jobs))
	sem := make(chan struct{}, 8)
	for i := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := run(jobs[len(jobs)-1-i]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSmallDeclaredStreamSerial: a stream declared (WithPlaintextLength)
// under stream.MinParallel is sealed by the caller alone, whatever the
// workers, where a pipeline would cost more than it saves; an undeclared
// one of the same length starts one.
func TestSmallDeclaredStreamSerial(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameWorkers(2))
	pt := testPlaintext(stream.MinParallel - 1)
	testkit.SettlePipelines()
	for _, declared := range []bool{false, true} {
		opts := []envelope.EncryptOption{envelope.WithFrameLength(64 << 10)}
		if declared {
			opts = append(opts, envelope.WithPlaintextLength(int64(len(pt))))
		}
		var ct bytes.Buffer
		w, err := c.NewEncryptWriter(ctx, &ct, nil, opts...)
		if err != nil {
			t.Fatal(err)
		}
		before := testkit.Pipelines()
		if _, err := w.Write(pt); err != nil {
			t.Fatal(err)
		}
		started := testkit.Pipelines() - before
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got, _, err := c.Decrypt(ctx, ct.Bytes()); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("declared %v: %v", declared, err)
		}
		if declared && started > 0 || !declared && started < 1 {
			t.Errorf("declared %v: %d pipeline goroutines started writing %d bytes with 2 workers", declared, started, len(pt))
		}
	}
}

// TestSmallKnownSourceSerial: NewDecryptReader opens a message its source
// tells the length of (an in-memory reader's Len, a regular file's size)
// in the calling goroutine alone when it is under stream.MinParallel,
// whatever the workers; through the pipeline when it is larger or the
// source does not tell.
func TestSmallKnownSourceSerial(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512Commit, envelope.WithFrameWorkers(2))
	testkit.SettlePipelines()
	small := testPlaintext(stream.MinParallel - 64<<10)
	big := testPlaintext(2 * stream.MinParallel)
	encrypt := func(pt []byte) []byte {
		ct, err := c.Encrypt(ctx, pt, nil, envelope.WithFrameLength(64<<10))
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	smallCT, bigCT := encrypt(small), encrypt(big)
	file := filepath.Join(t.TempDir(), "small.enc")
	if err := os.WriteFile(file, smallCT, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		name     string
		src      io.Reader
		pt       []byte
		pipeline bool
	}{
		{"bytes.Reader, small", bytes.NewReader(smallCT), small, false},
		{"file, small", f, small, false},
		{"plain reader, small", struct{ io.Reader }{bytes.NewReader(smallCT)}, small, true},
		{"bytes.Reader, large", bytes.NewReader(bigCT), big, true},
	} {
		before := testkit.Pipelines()
		r, err := c.NewDecryptReader(ctx, tc.src)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 1000)
		if _, err := io.ReadFull(r, head); err != nil {
			t.Fatal(err)
		}
		started := testkit.Pipelines() - before
		rest, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(append(head, rest...), tc.pt) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.pipeline && started < 1 || !tc.pipeline && started > 0 {
			t.Errorf("%s: %d pipeline goroutines started, 2 workers", tc.name, started)
		}
		for i := 0; i < 100 && testkit.Pipelines() > before; i++ {
			time.Sleep(5 * time.Millisecond) // the pipeline ends at io.EOF
		}
	}
}
