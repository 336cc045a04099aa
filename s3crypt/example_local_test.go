package s3crypt_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/s3test"
	"github.com/phicrypt/phicrypt/keyring"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// Store a file encrypted and stream it back. Get authenticates the header
// and every frame before returning their bytes; WithExpectedContext makes
// it refuse an object written for another tenant, so a service reading on
// a tenant's behalf cannot be handed someone else's object.
func ExampleClient_Get() {
	ctx := context.Background()
	api, stop := exampleS3("phi-bucket")
	defer stop()
	c, err := s3crypt.New(api, exampleEnvelope())
	if err != nil {
		log.Fatal(err)
	}

	ec := map[string]string{"tenant": "clinic-7"}
	res, err := c.Put(ctx, &s3.PutObjectInput{
		Bucket: aws.String("phi-bucket"),
		Key:    aws.String("lab/results.csv"),
		Body:   strings.NewReader("patient,test,value\nP000017,HbA1c,5.4\n"), // a file in practice
	}, ec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("put %d plaintext bytes, multipart: %v\n", res.PlaintextLength, res.Parts > 0)

	r, err := c.Get(ctx, &s3.GetObjectInput{
		Bucket: aws.String("phi-bucket"),
		Key:    aws.String("lab/results.csv"),
	}, s3crypt.WithExpectedContext(ec))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close() // stops the read-ahead GETs
	// Only a nil error at the end means the whole object verified.
	if _, err := io.Copy(os.Stdout, r); err != nil {
		log.Fatal(err)
	}
	// Output:
	// put 37 plaintext bytes, multipart: false
	// patient,test,value
	// P000017,HbA1c,5.4
}

// Read a byte range of a large object: Open fetches the header once, then
// ReadAt fetches only the frames that hold the range (ranged GETs) and
// authenticates each. Random access needs an unsigned suite, since a
// signature covers the whole object, so the object is written with the
// committing, unsigned suite.
func ExampleClient_Open() {
	ctx := context.Background()
	api, stop := exampleS3("phi-bucket")
	defer stop()
	c, err := s3crypt.New(api, exampleEnvelope())
	if err != nil {
		log.Fatal(err)
	}

	// 1,000,000 bytes: "0123456789" repeated.
	body := strings.NewReader(strings.Repeat("0123456789", 100000))
	_, err = c.Put(ctx, &s3.PutObjectInput{
		Bucket: aws.String("phi-bucket"),
		Key:    aws.String("imaging/study.bin"),
		Body:   body,
	}, nil, s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit)))
	if err != nil {
		log.Fatal(err)
	}

	ra, err := c.Open(ctx, &s3.GetObjectInput{
		Bucket: aws.String("phi-bucket"),
		Key:    aws.String("imaging/study.bin"),
	})
	if err != nil {
		log.Fatal(err)
	}
	// ra is an io.ReaderAt: io.NewSectionReader or archive/zip can use it.
	buf := make([]byte, 12)
	if _, err := ra.ReadAt(buf, 700_005); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes; at 700005: %s\n", ra.Size(), buf)
	// Output: 1000000 bytes; at 700005: 567890123456
}

// exampleEnvelope returns an envelope Client over a raw AES keyring with a
// random key. A service would use an AWS KMS keyring (keyring/kms).
func exampleEnvelope() *envelope.Client {
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.NewRawAES("example", "wrapping-key-1", key)
	if err != nil {
		log.Fatal(err)
	}
	enc, err := envelope.New(kr)
	if err != nil {
		log.Fatal(err)
	}
	return enc
}

// exampleS3 returns a client of a new in-memory S3 server (the fake the
// tests use, on loopback) with bucket created, and a func that stops the
// server. Against AWS, the client is s3crypt.NewS3Client(cfg) with the cfg
// of config.LoadDefaultConfig.
func exampleS3(bucket string) (*s3.Client, func()) {
	tb := &exampleTB{}
	api := s3test.Fake(tb).Client
	if _, err := api.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		log.Fatal(err)
	}
	return api, tb.cleanup
}

// exampleTB is the s3test.TB of an example, which has no *testing.T: a
// failure ends the test binary, and cleanup runs the Cleanup functions.
type exampleTB struct{ cleanups []func() }

func (*exampleTB) Helper()                           {}
func (t *exampleTB) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (*exampleTB) Fatal(args ...any)                 { log.Fatal(args...) }
func (*exampleTB) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }
func (*exampleTB) Skip(args ...any)                  { log.Fatal(args...) }

func (t *exampleTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
