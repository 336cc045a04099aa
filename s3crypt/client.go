package s3crypt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/endpoint"
)

// API is the part of the S3 API a Client calls; *s3.Client implements it.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, optFns ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListParts(ctx context.Context, in *s3.ListPartsInput, optFns ...func(*s3.Options)) (*s3.ListPartsOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ API = (*s3.Client)(nil)

const (
	// DefaultPartSize is the multipart part size and the ranged-GET size
	// when none is chosen.
	DefaultPartSize = 8 << 20

	// MinPartSize is the smallest part S3 accepts, the last part excepted.
	MinPartSize = 5 << 20

	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 << 30

	// MaxParts is the most parts one multipart upload may have.
	MaxParts = 10000

	// DefaultConcurrency is the number of parts uploaded, or ranges
	// fetched, at once when none is chosen.
	DefaultConcurrency = 4

	// DefaultMaxEncryptedDataKeys is the most encrypted data keys an
	// object's header may carry when none is chosen. Anyone who can write
	// an object can give it up to 65,535 data keys naming the reader's key,
	// each a keyring attempt (a KMS call); objects are written with a few.
	// aws-encryption-cli applies a limit for the same reason.
	DefaultMaxEncryptedDataKeys = 10
)

// Metadata keys (x-amz-meta-*) written on every object. They describe the
// object; nothing in them is secret (no key material, no context values)
// and nothing in them is trusted on read: the authenticated header is.
const (
	MetaFormat          = "phicrypt-format"           // "aws-esdk-v2" (or "aws-esdk-v1")
	MetaSuite           = "phicrypt-suite"            // e.g. "0x0478"
	MetaFrameLength     = "phicrypt-frame-length"     // decimal
	MetaPlaintextLength = "phicrypt-plaintext-length" // decimal; absent when not known at upload
)

// The sentinels' texts carry no "s3crypt: " prefix: the errors that wrap
// them do, once.
var (
	// ErrNotEncrypted reports an object that is not an AWS Encryption SDK
	// message: its first bytes do not parse as a message header. The error
	// also wraps the parse error.
	ErrNotEncrypted = errors.New("object is not an AWS Encryption SDK message")

	// ErrNotFound reports a bucket or key that does not exist. The error
	// also wraps the S3 error.
	ErrNotFound = errors.New("object not found")

	// ErrObjectChanged reports an object replaced while it was being read
	// (its ETag changed between ranged GETs).
	ErrObjectChanged = errors.New("object changed while being read")

	// ErrInsecureEndpoint reports an endpoint that is neither https nor
	// http to a loopback address.
	ErrInsecureEndpoint = errors.New("insecure S3 endpoint")

	// ErrTooLarge reports a stream of unknown size that outgrew the
	// MaxParts parts of a multipart upload.
	ErrTooLarge = errors.New("object too large for the part size")
)

// envelopeError is an error of the envelope package as this package
// reports it: its text starts with prefix where envelope's starts
// "envelope: ", and it unwraps to the envelope error, so errors.Is and
// errors.As see through.
type envelopeError struct {
	prefix string
	err    error
}

func (e *envelopeError) Error() string {
	return e.prefix + strings.TrimPrefix(e.err.Error(), "envelope: ")
}

func (e *envelopeError) Unwrap() error { return e.err }

// fromEnvelope relabels err, if the envelope package made it, as an error
// about bucket/key. Other errors (io.EOF, this package's own from the
// GETs under a DecryptReader) pass unchanged.
func fromEnvelope(err error, bucket, key string) error {
	if err == nil || err == io.EOF || !strings.HasPrefix(err.Error(), "envelope: ") {
		return err
	}
	return &envelopeError{prefix: "s3crypt: " + bucket + "/" + key + ": ", err: err}
}

type options struct {
	partSize    int64
	concurrency int
	readAhead   int
	progress    func(done, total int64)
	maxEDKs     int
	envelope    []envelope.Option
}

// An Option configures a Client when passed to New, or one call when
// passed to it; a call's options apply after the Client's.
type Option func(*options)

// WithPartSize sets the multipart part size, which is also the size of the
// ranged GETs of a download (default 8 MiB, 5 MiB to 5 GiB). Parts are
// rounded up to whole frames.
func WithPartSize(n int64) Option { return func(o *options) { o.partSize = n } }

// WithConcurrency sets how many parts are uploaded, or ranges fetched, at
// once (default 4). A Put holds at most concurrency+1 parts in memory.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithReadAhead bounds how many ranges a download fetches ahead of its
// reader (default: the concurrency). A Get holds at most readAhead+2
// part-sized buffers.
func WithReadAhead(n int) Option { return func(o *options) { o.readAhead = n } }

// WithProgress sets a function called as bytes of the stored object (the
// ciphertext) are uploaded or downloaded, with the bytes done so far and
// the object size, or -1 while it is unknown. Calls for one transfer are
// serialized and done never decreases; an upload that succeeds ends with
// a call where done equals total.
func WithProgress(fn func(done, total int64)) Option { return func(o *options) { o.progress = fn } }

// WithMaxEncryptedDataKeys sets the most encrypted data keys an object may
// carry (default DefaultMaxEncryptedDataKeys): Get and Open refuse an
// object with more with envelope.ErrTooManyEncryptedDataKeys as its header
// is parsed, before any keyring call, and Put refuses to write one. 0
// removes this limit, leaving the envelope.Client's (none by default):
// only for objects from writers as trusted as the key holders. A stricter
// limit of the envelope.Client still applies.
func WithMaxEncryptedDataKeys(n int) Option { return func(o *options) { o.maxEDKs = n } }

