package kms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/internal/endpoint"
)

// ErrInsecureEndpoint reports a KMS endpoint that is neither https nor
// http to a loopback host, or a URL with user info, a query or a fragment.
var ErrInsecureEndpoint = errors.New("kms: insecure KMS endpoint")

// CheckEndpoint accepts a KMS endpoint URL if it is https, or http to a
// loopback host (127.0.0.0/8, ::1 or "localhost") such as a local test
// server. Data keys travel in the clear over http, so anything else is
// refused. URLs with user info, a query or a fragment are refused too.
// Errors wrap ErrInsecureEndpoint.
func CheckEndpoint(u string) error {
	if err := endpoint.Check(u); err != nil {
		return fmt.Errorf("%w: %w", ErrInsecureEndpoint, err)
	}
	return nil
}

// NewClient returns a KMS client from cfg (e.g. config.LoadDefaultConfig's,
// which uses the default credential chain) whose requests go to endpoint.
// An empty endpoint keeps the SDK's endpoint resolution: cfg.BaseEndpoint,
// AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL, endpoint_url in the shared
// config file, else https://kms.<region>.amazonaws.com and the like.
//
// The endpoint the client will use, whatever its source, must pass
// CheckEndpoint: NewClient fails with ErrInsecureEndpoint otherwise. Every
// request's final URL is checked again before it is sent (the client's
// HTTPClient is wrapped), so a custom endpoint resolver, cfg.ServiceOptions
// or a per-call option cannot send data keys over plain http to a remote
// host either; such calls fail, unretried and undialed, with an error
// wrapping ErrInsecureEndpoint.
//
// Bounds: a request whose context has no deadline gets RequestTimeout; a
// response body is read up to MaxResponseBytes and, with the SDK's default
// HTTP client, its headers up to MaxResponseHeaderBytes.
//
// TLS: unless cfg.HTTPClient is set, the client uses the SDK's default
// HTTP client (aws/transport/http.NewBuildableClient), whose transport sets
// tls.Config.MinVersion to DefaultHTTPTransportTLSMinVersion =
// tls.VersionTLS12 (aws-sdk-go-v2 v1.47.7, aws/transport/http/client.go), so
// https connections use TLS 1.2 or later. A caller-supplied cfg.HTTPClient
// keeps its own TLS settings.
func NewClient(ctx context.Context, cfg aws.Config, endpoint string) (*awskms.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if endpoint != "" {
		if err := CheckEndpoint(endpoint); err != nil {
			return nil, err
		}
	}
	c := awskms.NewFromConfig(cfg, func(o *awskms.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = bc.WithTransportOptions(func(t *http.Transport) {
				t.MaxResponseHeaderBytes = MaxResponseHeaderBytes
			})
		}
		o.HTTPClient = bounded{guard(o.HTTPClient), RequestTimeout}
	})
	if u := c.Options().BaseEndpoint; endpoint == "" && u != nil {
		if err := CheckEndpoint(*u); err != nil {
			return nil, fmt.Errorf("%w (from the AWS configuration: AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL or endpoint_url in the shared config file)", err)
		}
	}
	return c, nil
}

// MaxResponseBytes is the most bytes of a KMS response body NewClient's
// client reads: KMS's largest answer (GenerateDataKey: a ciphertext blob
// of at most 6144 bytes and a key of at most 1024, in base64 JSON) is
// under 16 KiB. A longer body fails the call with ErrResponseTooLarge
// before it is decoded.
const MaxResponseBytes = 1 << 20

// MaxResponseHeaderBytes is the most bytes of a KMS response's headers
// NewClient's client reads when it uses the SDK's default HTTP client
// (net/http's own default is 10 MiB; KMS sends under 1 KiB). Longer
// headers fail the request.
const MaxResponseHeaderBytes = 64 << 10

// RequestTimeout bounds each KMS request of NewClient's client whose
// context has no deadline, its body included: a KMS that never answers,
// or never ends its answer, fails the request (the SDK retries it)
// instead of hanging the caller.
const RequestTimeout = 30 * time.Second

// ErrResponseTooLarge reports a KMS response body longer than
// MaxResponseBytes.
var ErrResponseTooLarge = errors.New("kms: response body too large")

// bounded limits a KMS request's time (timeout, when its context has no
// deadline) and its response body (MaxResponseBytes).
type bounded struct {
	next    aws.HTTPClient
	timeout time.Duration
}

func (b bounded) Do(req *http.Request) (*http.Response, error) {
	cancel := context.CancelFunc(func() {})
	if _, ok := req.Context().Deadline(); !ok {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), b.timeout)
		req = req.WithContext(ctx)
	}
	resp, err := b.next.Do(req)
	if err != nil {
		cancel()
		return resp, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxResponseBytes, cancel: cancel}
	return resp, nil
}

// limitedBody reads at most left more bytes of rc, then fails; Close ends
// the request's timeout.
type limitedBody struct {
	rc     io.ReadCloser
	left   int64
	cancel context.CancelFunc
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte past the limit tells a longer body from one that
		// ends exactly there.
		var one [1]byte
		n, err := l.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, MaxResponseBytes)
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error {
	l.cancel()
	return l.rc.Close()
}

// guard wraps an SDK HTTP client with the per-request endpoint check.
func guard(c aws.HTTPClient) aws.HTTPClient { return endpoint.Guard(c, ErrInsecureEndpoint) }
