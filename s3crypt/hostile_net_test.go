package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/phicrypt/phicrypt/internal/endpoint/endpointtest"
	"github.com/phicrypt/phicrypt/internal/s3test"
	"github.com/phicrypt/phicrypt/s3crypt"
)

func pathStyle(o *s3.Options) { o.UsePathStyle = true }

// endpointOpt points a client at a path-style endpoint.
func endpointOpt(u string) func(*s3.Options) {
	return func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(u), true }
}

// Attack: AWS_ENDPOINT_URL_S3 or endpoint_url in the shared config file
// sends objects and signed requests over plain http to a remote host;
// only an explicit endpoint argument was checked.
func TestHostileEndpointFromConfig(t *testing.T) {
	for _, src := range endpointtest.Sources("s3") {
		t.Run(src.Name, func(t *testing.T) {
			endpointtest.Isolate(t, "s3", &src)
			hc := &endpointtest.CountingClient{}
			c, err := s3crypt.NewS3Client(endpointtest.LoadConfig(t, s3test.Region, hc))
			if !errors.Is(err, s3crypt.ErrInsecureEndpoint) {
				t.Fatalf("NewS3Client = %v, want ErrInsecureEndpoint", err)
			}
			if c != nil || hc.N.Load() != 0 {
				t.Fatalf("client %v, %d requests sent", c, hc.N.Load())
			}
		})
	}
}

// Attack: a per-call option points an already checked client at plain
// http on a remote host.
func TestHostileEndpointAtRequest(t *testing.T) {
	endpointtest.Isolate(t, "s3", nil)
	hc := &endpointtest.CountingClient{}
	c, err := s3crypt.NewS3Client(endpointtest.LoadConfig(t, s3test.Region, hc), pathStyle)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")},
		func(o *s3.Options) { o.BaseEndpoint = aws.String(endpointtest.Remote) })
	if !errors.Is(err, s3crypt.ErrInsecureEndpoint) {
		t.Fatalf("GetObject = %v, want ErrInsecureEndpoint", err)
	}
	if n := hc.N.Load(); n != 0 {
		t.Fatalf("%d requests reached the HTTP client", n)
	}
}

// A loopback endpoint from the environment still works.
func TestEndpointFromConfigLoopback(t *testing.T) {
	endpointtest.Isolate(t, "s3", nil)
	srv := s3test.Fake(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	c, err := s3crypt.NewS3Client(endpointtest.LoadConfig(t, s3test.Region, http.DefaultClient), pathStyle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("from-env")}); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the SDK's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Noise: every ranged GET logged "Response has no supported checksum" to
// the config's logger (stderr by default), burying real errors.
func TestHostileChecksumLogNoise(t *testing.T) {
	var log syncBuffer
	c, _ := fakeClient(t, aws.Config{
		Logger: logging.NewStandardLogger(&log),
		// config.LoadDefaultConfig's default, which validates (and logs).
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
	ctx := context.Background()
	data := randomBytes(2*s3crypt.MinPartSize, 13)
	if _, err := c.Put(ctx, putIn(testBucket, "noise", bytes.NewReader(data), int64(len(data))), nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(ctx, getIn(testBucket, "noise"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %v, %d bytes back", err, len(got))
	}
	if s := log.String(); strings.Contains(s, "checksum") {
		t.Fatalf("SDK logged checksum noise:\n%.500s", s)
	}
}
