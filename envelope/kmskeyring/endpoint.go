package kmskeyring

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/internal/endpoint"
)

// CheckEndpoint accepts a KMS endpoint URL if it is https, or http to a
// loopback host (127.0.0.0/8, ::1 or "localhost") such as a local test
// server. Data keys travel in the clear over http, so anything else is
// refused. URLs with user info, a query or a fragment are refused too.
func CheckEndpoint(u string) error {
	if err := endpoint.Check(u); err != nil {
		return fmt.Errorf("kmskeyring: KMS endpoint: %w", err)
	}
	return nil
}

// NewClient returns a KMS client from cfg (e.g. config.LoadDefaultConfig's,
// which uses the default credential chain) whose requests go to endpoint,
// after CheckEndpoint accepts it. An empty endpoint keeps the SDK's endpoint
// resolution for cfg.Region (https://kms.<region>.amazonaws.com and the
// like).
//
// TLS: unless cfg.HTTPClient is set, the client uses the SDK's default
// HTTP client (aws/transport/http.NewBuildableClient), whose transport sets
// tls.Config.MinVersion to DefaultHTTPTransportTLSMinVersion =
// tls.VersionTLS12 (aws-sdk-go-v2 v1.47.7, aws/transport/http/client.go), so
// https connections use TLS 1.2 or later. A caller-supplied cfg.HTTPClient
// keeps its own TLS settings.
func NewClient(ctx context.Context, cfg aws.Config, endpoint string) (*kms.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if endpoint != "" {
		if err := CheckEndpoint(endpoint); err != nil {
			return nil, err
		}
	}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
