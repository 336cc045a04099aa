package s3crypt_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/phicrypt/phicrypt/s3crypt"
)

// paceAPI serves GETs of one stored object the way a remote S3 does, at
// a pace rather than at the speed of the CPU: every response starts after
// latency and then delivers at rate bytes per second. Other calls panic.
type paceAPI struct {
	s3crypt.API
	obj     []byte
	etag    string
	latency time.Duration
	rate    float64 // bytes per second, per response
}

func (a *paceAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	lo, hi := int64(0), int64(len(a.obj))-1
	if r := aws.ToString(in.Range); r != "" {
		if _, err := fmt.Sscanf(r, "bytes=%d-%d", &lo, &hi); err != nil {
			return nil, err
		}
		hi = min(hi, int64(len(a.obj))-1)
	}
	if m := aws.ToString(in.IfMatch); m != "" && m != a.etag {
		return nil, fmt.Errorf("precondition failed")
	}
	body := &pacedBody{ctx: ctx, b: a.obj[lo : hi+1], start: time.Now().Add(a.latency), rate: a.rate}
	return &s3.GetObjectOutput{Body: body, ContentLength: aws.Int64(hi + 1 - lo), ETag: &a.etag,
		ContentRange: aws.String(fmt.Sprintf("bytes %d-%d/%d", lo, hi, len(a.obj)))}, nil
}

// pacedBody delivers b no sooner than rate bytes per second after start.
type pacedBody struct {
	ctx   context.Context
	b     []byte
	sent  int
	start time.Time
	rate  float64
}

func (p *pacedBody) Read(q []byte) (int, error) {
	if p.sent == len(p.b) {
		return 0, io.EOF
	}
	n := copy(q[:min(len(q), 256<<10)], p.b[p.sent:])
	p.sent += n
	due := p.start.Add(time.Duration(float64(p.sent) / p.rate * float64(time.Second)))
	select {
	case <-time.After(time.Until(due)):
	case <-p.ctx.Done():
		return 0, p.ctx.Err()
	}
	return n, nil
}

func (p *pacedBody) Close() error { return nil }

// BenchmarkGetPaced measures Get's pipeline apart from the CPU: 64 MiB of
// 0x0478 from a server that answers each GET after 10 ms and delivers it
// at 64 MiB/s, 8 MiB parts, 4 in flight, paired in each iteration with
// the plain ranged-GET downloader of the same parts (the SDK's
// manager.Downloader pattern). x-plain is plain time ÷ Get time; the
// plain transfer needs ⌈8/4⌉ rounds of a part each.
func BenchmarkGetPaced(b *testing.B) {
	const size, part = 64 * MiB, 8 * MiB
	pt := randomBytes(size, 40)
	ctx := context.Background()
	ct, err := rawAESClient(b).Encrypt(ctx, pt, testContext)
	if err != nil {
		b.Fatal(err)
	}
	api := &paceAPI{obj: ct, etag: `"paced"`, latency: 10 * time.Millisecond, rate: 64 * MiB}
	c, err := s3crypt.New(api, rawAESClient(b), s3crypt.WithPartSize(part), s3crypt.WithPartConcurrency(4))
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, len(ct))
	plain := func() {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(4)
		for off := 0; off < len(dst); off += part {
			p := dst[off:min(len(dst), off+part)]
			g.Go(func() error {
				out, err := api.GetObject(gctx, &s3.GetObjectInput{Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+len(p)-1))})
				if err != nil {
					return err
				}
				_, err = io.ReadFull(out.Body, p)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	get := func() {
		r, err := c.Get(ctx, getIn("b", "k"))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		if n, err := r.WriteTo(io.Discard); err != nil || n != size {
			b.Fatalf("Get: %d bytes, %v", n, err)
		}
	}
	var tPlain, tGet time.Duration
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		t := time.Now()
		plain()
		tPlain += time.Since(t)
		t = time.Now()
		get()
		tGet += time.Since(t)
	}
	b.ReportMetric(float64(tGet.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(tPlain.Seconds()/tGet.Seconds(), "x-plain")
}
