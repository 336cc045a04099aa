package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// S3Options say how S3 is reached. Credentials and a private CA come from
// the default AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_CA_BUNDLE, …).
type S3Options struct {
	EndpointURL     string // "" for AWS; https, or http to loopback only
	Region, Profile string

	// FIPS sends S3 requests to the AWS FIPS endpoint of the region
	// (s3-fips.REGION.amazonaws.com); an EndpointURL (or one from the AWS
	// configuration) is then refused with ErrFIPSEndpoint unless it is a
	// FIPS endpoint or on loopback. AWS_USE_FIPS_ENDPOINT=true does the same.
	FIPS bool

	// ServerSideEncryption ("aws:kms", "aws:kms:dsse" or "AES256"),
	// SSEKMSKeyID and StorageClass, if set, are sent with every object a
	// run writes (encrypted or, on decrypt, plaintext), as aws s3 cp's
	// --sse, --sse-kms-key-id and --storage-class.
	ServerSideEncryption, SSEKMSKeyID, StorageClass string
}

// putHeaders sets o's server-side encryption and storage class on in.
func (o S3Options) putHeaders(in *s3.PutObjectInput) {
	if o.ServerSideEncryption != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(o.ServerSideEncryption)
	}
	if o.SSEKMSKeyID != "" {
		in.SSEKMSKeyId = &o.SSEKMSKeyID
	}
	if o.StorageClass != "" {
		in.StorageClass = types.StorageClass(o.StorageClass)
	}
}

// CheckPut refuses values of ServerSideEncryption, SSEKMSKeyID and
// StorageClass that cannot work: an unknown SSE or storage class, or a
// KMS key without aws:kms.
func (o S3Options) CheckPut() error {
	sse := types.ServerSideEncryption(o.ServerSideEncryption)
	switch {
	case o.ServerSideEncryption != "" && !slices.Contains(sse.Values(), sse):
		return fmt.Errorf("%w: --sse %s: want one of %v", ErrUsage, Quote(o.ServerSideEncryption), sse.Values())
	case o.SSEKMSKeyID != "" && !strings.HasPrefix(o.ServerSideEncryption, "aws:kms"):
		return fmt.Errorf("%w: --sse-kms-key-id needs --sse aws:kms", ErrUsage)
	}
	sc := types.StorageClass(o.StorageClass)
	if o.StorageClass != "" && !slices.Contains(sc.Values(), sc) {
		return fmt.Errorf("%w: --storage-class %s: want one of %v", ErrUsage, Quote(o.StorageClass), sc.Values())
	}
	return nil
}

// plainPartSize is the part size of plaintext uploads (decrypt to S3).
const plainPartSize = 64 << 20

// s3Conn is one S3 client shared by a run's source and sink.
type s3Conn struct {
	api *s3.Client
}

func connectS3(ctx context.Context, o *Options) (*s3Conn, error) {
	if o.s3 != nil {
		return o.s3, nil
	}
	if o.S3Client != nil {
		o.s3 = &s3Conn{api: o.S3Client}
		return o.s3, nil
	}
	flag := func(err error) error { return err }
	if o.S3.EndpointURL != "" {
		flag = func(err error) error { return fmt.Errorf("--endpoint-url: %w", err) }
		if err := s3crypt.CheckEndpoint(o.S3.EndpointURL); err != nil {
			return nil, flag(err)
		}
		if o.S3.FIPS {
			if err := CheckFIPSEndpoint("s3", o.S3.EndpointURL, "--endpoint-url"); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrUsage, err)
			}
		}
	}
	cfg, err := loadAWSConfig(ctx, o.S3.Region, o.S3.Profile, imdsNeeded("s3", o.S3.EndpointURL))
	if err != nil {
		return nil, err
	}
	region := cfg.Region
	if region == "" {
		cfg.Region = "us-east-1" // S3-compatible servers ignore it; checked below for AWS
	}
	// An endpoint named by the flag or by the AWS configuration
	// (AWS_ENDPOINT_URL_S3, endpoint_url) is an S3-compatible server:
	// address it path-style, as "localhost" buckets are not loopback names.
	// With FIPS, FIPSEndpoint picks AWS's FIPS endpoint or checks that one.
	var fipsErr error
	api, err := s3crypt.NewS3Client(cfg, func(so *s3.Options) {
		if o.S3.EndpointURL != "" {
			so.BaseEndpoint = aws.String(o.S3.EndpointURL)
		}
		so.UsePathStyle = so.BaseEndpoint != nil
		name := ""
		if o.S3.EndpointURL != "" {
			name = "--endpoint-url"
		}
		fipsErr = FIPSEndpoint("s3", name, o.S3.FIPS, so.BaseEndpoint, &so.EndpointOptions.UseFIPSEndpoint)
	})
	if fipsErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, fipsErr)
	}
	if err != nil {
		return nil, flag(err)
	}
	if region == "" && api.Options().BaseEndpoint == nil {
		return nil, errors.New("no AWS region for S3: use --region or AWS_REGION")
	}
	o.s3 = &s3Conn{api: api}
	return o.s3, nil
}

