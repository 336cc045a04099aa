package bench

// BenchmarkS3/{upload,upload-file,download}/suite=X/size=256MiB
//
// s3crypt Put and Get of 256 MiB, each iteration timing the plain
// aws-sdk-go-v2 transfer of the same bytes first, to the same server, so
// that a shared machine's drifting load weighs on both alike. The plain
// upload is the SDK's manager.Uploader pattern (a ReaderAt cut into parts
// of s3crypt's default part size, that many in flight): of the bytes in
// memory (upload), or of a file in the page cache, as the CLI uploads
// (upload-file: sections of the *os.File; Put reads the file); the plain download
// its manager.Downloader pattern (ranged GETs of the same size and
// concurrency into one buffer). Units:
//
//	ns/op, MB/s  of the s3crypt call alone
//	x-plain   plain transfer time ÷ s3crypt time (targets: bench/doc.go)
//	x-get     download only: one plain streamed GetObject ÷ s3crypt time
//	x-sha384  suite 0578 only: SHA-384 of the 256 MiB ÷ s3crypt time, the
//	          serial ceiling of a signed message
//
// With $PHICRYPT_S3_PID naming the server (scripts/s3-server.sh exports
// it) on Linux, also the CPU time (user+system) of this process and of the
// server, which share the machine's cores, around each call:
//
//	cpu-s     of the s3crypt call, both processes, per call
//	x-cpu     of the plain transfer ÷ of the s3crypt call
//	x-ceil    the x-plain of an s3crypt call that adds its extra CPU time
//	          with every core busy: plain time ÷ (plain time + extra CPU
//	          time ÷ cores), the machine's limit when the plain transfer
//	          already keeps the cores busy
//
// The server is the one $PHICRYPT_S3_ENDPOINT names (versitygw over TLS,
// started by scripts/s3-server.sh; scripts/bench-s3.sh runs the rows),
// else gofakes3 over loopback HTTP.

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

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
	if err := plainUpload(ctx, api, bucket, "plain", pt); err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, len(pt)) // the plain downloader's buffer, reused
	for _, s := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		c, err := s3crypt.New(api, newClient(b, s, 64*KiB, 0))
		if err != nil {
			b.Fatal(err)
		}
		suite := fmt.Sprintf("suite=%04x/%s", uint16(s), name)
		key := fmt.Sprintf("enc-%04x", uint16(s))
		signed := s == envelope.AES256GCMHKDFSHA512CommitP384
		// upload: the bytes in memory; upload-file: a file in the page
		// cache, as the CLI uploads (the plain uploader sends sections of
		// it, Put reads it through io.Copy).
		for _, fromFile := range []bool{false, true} {
			sub := map[bool]string{false: "upload/", true: "upload-file/"}[fromFile]
			b.Run(sub+suite, func(b *testing.B) {
				var file string
				if fromFile {
					file = tempFile(b, pt)
				}
				var tPlain, tOp, tHash time.Duration
				cpu := newS3CPU()
				setBytes(b, len(pt))
				for b.Loop() {
					tPlain += cpu.timed(&cpu.plain, func() {
						var err error
						if fromFile {
							f := openFile(b, file)
							defer f.Close()
							err = plainUploadFrom(ctx, api, bucket, "plain", f, int64(len(pt)))
						} else {
							err = plainUpload(ctx, api, bucket, "plain", pt)
						}
						if err != nil {
							b.Fatal(err)
						}
					})
					tOp += cpu.timed(&cpu.op, func() {
						var body io.Reader = bytes.NewReader(pt)
						if fromFile {
							f := openFile(b, file)
							defer f.Close()
							body = f
						}
						in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: body, ContentLength: aws.Int64(int64(len(pt)))}
						if _, err := c.Put(ctx, in, ec); err != nil {
							b.Fatal(err)
						}
					})
					if signed && !fromFile {
						tHash += timed(func() { sha512.Sum384(pt) })
					}
				}
				reportOp(b, tOp, len(pt))
				b.ReportMetric(tPlain.Seconds()/tOp.Seconds(), "x-plain")
				cpu.report(b, tPlain)
				if signed && !fromFile {
					b.ReportMetric(tHash.Seconds()/tOp.Seconds(), "x-sha384")
				}
			})
		}
		b.Run("download/"+suite, func(b *testing.B) {
			in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(pt), ContentLength: aws.Int64(int64(len(pt)))}
			if _, err := c.Put(ctx, in, ec); err != nil {
				b.Fatal(err)
			}
			var tPlain, tGet, tOp, tHash time.Duration
			cpu := newS3CPU()
			setBytes(b, len(pt))
			for b.Loop() {
				tPlain += cpu.timed(&cpu.plain, func() {
					if err := plainDownload(ctx, api, bucket, "plain", dst); err != nil {
						b.Fatal(err)
					}
				})
				tGet += timed(func() {
					out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("plain")})
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, out.Body)
					out.Body.Close()
					if err != nil || n != int64(len(pt)) {
						b.Fatalf("GetObject: %d bytes, %v", n, err)
					}
				})
				tOp += cpu.timed(&cpu.op, func() {
					r, err := c.Get(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
					if err != nil {
						b.Fatal(err)
					}
					n, err := r.WriteTo(io.Discard)
					r.Close()
					if err != nil || n != int64(len(pt)) {
						b.Fatalf("Get: %d bytes, %v", n, err)
					}
				})
				if signed {
					tHash += timed(func() { sha512.Sum384(pt) })
				}
			}
			reportOp(b, tOp, len(pt))
			b.ReportMetric(tPlain.Seconds()/tOp.Seconds(), "x-plain")
			b.ReportMetric(tGet.Seconds()/tOp.Seconds(), "x-get")
			cpu.report(b, tPlain)
			if signed {
				b.ReportMetric(tHash.Seconds()/tOp.Seconds(), "x-sha384")
			}
		})
	}
}

