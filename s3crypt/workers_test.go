package s3crypt_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/s3crypt"
	"github.com/phicrypt/phicrypt/stream"
)

// TestGetSmallObjectSerial: Get opens an object smaller than
// stream.MinParallel in the calling goroutine alone, whatever the workers,
// where a pipeline would cost more than it saves; a larger one through
// the pipeline.
func TestGetSmallObjectSerial(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	c := newClient(t, api)
	for _, size := range []int{stream.MinParallel - 64<<10, 2 * stream.MinParallel} {
		data := randomBytes(size, uint64(size))
		key := strings.Repeat("k", 1+size%7)
		eopts := s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(64<<10))
		if _, err := c.Put(ctx, putIn(testBucket, key, bytes.NewReader(data), int64(size)), testContext, eopts); err != nil {
			t.Fatal(err)
		}
		testkit.SettlePipelines() // Put's pipelines end first
		r, err := c.Get(ctx, getIn(testBucket, key), s3crypt.WithDecryptOptions(envelope.WithFrameWorkers(2)))
		if err != nil {
			t.Fatal(err)
		}
		before := testkit.Pipelines()
		head := make([]byte, 1000)
		if _, err := io.ReadFull(r, head); err != nil {
			t.Fatal(err)
		}
		started := testkit.Pipelines() - before
		rest, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(append(head, rest...), data) {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if small := size < stream.MinParallel; small && started > 0 || !small && started < 1 {
			t.Errorf("%d bytes, 2 workers: %d pipeline goroutines started (%d before)", size, started, before)
		}
	}
}