// exists reports whether bucket/key exists.
func (c *s3Conn) exists(ctx context.Context, bucket, key string) (bool, error) {
	_, ok, err := c.head(ctx, bucket, key)
	return ok, err
}

// head returns bucket/key's user metadata and whether it exists.
func (c *s3Conn) head(ctx context.Context, bucket, key string) (map[string]string, bool, error) {
	out, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err == nil {
		return out.Metadata, true, nil
	}
	var nf *types.NotFound
	var nk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nk) {
		return nil, false, nil
	}
	return nil, false, err
}

// --- source ---

type s3Source struct {
	c      *s3Conn
	loc    location
	under  string // the prefix list lists, set by single
	object *item  // the object the location names, set by single
	// objectOnly and version are Options.SingleObject and VersionID.
	objectOnly bool
	version    *string
}

func newS3Source(ctx context.Context, l location, o *Options) (source, error) {
	c, err := connectS3(ctx, o)
	if err != nil {
		return nil, err
	}
	src := &s3Source{c: c, loc: l, objectOnly: o.SingleObject || o.VersionID != ""}
	if o.VersionID != "" {
		src.version = &o.VersionID
	}
	return src, nil
}

func s3Name(bucket, key string) string { return "s3://" + bucket + "/" + key }

// single reports whether the location names an object (a HEAD finds it)
// rather than a prefix ("a/b" lists "a/b/…").
func (s *s3Source) single(ctx context.Context) (bool, error) {
	b, key := s.loc.bucket, s.loc.key
	if s.objectOnly && (key == "" || strings.HasSuffix(key, "/")) {
		return false, fmt.Errorf("%w: %s names a prefix, not one object", ErrUsage, Quote(s.loc.String()))
	}
	s.under = key
	if key == "" || strings.HasSuffix(key, "/") {
		return false, nil
	}
	out, err := s.c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &key, VersionId: s.version})
	if err == nil {
		base := key[strings.LastIndexByte(key, '/')+1:]
		s.object = &item{name: s3Name(b, key), rel: base, size: aws.ToInt64(out.ContentLength), path: key, bucket: b, version: s.version}
		return true, nil
	}
	var nf *types.NotFound
	if !errors.As(err, &nf) || s.objectOnly {
		return false, err
	}
	s.under = key + "/"
	return false, nil
}

// list yields the object single found, or every object under the prefix,
// one ListObjectsV2 page at a time.
func (s *s3Source) list(ctx context.Context, keep func(string) bool, yield func(item) error) (int, error) {
	if s.object != nil {
		return 0, yield(*s.object)
	}
	b, key := s.loc.bucket, s.under
	listed, skipped := 0, 0
	p := s3.NewListObjectsV2Paginator(s.c.api, &s3.ListObjectsV2Input{Bucket: &b, Prefix: &key})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return skipped, err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			rel := strings.TrimPrefix(k, key)
			if rel == "" || strings.HasSuffix(rel, "/") || !keep(rel) {
				skipped++
				continue
			}
			listed++
			if err := yield(item{name: s3Name(b, k), rel: rel, size: aws.ToInt64(o.Size), path: k, bucket: b}); err != nil {
				return skipped, err
			}
		}
	}
	if listed == 0 && skipped == 0 {
		return 0, fmt.Errorf("no object %s and nothing under %s", s.loc, s3Name(b, key))
	}
	return skipped, nil
}

func (s *s3Source) open(ctx context.Context, it item) (io.ReadCloser, error) {
	out, err := s.c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &it.bucket, Key: &it.path, VersionId: it.version})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// --- sink ---

type s3Sink struct {
	c   *s3Conn
	loc location
	put S3Options // the headers of each object written
}

func newS3Sink(ctx context.Context, l location, o *Options) (sink, error) {
	c, err := connectS3(ctx, o)
	if err != nil {
		return nil, err
	}
	return &s3Sink{c: c, loc: l, put: o.S3}, nil
}

