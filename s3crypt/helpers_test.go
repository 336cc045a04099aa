package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/s3test"
	"github.com/phicrypt/phicrypt/keyring"
	"github.com/phicrypt/phicrypt/s3crypt"
)

const testBucket = "phicrypt-test"

// fakeS3 returns an S3 client of a gofakes3 server in this process, over
// plain HTTP on loopback, with testBucket created.
func fakeS3(t testing.TB) *s3.Client {
	t.Helper()
	api := s3test.Fake(t).Client
	if _, err := api.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatal(err)
	}
	return api
}

// fakeClient returns a Client, and the S3 client it uses, with the smallest part size over an S3
// client NewS3Client makes from cfg (credentials, if unset, the server's),
// pointed at a new in-process server with testBucket created.
func fakeClient(t testing.TB, cfg aws.Config) (*s3crypt.Client, *s3.Client) {
	t.Helper()
	srv := s3test.Fake(t)
	cfg.Region = s3test.Region
	if cfg.Credentials == nil {
		cfg.Credentials = srv.Client.Options().Credentials
	}
	api, err := s3crypt.NewS3Client(cfg, endpointOpt(srv.Endpoint))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatal(err)
	}
	c, err := s3crypt.New(api, rawAESClient(t), s3crypt.WithPartSize(s3crypt.MinPartSize))
	if err != nil {
		t.Fatal(err)
	}
	return c, api
}

// realS3 returns an S3 client of the server scripts/s3-server.sh started
// (versitygw over TLS) and a new bucket on it, or skips.
func realS3(t testing.TB) (*s3.Client, string) {
	t.Helper()
	s := s3test.Real(t)
	return s.Client, s.Bucket(t, "phicrypt-it")
}

func rawAESClient(t testing.TB, opts ...envelope.ClientOption) *envelope.Client {
	t.Helper()
	kr, err := keyring.NewRawAES("phicrypt-test", "wrapping-key-1", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.New(kr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(b)
	return b
}

// onlyReader hides every method but Read, so Put cannot learn the size.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

var errInjected = errors.New("injected failure")

// failingReader returns n bytes of data, then errInjected.
type failingReader struct {
	data []byte
	n    int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errInjected
	}
	k := copy(p[:min(len(p), f.n)], f.data)
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

// countingAPI wraps an API, counting calls and GET bytes and failing the
// UploadPart of part failPart (0: none).
type countingAPI struct {
	s3crypt.API
	failPart int32

	mu        sync.Mutex
	partSizes map[int32]int64
	gets      atomic.Int64
	getBytes  atomic.Int64
	aborts    atomic.Int64
	puts      atomic.Int64
}

func (c *countingAPI) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	c.puts.Add(1)
	return c.API.PutObject(ctx, in, o...)
}

func (c *countingAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	c.mu.Lock()
	if c.partSizes == nil {
		c.partSizes = map[int32]int64{}
	}
	c.partSizes[*in.PartNumber] = *in.ContentLength
	c.mu.Unlock()
	if *in.PartNumber == c.failPart {
		return nil, errInjected
	}
	return c.API.UploadPart(ctx, in, o...)
}

func (c *countingAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	c.aborts.Add(1)
	return c.API.AbortMultipartUpload(ctx, in, o...)
}

func (c *countingAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := c.API.GetObject(ctx, in, o...)
	if err == nil {
		c.gets.Add(1)
		c.getBytes.Add(aws.ToInt64(out.ContentLength))
	}
	return out, err
}

// assertNoUpload checks that key has no object and bucket no multipart
// upload in progress.
func assertNoUpload(t *testing.T, api *s3.Client, bucket, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key}); err == nil {
		t.Errorf("object %s exists after a failed Put", key)
	}
	ups, err := api.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after a failed Put", len(ups.Uploads))
	}
}

// putIn is the PutObjectInput of size bytes of r (-1: unknown) to
// bucket/key.
func putIn(bucket, key string, r io.Reader, size int64) *s3.PutObjectInput {
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: r}
	if size >= 0 {
		in.ContentLength = aws.Int64(size)
	}
	return in
}

func getIn(bucket, key string) *s3.GetObjectInput {
	return &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
}

func headIn(bucket, key string) *s3.HeadObjectInput {
	return &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
}
