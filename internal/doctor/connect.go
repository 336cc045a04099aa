package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/internal/endpoint"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// ErrInsecureEndpoint reports a CloudTrail endpoint that is neither https
// nor http to a loopback address.
var ErrInsecureEndpoint = errors.New("insecure CloudTrail endpoint")

// Endpoints say how the services are reached: "" for AWS, else https, or
// http to a loopback address only (each is checked before any request).
type Endpoints struct {
	S3, KMS, CloudTrail string
	Region, Profile     string
}

// Connect loads the AWS configuration (credentials are required) and
// makes the three clients. Each client refuses, per request, a URL that
// is not https or loopback http, whatever configured it.
func Connect(ctx context.Context, e Endpoints) (Clients, error) {
	for _, c := range []struct{ flag, url string }{{"--endpoint-url", e.S3}, {"--kms-endpoint-url", e.KMS}, {"--cloudtrail-endpoint-url", e.CloudTrail}} {
		if c.url != "" {
			if err := endpoint.Check(c.url); err != nil {
				return Clients{}, fmt.Errorf("%s: %w", c.flag, err)
			}
		}
	}
	cfg, err := batch.LoadAWSConfig(ctx, e.Region, e.Profile)
	if err != nil {
		return Clients{}, err
	}
	if cfg.Region == "" {
		if e.S3 == "" || e.KMS == "" || e.CloudTrail == "" {
			return Clients{}, errors.New("no AWS region: use --region or AWS_REGION")
		}
		cfg.Region = "us-east-1" // local servers ignore it
	}
	s3c, err := s3crypt.NewS3Client(cfg, func(o *s3.Options) {
		if e.S3 != "" {
			o.BaseEndpoint = aws.String(e.S3)
		}
		o.UsePathStyle = o.BaseEndpoint != nil
	})
	if err != nil {
		return Clients{}, fmt.Errorf("--endpoint-url: %w", err)
	}
	kmsc, err := kms.NewClient(ctx, cfg, e.KMS)
	if err != nil {
		return Clients{}, fmt.Errorf("--kms-endpoint-url: %w", err)
	}
	ct := cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) {
		if e.CloudTrail != "" {
			o.BaseEndpoint = aws.String(e.CloudTrail)
		}
		o.HTTPClient = endpoint.Guard(o.HTTPClient, ErrInsecureEndpoint)
	})
	if u := ct.Options().BaseEndpoint; u != nil {
		if err := endpoint.Check(*u); err != nil {
			return Clients{}, fmt.Errorf("%w: %w (from --cloudtrail-endpoint-url or the AWS configuration)", ErrInsecureEndpoint, err)
		}
	}
	return Clients{S3: s3c, KMS: kmsc, CloudTrail: ct}, nil
}