func (s *s3Sink) target(rel string, single bool) (string, string, error) {
	k := s.loc.key
	if single && k != "" && !strings.HasSuffix(k, "/") {
		return s3Name(s.loc.bucket, k), k, nil
	}
	if err := checkRel(rel); err != nil {
		return "", "", err
	}
	if k != "" && !strings.HasSuffix(k, "/") {
		k += "/"
	}
	return s3Name(s.loc.bucket, k+rel), k + rel, nil
}

func (s *s3Sink) key(target string) string {
	return strings.TrimPrefix(target, "s3://"+s.loc.bucket+"/")
}

// complete reports whether the object at target exists and, on encrypt,
// carries the metadata s3crypt.Put writes with a message (suite too, when
// given): S3 objects appear only whole, and a plaintext object of the same
// name is not mistaken for a finished output. The metadata is not
// authenticated: it marks an object as written by a run, nothing more.
func (s *s3Sink) complete(ctx context.Context, target string, op Op, suite envelope.SuiteID) (bool, error) {
	meta, ok, err := s.c.head(ctx, s.loc.bucket, s.key(target))
	if err != nil || !ok || op == Decrypt {
		return ok, err
	}
	if !strings.HasPrefix(meta[s3crypt.MetaFormat], "aws-esdk-v") {
		return false, nil
	}
	return suite == 0 || meta[s3crypt.MetaSuite] == suite.String(), nil
}

// checkTarget refuses an existing object unless overwrite. S3 has no
// atomic create-if-absent here: an object written between this check and
// the upload is replaced.
func (s *s3Sink) checkTarget(ctx context.Context, target string, overwrite bool) error {
	if overwrite {
		return nil
	}
	ok, err := s.c.exists(ctx, s.loc.bucket, s.key(target))
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%s: %w", Quote(target), ErrExists)
	}
	return nil
}

// create returns an output that collects the plaintext in an unlinked
// temporary file and uploads it on commit, so that nothing reaches the
// bucket before the whole message verified.
func (s *s3Sink) create(ctx context.Context, target, _ string, _ item, overwrite bool) (output, error) {
	if err := s.checkTarget(ctx, target, overwrite); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "s3crypt-spool-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return &s3Output{ctx: ctx, s: s, key: s.key(target), f: f}, nil
}

type s3Output struct {
	ctx  context.Context
	s    *s3Sink
	key  string
	f    *os.File
	n    int64
	done bool
}

func (o *s3Output) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	o.n += int64(n)
	return n, err
}

func (o *s3Output) abort() {
	if !o.done {
		o.done = true
		o.f.Close()
	}
}

// commit uploads the spooled bytes: one PutObject, or a multipart upload
// of seekable parts that is aborted if any part fails.
func (o *s3Output) commit() error {
	o.done = true
	defer o.f.Close()
	api, b, k := o.s.c.api, &o.s.loc.bucket, &o.key
	if o.n <= plainPartSize {
		put := &s3.PutObjectInput{Bucket: b, Key: k, Body: io.NewSectionReader(o.f, 0, o.n), ContentLength: &o.n}
		o.s.put.putHeaders(put)
		_, err := api.PutObject(o.ctx, put)
		return err
	}
	var h s3.PutObjectInput
	o.s.put.putHeaders(&h)
	up, err := api.CreateMultipartUpload(o.ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k,
		ServerSideEncryption: h.ServerSideEncryption, SSEKMSKeyId: h.SSEKMSKeyId, StorageClass: h.StorageClass})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < o.n; off, num = off+plainPartSize, num+1 {
		size := min(plainPartSize, o.n-off)
		out, err := api.UploadPart(o.ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: up.UploadId, PartNumber: &num,
			Body: io.NewSectionReader(o.f, off, size), ContentLength: &size})
		if err == nil {
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num),
				ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C, ChecksumCRC64NVME: out.ChecksumCRC64NVME,
				ChecksumSHA1: out.ChecksumSHA1, ChecksumSHA256: out.ChecksumSHA256})
			continue
		}
		// Abort with a fresh context: o.ctx may be the cancelled one.
		api.AbortMultipartUpload(context.WithoutCancel(o.ctx), &s3.AbortMultipartUploadInput{Bucket: b, Key: k, UploadId: up.UploadId})
		return err
	}
	_, err = api.CompleteMultipartUpload(o.ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		api.AbortMultipartUpload(context.WithoutCancel(o.ctx), &s3.AbortMultipartUploadInput{Bucket: b, Key: k, UploadId: up.UploadId})
	}
	return err
}

