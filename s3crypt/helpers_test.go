package s3crypt_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/s3crypt"
)

const testBucket = "phicrypt-test"

// fakeS3 returns an S3 client of a gofakes3 server in this process, over
// plain HTTP on loopback, with testBucket created.
func fakeS3(t testing.TB) *s3.Client {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKTEST", "test-secret", ""),
		HTTPClient:  srv.Client(),
	}
	api, err := s3crypt.NewS3Client(context.Background(), cfg, srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatal(err)
	}
	return api
}

// realS3 returns an S3 client of the server scripts/s3-server.sh started
// (versitygw over TLS) and a new bucket on it, or skips.
func realS3(t testing.TB) (*s3.Client, string) {
	t.Helper()
	endpoint := os.Getenv("PHICRYPT_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("set PHICRYPT_S3_ENDPOINT (bash scripts/test.sh starts versitygw)")
	}
	pool := x509.NewCertPool()
	if ca := os.Getenv("PHICRYPT_S3_CA"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("no certificate in %s", ca)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 32
	cfg := aws.Config{
		Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(
			os.Getenv("PHICRYPT_S3_ACCESS_KEY"), os.Getenv("PHICRYPT_S3_SECRET_KEY"), ""),
		HTTPClient: &http.Client{Transport: tr},
	}
	api, err := s3crypt.NewS3Client(context.Background(), cfg, endpoint, true)
	if err != nil {
		t.Fatal(err)
	}
	bucket := fmt.Sprintf("phicrypt-it-%016x", rand.Uint64())
	if _, err := api.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	return api, bucket
}

func rawAESClient(t testing.TB, opts ...envelope.Option) *envelope.Client {
	t.Helper()
	kr, err := envelope.NewRawAESKeyring("phicrypt-test", "wrapping-key-1", bytes.Repeat([]byte{7}, 32))
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
