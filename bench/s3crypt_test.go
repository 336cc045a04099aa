package bench

// BenchmarkS3/{upload,download}/{plain,s3crypt/suite=X}/size=256MiB
//
// s3crypt Put and Get of 256 MiB against the plain aws-sdk-go-v2 upload
// (multipart, the same part size and concurrency) and GetObject of the same
// bytes, to the same server in the same run. The server is the one
// $PHICRYPT_S3_ENDPOINT names (versitygw over TLS, started by
// scripts/s3-server.sh), else gofakes3 over loopback HTTP.
// The targets (bench/doc.go): upload ≥ 0.90 × plain (0x0478) and ≥ 0.80 ×
// (0x0578), download ≥ 0.90 ×.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/s3test"
	"github.com/phicrypt/phicrypt/s3crypt"
)

const s3BenchSize = 256 * MiB

func BenchmarkS3(b *testing.B) {
	api, bucket := benchS3(b)
	ctx := context.Background()
	pt := payload(s3BenchSize)
	name := "size=" + sizeName(s3BenchSize)
	ec := map[string]string{"purpose": "benchmark"}
	suites := []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384}
	clients := map[envelope.SuiteID]*s3crypt.Client{}
	for _, s := range suites {
		c, err := s3crypt.New(api, newClient(b, s, 64*KiB, 0))
		if err != nil {
			b.Fatal(err)
		}
		clients[s] = c
	}
	s3cryptName := func(s envelope.SuiteID) string { return fmt.Sprintf("s3crypt/suite=%04x/%s", uint16(s), name) }

	b.Run("upload/plain/"+name, func(b *testing.B) {
		setBytes(b, len(pt))
		for b.Loop() {
			if err := plainUpload(ctx, api, bucket, "plain", pt); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, s := range suites {
		b.Run("upload/"+s3cryptName(s), func(b *testing.B) {
			setBytes(b, len(pt))
			for b.Loop() {
				in := &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(fmt.Sprintf("enc-%04x", uint16(s))),
					Body: bytes.NewReader(pt), ContentLength: aws.Int64(int64(len(pt)))}
				if _, err := clients[s].Put(ctx, in, ec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("download/plain/"+name, func(b *testing.B) {
		if err := plainUpload(ctx, api, bucket, "plain", pt); err != nil {
			b.Fatal(err)
		}
		setBytes(b, len(pt))
		for b.Loop() {
			out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("plain")})
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, out.Body)
			out.Body.Close()
			if err != nil || n != int64(len(pt)) {
				b.Fatalf("GetObject: %d bytes, %v", n, err)
			}
		}
	})
	for _, s := range suites {
		b.Run("download/"+s3cryptName(s), func(b *testing.B) {
			key := fmt.Sprintf("enc-%04x", uint16(s))
			in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(pt), ContentLength: aws.Int64(int64(len(pt)))}
			if _, err := clients[s].Put(ctx, in, ec); err != nil {
				b.Fatal(err)
			}
			setBytes(b, len(pt))
			for b.Loop() {
				r, err := clients[s].Get(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
				if err != nil {
					b.Fatal(err)
				}
				n, err := r.WriteTo(io.Discard)
				r.Close()
				if err != nil || n != int64(len(pt)) {
					b.Fatalf("Get: %d bytes, %v", n, err)
				}
			}
		})
	}
}

// plainUpload stores data as bucket/key the way a careful caller of the
// plain SDK would: a multipart upload of s3crypt's default part size with
// its default number of parts in flight.
func plainUpload(ctx context.Context, api *s3.Client, bucket, key string, data []byte) error {
	mu, err := api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return err
	}
	nparts := (len(data) + s3crypt.DefaultPartSize - 1) / s3crypt.DefaultPartSize
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s3crypt.DefaultPartConcurrency)
	for i := range nparts {
		part := data[i*s3crypt.DefaultPartSize : min(len(data), (i+1)*s3crypt.DefaultPartSize)]
		g.Go(func() error {
			out, err := api.UploadPart(gctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: mu.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part)))})
			if err != nil {
				return err
			}
			parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		_, _ = api.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: mu.UploadId})
		return err
	}
	_, err = api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: mu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// benchS3 returns a client of the S3 server of $PHICRYPT_S3_ENDPOINT (see
// scripts/s3-server.sh) or of a gofakes3 (s3test.Fake), and a bucket that
// every run reuses, so runs do not pile up 256 MiB objects.
func benchS3(b *testing.B) (*s3.Client, string) {
	var srv *s3test.Server
	if os.Getenv(s3test.EndpointEnv) != "" {
		srv = s3test.Real(b)
	} else {
		srv = s3test.Fake(b, s3test.WithoutVersioning)
	}
	bucket := "phicrypt-bench"
	if _, err := srv.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		if !errors.As(err, &owned) {
			b.Fatal(err)
		}
	}
	return srv.Client, bucket
}

// BenchmarkS3SmallObjects/size=4KiB: s3crypt Put of one 4 KiB object with
// its ContentLength declared (as the CLI's bucket jobs do), default part
// size, to the server benchS3 names. B/op is the memory allocated per
// object: a buffer sized to the object, not an 8 MiB part buffer. Run with
// -benchtime=1000x for the 1,000-object figure.
func BenchmarkS3SmallObjects(b *testing.B) {
	api, bucket := benchS3(b)
	ctx := context.Background()
	const size = 4 * KiB
	pt := payload(size)
	c, err := s3crypt.New(api, newClient(b, envelope.AES256GCMHKDFSHA512Commit, 64*KiB, 0))
	if err != nil {
		b.Fatal(err)
	}
	ec := map[string]string{"purpose": "benchmark"}
	b.Run("size="+sizeName(size), func(b *testing.B) {
		b.ReportAllocs()
		setBytes(b, size)
		i := 0
		for b.Loop() {
			i++
			in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("small/%d", i%1000)),
				Body: bytes.NewReader(pt), ContentLength: aws.Int64(size)}
			if _, err := c.Put(ctx, in, ec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