// s3crypt returns the run's s3crypt client, made on first use.
func (r *runner) s3crypt(c *s3Conn) (*s3crypt.Client, error) {
	r.s3once.Do(func() {
		r.s3c, r.s3err = s3crypt.New(c.api, r.client, s3crypt.WithPartConcurrency(max(r.workers, 2)), s3crypt.WithMaxEncryptedDataKeys(0)) // r.client's limit
	})
	return r.s3c, r.s3err
}

// s3decrypt returns the run's s3crypt client that opens inputs.
func (r *runner) s3decrypt(c *s3Conn) (*s3crypt.Client, error) {
	if r.dclient == r.client {
		return r.s3crypt(c)
	}
	r.s3donce.Do(func() {
		r.s3dc, r.s3derr = s3crypt.New(c.api, r.dclient, s3crypt.WithPartConcurrency(max(r.workers, 2)), s3crypt.WithMaxEncryptedDataKeys(0))
	})
	return r.s3dc, r.s3derr
}

// encryptS3 encrypts in straight into an object with s3crypt.Put, which
// aborts its multipart upload on any failure: no object appears unless the
// whole message was stored.
func (r *runner) encryptS3(ctx context.Context, j *job, s *s3Sink, in io.Reader, size int64, ec map[string]string, opts []envelope.EncryptOption, rec *Record) error {
	if err := s.checkTarget(ctx, j.target, r.o.Overwrite || r.o.InPlace); err != nil {
		return err
	}
	c, err := r.s3crypt(s.c)
	if err != nil {
		return err
	}
	put := &s3.PutObjectInput{Bucket: &s.loc.bucket, Key: aws.String(s.key(j.target)), Body: in}
	s.put.putHeaders(put)
	if size >= 0 {
		put.ContentLength = &size
	}
	res, err := c.Put(ctx, put, ec, s3crypt.WithEncryptOptions(opts...))
	if err != nil {
		return err
	}
	describe(rec, res.Header)
	rec.BytesOut = res.Size
	return nil
}

// decryptS3 decrypts an object with s3crypt.Get (parallel ranged GETs)
// into the run's sink; the output is committed only after the whole
// message verified.
func (r *runner) decryptS3(ctx context.Context, j *job, conn *s3Conn, rec *Record) error {
	c, err := r.s3decrypt(conn)
	if err != nil {
		return err
	}
	b, k, v := j.in.bucket, j.in.path, j.in.version
	if len(r.o.ExpectContext) > 0 || len(r.o.ExpectContextKeys) > 0 {
		obj, err := c.Head(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &k, VersionId: v})
		if err != nil {
			return err
		}
		if err := r.o.checkContext(obj.Header); err != nil {
			return err
		}
	}
	var last int64
	progress := func(done, _ int64) {
		if r.o.Progress != nil {
			r.o.Progress.Add(done - last)
		}
		last = done
	}
	opts := []envelope.DecryptOption{envelope.WithFrameWorkers(r.workersFor(j.in.size))}
	if len(r.o.ExpectContext) > 0 {
		opts = append(opts, envelope.WithExpectedContext(r.o.ExpectContext))
	}
	opts = r.o.maxFrameOption(opts)
	rd, err := c.Get(ctx, &s3.GetObjectInput{Bucket: &b, Key: &k, VersionId: v}, s3crypt.WithDecryptOptions(opts...), s3crypt.WithProgress(progress))
	defer func() { rec.BytesIn = last }()
	if err != nil {
		err = frameLimitHint(err)
		if errors.Is(err, envelope.ErrNoDecryptionKey) {
			if obj, herr := c.Head(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &k, VersionId: v}); herr == nil {
				return withKeysHint(err, obj.Header)
			}
		}
		return err
	}
	defer rd.Close()
	if err := r.o.checkContext(rd.Header()); err != nil {
		return err
	}
	if r.op == Reencrypt {
		return r.reencrypt(ctx, j, rd, rd.Header(), rec)
	}
	describe(rec, rd.Header())
	out, err := j.dst.create(ctx, j.target, j.below, j.in, r.o.Overwrite)
	if err != nil {
		return err
	}
	defer out.abort()
	cw := &countWriter{w: out}
	if _, err := rd.WriteTo(cw); err != nil {
		return err
	}
	return commit(ctx, j, out, cw, rec)
}

// s3Backed is a source of S3 objects (items with a bucket), which decrypt
// and scan read through the S3 API directly: ranged GETs.
type s3Backed interface{ conn() *s3Conn }

func (s *s3Source) conn() *s3Conn { return s.c }
