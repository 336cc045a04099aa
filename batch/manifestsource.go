package batch

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/batch/manifest"
)

// manifestSource lists the objects a manifest names (package manifest: an
// S3 Batch Operations CSV or an S3 Inventory manifest.json, whose data
// files are read from its destination bucket), streaming, from a local
// file or an s3:// object. An object's name below the source is its key,
// whatever its bucket, so objects of two buckets with one key share an
// output: the later fails with ErrSameOutput.
type manifestSource struct {
	c   *s3Conn
	loc location // the manifest's
}

func newManifestSource(ctx context.Context, spec string, o *Options) (source, error) {
	l, err := parseLocation(spec)
	if err != nil {
		return nil, fmt.Errorf("--manifest: %w", err)
	}
	if l.kind == locStdio {
		return nil, fmt.Errorf("%w: --manifest: a file or an s3:// object, not stdin", ErrUsage)
	}
	c, err := connectS3(ctx, o)
	if err != nil {
		return nil, err
	}
	return &manifestSource{c: c, loc: l}, nil
}

func (s *manifestSource) conn() *s3Conn { return s.c }

func (*manifestSource) single(context.Context) (bool, error) { return false, nil }

func (s *manifestSource) list(ctx context.Context, keep func(string) bool, yield func(item) error) (int, error) {
	var r io.ReadCloser
	if s.loc.kind == locS3 {
		out, err := s.c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.loc.bucket, Key: &s.loc.key})
		if err != nil {
			return 0, fmt.Errorf("--manifest %s: %w", Quote(s.loc.String()), err)
		}
		r = out.Body
	} else {
		f, err := os.Open(s.loc.path)
		if err != nil {
			return 0, fmt.Errorf("--manifest: %w", err)
		}
		r = f
	}
	defer r.Close()
	open := func(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
		out, err := s.c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	}
	skipped := 0
	err := manifest.Read(ctx, r, open, func(e manifest.Entry) error {
		if !keep(e.Key) {
			skipped++
			return nil
		}
		it := item{name: s3Name(e.Bucket, e.Key), rel: e.Key, size: e.Size, path: e.Key, bucket: e.Bucket}
		if e.VersionID != "" {
			v := e.VersionID
			it.version, it.name = &v, it.name+"?versionId="+v
		}
		return yield(it)
	})
	if err != nil {
		return skipped, fmt.Errorf("--manifest %s: %w", Quote(s.loc.String()), err)
	}
	return skipped, nil
}

func (s *manifestSource) open(ctx context.Context, it item) (io.ReadCloser, error) {
	out, err := s.c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &it.bucket, Key: &it.path, VersionId: it.version})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}