// s3CPU sums the CPU time (user+system) this process and the S3 server
// spend in the plain transfers and in the s3crypt calls of a benchmark.
type s3CPU struct {
	server    string // the server's /proc stat file, "" if unknown
	ok        bool   // every reading so far succeeded
	plain, op time.Duration
}

// newS3CPU returns an s3CPU of the server $PHICRYPT_S3_PID names: without
// it, or off Linux, it reports nothing.
func newS3CPU() *s3CPU {
	pid := os.Getenv(s3test.PIDEnv)
	return &s3CPU{server: "/proc/" + pid + "/stat", ok: pid != ""}
}

// timed runs f and returns its wall time, adding the CPU time it took to
// *sum.
func (c *s3CPU) timed(sum *time.Duration, f func()) time.Duration {
	c0 := c.read()
	t := timed(f)
	*sum += c.read() - c0
	return t
}

// read returns the CPU time so far of this process and the server.
func (c *s3CPU) read() time.Duration {
	self, err1 := procCPU("/proc/self/stat")
	srv, err2 := procCPU(c.server)
	if err1 != nil || err2 != nil {
		c.ok = false
	}
	return self + srv
}

// procCPU returns the CPU time in the /proc/PID/stat file name.
func procCPU(name string) (time.Duration, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	return statCPU(string(b))
}

// statCPU returns utime+stime of a /proc/PID/stat line, in clock ticks of
// 10 ms (USER_HZ on Linux). The fields after the command, which ends at
// the last ')' (it may hold one), start with state, field 3; utime and
// stime are fields 14 and 15.
func statCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat %.40q: no command", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("stat %.40q: %d fields after the command", stat, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

// report reports cpu-s, x-cpu and x-ceil (see BenchmarkS3) of b.N calls,
// the plain transfers taking tPlain in all.
func (c *s3CPU) report(b *testing.B, tPlain time.Duration) {
	if !c.ok || c.op <= 0 {
		return
	}
	b.ReportMetric(c.op.Seconds()/float64(b.N), "cpu-s")
	b.ReportMetric(c.plain.Seconds()/c.op.Seconds(), "x-cpu")
	extra := (c.op - c.plain).Seconds() / float64(runtime.NumCPU())
	b.ReportMetric(tPlain.Seconds()/(tPlain.Seconds()+extra), "x-ceil")
}

// reportOp reports the time and throughput of the s3crypt call alone,
// total over b.N iterations of n bytes, in place of the iteration's.
func reportOp(b *testing.B, total time.Duration, n int) {
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(n)*float64(b.N)/1e6/total.Seconds(), "MB/s")
}