// WithEnvelopeOptions passes options to the envelope.Client calls:
// envelope.WithSuite, WithFrameLength and WithConcurrency on Put;
// envelope.WithExpectedContext, WithRequiredContextKeys, WithUnsignedOnly
// and WithConcurrency on Get and Open. Given to a call, an option that
// does not apply to it fails the call with envelope.ErrInvalidOption;
// given to New, options become the envelope.Client's defaults for the
// calls they apply to.
func WithEnvelopeOptions(opts ...envelope.Option) Option {
	return func(o *options) { o.envelope = append(slices.Clip(o.envelope), opts...) }
}

// WithExpectedContext makes Get and Open refuse an object whose
// authenticated encryption context does not hold every pair of ec: the
// defence against a caller tricked into reading another tenant's object.
// A different value fails with envelope.ErrContextMismatch. A missing pair
// is taken as a required pair kept out of the header: keyrings that bind
// the context (raw AES, KMS) then fail with envelope.ErrNoDecryptionKey,
// others with envelope.ErrAuthentication. It is envelope.WithExpectedContext.
func WithExpectedContext(ec map[string]string) Option {
	return WithEnvelopeOptions(envelope.WithExpectedContext(ec))
}

func (o *options) check() error {
	switch {
	case o.partSize < MinPartSize || o.partSize > MaxPartSize:
		return fmt.Errorf("s3crypt: part size %d outside %d..%d", o.partSize, MinPartSize, int64(MaxPartSize))
	case o.concurrency < 1:
		return fmt.Errorf("s3crypt: concurrency %d, want at least 1", o.concurrency)
	case o.readAhead < 0:
		return fmt.Errorf("s3crypt: negative read-ahead %d", o.readAhead)
	case o.maxEDKs < 0:
		return fmt.Errorf("s3crypt: negative maximum of encrypted data keys %d: %w", o.maxEDKs, envelope.ErrInvalidOption)
	}
	return nil
}

// Client writes and reads S3 objects that are AWS Encryption SDK messages.
// It is safe for concurrent use.
type Client struct {
	s3  API
	enc *envelope.Client
	opt options
}

// New returns a Client storing objects through api (an *s3.Client, see
// NewS3Client) and encrypting them with enc.
func New(api API, enc *envelope.Client, opts ...Option) (*Client, error) {
	if api == nil {
		return nil, errors.New("s3crypt: nil S3 client")
	}
	if enc == nil {
		return nil, errors.New("s3crypt: nil envelope client")
	}
	o := options{partSize: DefaultPartSize, concurrency: DefaultConcurrency, maxEDKs: DefaultMaxEncryptedDataKeys}
	for _, f := range opts {
		f(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if len(o.envelope) > 0 {
		// Defaults for whichever calls they apply to, like envelope.New's.
		var err error
		if enc, err = enc.With(o.envelope...); err != nil {
			return nil, err
		}
		o.envelope = nil
	}
	return &Client{s3: api, enc: enc, opt: o}, nil
}

// options returns the Client's options with a call's applied.
func (c *Client) options(opts []Option) (options, error) {
	o := c.opt
	for _, f := range opts {
		f(&o)
	}
	if err := o.check(); err != nil {
		return o, err
	}
	if o.readAhead == 0 {
		o.readAhead = o.concurrency
	}
	if lim := c.enc.MaxEncryptedDataKeys(); o.maxEDKs > 0 && (lim == 0 || lim > o.maxEDKs) {
		// First, so that the call's own envelope options override it.
		o.envelope = slices.Concat([]envelope.Option{envelope.WithMaxEncryptedDataKeys(o.maxEDKs)}, o.envelope)
	}
	return o, nil
}

// NewS3Client returns an S3 client from cfg (e.g. config.LoadDefaultConfig's,
// with the default credential chain and region). An empty endpoint keeps
// the SDK's endpoint resolution: cfg.BaseEndpoint, AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL, endpoint_url in the shared config file, else the
// https endpoint for cfg.Region. The endpoint the client will use,
// whatever its source, must be https, or http to a loopback address (a
// local test server): anything else fails with ErrInsecureEndpoint, since
// objects and credentials would cross the network in the clear. Every
// request's final URL is checked again before it is sent (see
// guardEndpoint), so no resolver or per-call option can get around it.
// pathStyle addresses buckets as endpoint/bucket/key rather than
// bucket.endpoint/key, as most S3-compatible servers need (and as plain
// http to "localhost" requires: bucket.localhost is not a loopback name
// here). A server with a private CA needs cfg.HTTPClient to trust it.
//
// The client does not log "Response has no supported checksum" for each
// ranged GET (s3.Options.DisableLogOutputChecksumValidationSkipped): ranged
// responses carry no whole-object checksum to validate, and Get
// authenticates every frame of the message anyway.
func NewS3Client(ctx context.Context, cfg aws.Config, endpoint string, pathStyle bool) (*s3.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if endpoint != "" {
		if err := CheckEndpoint(endpoint); err != nil {
			return nil, err
		}
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
		o.HTTPClient = guardEndpoint(o.HTTPClient)
	})
	if u := c.Options().BaseEndpoint; endpoint == "" && u != nil {
		if err := CheckEndpoint(*u); err != nil {
			return nil, fmt.Errorf("%w (from the AWS configuration: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or endpoint_url in the shared config file)", err)
		}
	}
	return c, nil
}

// CheckEndpoint accepts an S3 endpoint URL that is https, or http to a
// loopback host (127.0.0.0/8, ::1, "localhost"); errors wrap
// ErrInsecureEndpoint. URLs with user info, a query or a fragment are
// refused too, since they would carry secrets or be ignored.
func CheckEndpoint(u string) error {
	if err := endpoint.Check(u); err != nil {
		return fmt.Errorf("s3crypt: %w: %w", ErrInsecureEndpoint, err)
	}
	return nil
}
