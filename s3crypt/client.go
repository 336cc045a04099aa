package s3crypt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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

	// DefaultPartConcurrency is the number of parts uploaded, or ranges
	// fetched, at once when none is chosen.
	DefaultPartConcurrency = 4

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

	// ErrBadResponse reports a GET answered with what the request cannot
	// have asked for: a negative length, or more or fewer bytes than the
	// range and the object's size allow.
	ErrBadResponse = errors.New("S3 response does not fit the request")
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
	return &envelopeError{prefix: "s3crypt: " + objName(bucket, key) + ": ", err: err}
}

// maxName is the most bytes of a bucket/key an error shows.
const maxName = 1024

// objName is bucket/key as errors show it: as it is when printable (and
// at most maxName bytes), else quoted Go-style, cut to maxName bytes, so
// that a key's control characters (a newline, a terminal escape) reach no
// log or terminal raw.
func objName(bucket, key string) string {
	s := bucket + "/" + key
	if len(s) <= maxName && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return s
	}
	if len(s) > maxName {
		cut := maxName
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

type options struct {
	partSize    int64
	concurrency int
	readAhead   int
	progress    func(done, total int64)
	maxEDKs     int
	encrypt     []envelope.EncryptOption
	decrypt     []envelope.DecryptOption

	call   call   // the call being configured; 0 for New
	misfit string // the first option that does not apply to call
}

// call is a Client method options are given to.
type call uint8

const (
	callNew call = iota
	callPut
	callGet
	callOpen
)

// notOpen records that the option name was given to a call; given to
// Open, which fetches only the ranges ReadAt asks for, it fails the call
// with envelope.ErrInvalidOption. As a default from New it applies to
// Put and Get only.
func (o *options) notOpen(name string) {
	if o.call == callOpen && o.misfit == "" {
		o.misfit = name
	}
}

// A ClientOption sets a default of a Client, given to New, for the calls
// it applies to. Every option of this package is a ClientOption.
type ClientOption interface {
	apply(*options)
}

// A PutOption configures Put, or, given to New, its default. Get and Open
// do not take one: WithEncryptOptions given to Get does not compile.
type PutOption interface {
	ClientOption
	isPutOption()
}

// A GetOption configures Get and Open, or, given to New, their default.
// Put does not take one. WithReadAhead and WithProgress are Get's alone:
// given to Open they fail it with envelope.ErrInvalidOption.
type GetOption interface {
	ClientOption
	isGetOption()
}

// A CommonOption configures Put, Get and Open alike.
type CommonOption interface {
	PutOption
	GetOption
}

type (
	putOption    func(*options)
	getOption    func(*options)
	commonOption func(*options)
)

func (f putOption) apply(o *options)    { f(o) }
func (putOption) isPutOption()          {}
func (f getOption) apply(o *options)    { f(o) }
func (getOption) isGetOption()          {}
func (f commonOption) apply(o *options) { f(o) }
func (commonOption) isPutOption()       {}
func (commonOption) isGetOption()       {}

// WithPartSize sets the multipart part size, which is also the size of the
// ranged GETs of a download (default 8 MiB, 5 MiB to 5 GiB). Parts are
// rounded up to whole frames.
func WithPartSize(n int64) CommonOption { return commonOption(func(o *options) { o.partSize = n }) }

// WithPartConcurrency sets how many parts are uploaded, or ranges fetched,
// at once (default DefaultPartConcurrency). A Put holds at most n+1 parts
// in memory. The frames of each part are sealed or opened by the
// envelope.Client's workers (envelope.WithFrameWorkers).
func WithPartConcurrency(n int) CommonOption {
	return commonOption(func(o *options) { o.concurrency = n })
}

// WithReadAhead bounds how many ranges a download fetches ahead of the
// part its reader is in (default: the part concurrency). A Get holds at
// most readAhead+1 part-sized buffers, the first part's included.
func WithReadAhead(n int) GetOption {
	return getOption(func(o *options) { o.notOpen("WithReadAhead"); o.readAhead = n })
}

// WithProgress sets a function called as bytes of the stored object (the
// ciphertext) are uploaded or downloaded by Put or Get, with the bytes
// done so far and the object size, or -1 while it is unknown. Calls for
// one transfer are serialized and done never decreases; an upload that
// succeeds ends with a call where done equals total.
func WithProgress(fn func(done, total int64)) CommonOption {
	return commonOption(func(o *options) { o.notOpen("WithProgress"); o.progress = fn })
}

// WithMaxEncryptedDataKeys sets the most encrypted data keys an object may
// carry (default DefaultMaxEncryptedDataKeys): Get and Open refuse an
// object with more with envelope.ErrTooManyEncryptedDataKeys as its header
// is parsed, before any keyring call, and Put refuses to write one. 0
// removes this limit, leaving the envelope.Client's (none by default):
// only for objects from writers as trusted as the key holders. A stricter
// limit of the envelope.Client still applies.
func WithMaxEncryptedDataKeys(n int) CommonOption {
	return commonOption(func(o *options) { o.maxEDKs = n })
}

// WithEncryptOptions passes options to the envelope.Client's
// NewEncryptWriter under Put (envelope.WithSuite, WithFrameLength,
// WithFrameWorkers, …); given to New, they become the envelope.Client's
// defaults.
func WithEncryptOptions(opts ...envelope.EncryptOption) PutOption {
	return putOption(func(o *options) { o.encrypt = append(slices.Clip(o.encrypt), opts...) })
}

// WithDecryptOptions passes options to the envelope.Client's
// NewDecryptReader under Get and NewDecryptReaderAt under Open
// (envelope.WithExpectedContext, WithRequiredContextKeys, WithUnsignedOnly,
// WithFrameWorkers, …); given to New, they become the envelope.Client's
// defaults. An option that does not apply to the envelope call
// (envelope.WithMaxNonFramedLength to Open) fails it with
// envelope.ErrInvalidOption.
func WithDecryptOptions(opts ...envelope.DecryptOption) GetOption {
	return getOption(func(o *options) { o.decrypt = append(slices.Clip(o.decrypt), opts...) })
}

// WithExpectedContext makes Get and Open refuse an object whose
// authenticated encryption context does not hold every pair of ec: the
// defence against a caller tricked into reading another tenant's object.
// A different value fails with envelope.ErrContextMismatch. A missing pair
// is taken as a required pair kept out of the header: keyrings that bind
// the context (raw AES, KMS) then fail with envelope.ErrNoDecryptionKey,
// others with envelope.ErrAuthentication. It is envelope.WithExpectedContext.
func WithExpectedContext(ec map[string]string) GetOption {
	return WithDecryptOptions(envelope.WithExpectedContext(ec))
}

func (o *options) check() error {
	switch {
	case o.misfit != "":
		return fmt.Errorf("s3crypt: option %s does not apply to Open: %w", o.misfit, envelope.ErrInvalidOption)
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

	bufs bufPools // idle part and copy buffers of this Client's Puts
}

// New returns a Client storing objects through api (an *s3.Client, e.g.
// from NewS3Client or s3.NewFromConfig with SecureEndpoint) and encrypting
// them with enc.
func New(api API, enc *envelope.Client, opts ...ClientOption) (*Client, error) {
	if api == nil {
		return nil, errors.New("s3crypt: nil S3 client")
	}
	if enc == nil {
		return nil, errors.New("s3crypt: nil envelope client")
	}
	o := options{partSize: DefaultPartSize, concurrency: DefaultPartConcurrency, maxEDKs: DefaultMaxEncryptedDataKeys}
	for _, f := range opts {
		f.apply(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if len(o.encrypt)+len(o.decrypt) > 0 {
		// Defaults for whichever calls they apply to, like envelope.New's.
		defaults := make([]envelope.ClientOption, 0, len(o.encrypt)+len(o.decrypt))
		for _, e := range o.encrypt {
			defaults = append(defaults, e)
		}
		for _, d := range o.decrypt {
			defaults = append(defaults, d)
		}
		var err error
		if enc, err = enc.With(defaults...); err != nil {
			return nil, err
		}
		o.encrypt, o.decrypt = nil, nil
	}
	return &Client{s3: api, enc: enc, opt: o}, nil
}

// callOptions returns c's options with those given to call k applied.
func callOptions[O ClientOption](c *Client, k call, opts []O) (options, error) {
	o := c.opt
	o.call = k
	for _, f := range opts {
		f.apply(&o)
	}
	if err := o.check(); err != nil {
		return o, err
	}
	if o.readAhead == 0 {
		o.readAhead = o.concurrency
	}
	if lim := c.enc.MaxEncryptedDataKeys(); o.maxEDKs > 0 && (lim == 0 || lim > o.maxEDKs) {
		// First, so that the call's own envelope options override it.
		limit := envelope.WithMaxEncryptedDataKeys(o.maxEDKs)
		if k == callPut {
			o.encrypt = slices.Concat([]envelope.EncryptOption{limit}, o.encrypt)
		} else {
			o.decrypt = slices.Concat([]envelope.DecryptOption{limit}, o.decrypt)
		}
	}
	return o, nil
}

// NewS3Client returns s3.NewFromConfig(cfg, optFns...) with SecureEndpoint
// applied after optFns, and refuses the endpoint it resolved, whatever its
// source (cfg.BaseEndpoint, an option function, AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL or endpoint_url in the shared config file), unless
// CheckEndpoint accepts it: errors wrap ErrInsecureEndpoint. No endpoint
// leaves the SDK's https endpoint for cfg.Region. S3-compatible servers
// usually need o.UsePathStyle (plain http to "localhost" does:
// bucket.localhost is not a loopback name here); a server with a private
// CA needs cfg.HTTPClient to trust it.
func NewS3Client(cfg aws.Config, optFns ...func(*s3.Options)) (*s3.Client, error) {
	c := s3.NewFromConfig(cfg, append(slices.Clip(optFns), SecureEndpoint)...)
	if u := c.Options().BaseEndpoint; u != nil {
		if err := CheckEndpoint(*u); err != nil {
			return nil, fmt.Errorf("%w (BaseEndpoint, from cfg, an option, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or endpoint_url in the shared config file)", err)
		}
	}
	return c, nil
}

// SecureEndpoint is an s3.Options function, to be given last to
// s3.NewFromConfig or s3.New, that makes every request whose final URL
// (after endpoint resolution, per-call options and redirects) is neither
// https nor http to a loopback address fail with ErrInsecureEndpoint before
// any connection is made: objects and credentials never cross the network
// in the clear. It wraps o.HTTPClient, so option functions applied after
// it can undo it. It also sets
// s3.Options.DisableLogOutputChecksumValidationSkipped: the ranged GETs of
// Get and Open carry no whole-object checksum to validate, and would each
// log "Response has no supported checksum"; frames are authenticated by
// the message itself. With the SDK's default HTTP client, a response's
// headers are read up to MaxResponseHeaderBytes (net/http's own limit is
// 10 MiB). NewS3Client applies it and also refuses a bad endpoint at
// once.
func SecureEndpoint(o *s3.Options) {
	o.DisableLogOutputChecksumValidationSkipped = true
	if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
		o.HTTPClient = bc.WithTransportOptions(func(t *http.Transport) {
			t.MaxResponseHeaderBytes = MaxResponseHeaderBytes
		})
	}
	o.HTTPClient = guardEndpoint(o.HTTPClient)
}

// MaxResponseHeaderBytes is the most bytes of an S3 response's headers a
// client SecureEndpoint set up with the SDK's default HTTP client reads:
// S3 allows 2 KiB of user metadata and sends a few more headers; longer
// headers fail the request.
const MaxResponseHeaderBytes = 256 << 10

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