// plainDownload reads bucket/key into dst, which must be its size, the
// way the SDK's manager.Downloader does: ranged GETs of s3crypt's default
// part size, its default number in flight.
func plainDownload(ctx context.Context, api *s3.Client, bucket, key string, dst []byte) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s3crypt.DefaultPartConcurrency)
	for off := 0; off < len(dst); off += s3crypt.DefaultPartSize {
		part := dst[off:min(len(dst), off+s3crypt.DefaultPartSize)]
		g.Go(func() error {
			out, err := api.GetObject(gctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key,
				Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+len(part)-1))})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.ReadFull(out.Body, part)
			return err
		})
	}
	return g.Wait()
}

// plainUpload stores data as bucket/key the way the SDK's
// manager.Uploader does with a ReaderAt: a multipart upload declaring
// CRC32 checksums (its default), parts of s3crypt's default part size, its
// default number in flight.
func plainUpload(ctx context.Context, api *s3.Client, bucket, key string, data []byte) error {
	return plainUploadParts(ctx, api, bucket, key, int64(len(data)), func(off, n int64) io.Reader {
		return bytes.NewReader(data[off : off+n])
	})
}

// plainUploadFrom is plainUpload of the size bytes of src, each part sent
// from a section of it.
func plainUploadFrom(ctx context.Context, api *s3.Client, bucket, key string, src io.ReaderAt, size int64) error {
	return plainUploadParts(ctx, api, bucket, key, size, func(off, n int64) io.Reader {
		return io.NewSectionReader(src, off, n)
	})
}

// plainUploadParts uploads size bytes in parts of DefaultPartSize, part
// returning the body of n bytes at off.
func plainUploadParts(ctx context.Context, api *s3.Client, bucket, key string, size int64, part func(off, n int64) io.Reader) error {
	mu, err := api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		return err
	}
	const ps = s3crypt.DefaultPartSize
	nparts := int((size + ps - 1) / ps)
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s3crypt.DefaultPartConcurrency)
	for i := range nparts {
		off := int64(i) * ps
		n := min(size-off, ps)
		g.Go(func() error {
			out, err := api.UploadPart(gctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: mu.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: part(off, n), ContentLength: aws.Int64(n),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
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

// statCPU reads utime and stime past a command holding ") " and digits.
func TestStatCPU(t *testing.T) {
	stat := "4242 (x) 1 2 3) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 8 0 1234 0 0\n"
	got, err := statCPU(stat)
	if err != nil || got != 2870*time.Millisecond {
		t.Errorf("statCPU = %v, %v; want 2.87s (287 ticks)", got, err)
	}
	for _, bad := range []string{"4242 x S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 a 37"} {
		if _, err := statCPU(bad); err == nil {
			t.Errorf("statCPU(%q): no error", bad)
		}
	}
	if _, err := procCPU("/proc/self/stat"); err != nil && runtime.GOOS == "linux" {
		t.Errorf("/proc/self/stat: %v", err)
	}
}

// BenchmarkS3SmallObjects: s3crypt Put (put/size=4KiB) of one 4 KiB
// object with its ContentLength declared (as the CLI's bucket jobs do),
// default part size, to the server benchS3 names, and Get (get/size=4KiB)
// of one such object, read to its end. B/op is the memory allocated per
// object: buffers sized to the object, not an 8 MiB part buffer or a
// stream's. Run with -benchtime=1000x for the 1,000-object figure.
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
	const objects = 1000
	put := func(i int) {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("small/%d", i%objects)),
			Body: bytes.NewReader(pt), ContentLength: aws.Int64(size)}
		if _, err := c.Put(ctx, in, ec); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("put/size="+sizeName(size), func(b *testing.B) {
		b.ReportAllocs()
		setBytes(b, size)
		i := 0
		for b.Loop() {
			i++
			put(i)
		}
	})
	b.Run("get/size="+sizeName(size), func(b *testing.B) {
		n := min(b.N, objects)
		for i := range n {
			put(i)
		}
		b.ReportAllocs()
		setBytes(b, size)
		var got bytes.Buffer
		i := 0
		for b.Loop() {
			r, err := c.Get(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("small/%d", i%n))})
			if err != nil {
				b.Fatal(err)
			}
			got.Reset()
			_, err = r.WriteTo(&got)
			r.Close()
			if err != nil || !bytes.Equal(got.Bytes(), pt) {
				b.Fatalf("Get: %d bytes, %v", got.Len(), err)
			}
			i++
		}
	})
}
