package s3crypt_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/s3crypt"
)

// discardAPI stores nothing: PutObject and UploadPart read the body and
// drop it, so a test measures what Put itself allocates.
type discardAPI struct {
	s3crypt.API // nil: other calls panic
}

func (discardAPI) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	_, err := io.Copy(io.Discard, in.Body)
	return &s3.PutObjectOutput{ETag: aws.String(memETag)}, err
}

func (discardAPI) CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String("upload-1")}, nil
}

func (discardAPI) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	_, err := io.Copy(io.Discard, in.Body)
	return &s3.UploadPartOutput{ETag: aws.String(memETag)}, err
}

func (discardAPI) CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return &s3.CompleteMultipartUploadOutput{ETag: aws.String(memETag)}, nil
}

// putAllocs returns the bytes allocated per Put of size bytes, averaged
// over n Puts after one to warm up.
func putAllocs(t *testing.T, c *s3crypt.Client, size, n int, withLength bool) uint64 {
	t.Helper()
	pt := randomBytes(size, 1)
	put := func() {
		in := &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("small"), Body: bytes.NewReader(pt)}
		if withLength {
			in.ContentLength = aws.Int64(int64(size))
		}
		if _, err := c.Put(context.Background(), in, testContext); err != nil {
			t.Fatal(err)
		}
	}
	put()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		put()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

// A 4 KiB object is stored from a buffer sized to it, not from a part
// buffer of the default 8 MiB part size, whether its length is declared
// or not.
func TestPutSmallObjectAllocs(t *testing.T) {
	c, err := s3crypt.New(discardAPI{}, rawAESClient(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, withLength := range []bool{true, false} {
		per := putAllocs(t, c, 4<<10, 50, withLength)
		t.Logf("ContentLength set %v: %d bytes allocated per 4 KiB Put", withLength, per)
		if per >= 256<<10 {
			t.Errorf("ContentLength set %v: a 4 KiB Put allocated %d bytes, want < 256 KiB", withLength, per)
		}
	}
}

// Consecutive multipart Puts of one Client reuse its part buffers instead
// of allocating (and zeroing) one per part. sync.Pool drops some buffers
// under the race detector, hence a bound of two parts, not zero.
func TestPutReusesPartBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random; run without -race")
	}
	c, err := s3crypt.New(discardAPI{}, rawAESClient(t), s3crypt.WithPartSize(s3crypt.MinPartSize))
	if err != nil {
		t.Fatal(err)
	}
	for _, withLength := range []bool{true, false} {
		per := putAllocs(t, c, 3*s3crypt.MinPartSize-1000, 5, withLength) // 3 parts
		t.Logf("ContentLength set %v: %d bytes allocated per 3-part Put", withLength, per)
		if per >= 2*s3crypt.MinPartSize {
			t.Errorf("ContentLength set %v: a 3-part Put allocated %d bytes, want < 2 parts of %d", withLength, per, s3crypt.MinPartSize)
		}
	}
}

// One Client's Puts, one after another and at once, of sizes that take
// every buffer path (exact, doubling from 64 KiB, whole parts reused from
// earlier Puts), store exactly their plaintext.
func TestPutBufferPathsRoundTrip(t *testing.T) {
	api := fakeS3(t)
	c := newClient(t, api, s3crypt.WithPartConcurrency(2))
	ctx := context.Background()
	put := func(t *testing.T, key string, size int, unknown bool, seed uint64) {
		data := randomBytes(size, seed)
		var r io.Reader = bytes.NewReader(data)
		n := int64(size)
		if unknown {
			r, n = onlyReader{r}, -1
		}
		if _, err := c.Put(ctx, putIn(testBucket, key, r, n), testContext); err != nil {
			t.Fatal(err)
		}
		got, _, err := getAll(t, c, testBucket, key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: Get returned %d bytes that differ from the %d put", key, len(got), size)
		}
	}
	sizes := []struct {
		size    int
		unknown bool
	}{
		{11*MiB + 3, true}, {4096, false}, {300 << 10, true}, {5*MiB + 1, false}, {64<<10 - 100, true},
		{5*MiB - 1000, true}, {11*MiB + 3, false}, {100, true}, {0, false},
	}
	for i, s := range sizes {
		put(t, fmt.Sprintf("seq-%d", i), s.size, s.unknown, uint64(i))
	}
	t.Run("concurrent", func(t *testing.T) {
		for i, s := range sizes[:4] {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				put(t, fmt.Sprintf("par-%d", i), s.size, s.unknown, uint64(100+i))
			})
		}
	})
}
