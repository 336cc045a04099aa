package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/s3crypt"
)

func main() {
	h, err := start(context.Background())
	if err != nil {
		// A cold start that fails is an init error: Lambda reports it and
		// S3 Batch Operations sees the invocation fail.
		fmt.Fprintln(os.Stderr, "s3crypt-lambda:", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// start reads the configuration and makes the handler, its keys and its
// S3 client.
func start(ctx context.Context) (*Handler, error) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	awscfg, err := batch.LoadAWSConfig(ctx, "", "")
	if err != nil {
		return nil, err
	}
	s3c, err := newS3Client(awscfg, cfg)
	if err != nil {
		return nil, err
	}
	return NewHandler(ctx, cfg, s3c)
}

// newS3Client makes the function's S3 client: PHICRYPT_S3_ENDPOINT_URL,
// if set, addressed path-style; with cfg.FIPS (or AWS_USE_FIPS_ENDPOINT),
// AWS's FIPS endpoint or an explicit one batch.CheckFIPSEndpoint accepts,
// as batch decides for its own clients (batch.FIPSEndpoint).
func newS3Client(awscfg aws.Config, cfg Config) (*s3.Client, error) {
	var fipsErr error
	s3c, err := s3crypt.NewS3Client(awscfg, func(o *s3.Options) {
		name := "" // the AWS configuration's
		if cfg.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.S3Endpoint)
			o.UsePathStyle = true
			name = "PHICRYPT_S3_ENDPOINT_URL"
		}
		fipsErr = batch.FIPSEndpoint("s3", name, cfg.FIPS, o.BaseEndpoint, &o.EndpointOptions.UseFIPSEndpoint)
	})
	if fipsErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, fipsErr)
	}
	if err != nil {
		return nil, fmt.Errorf("PHICRYPT_S3_ENDPOINT_URL: %w", err)
	}
	return s3c, nil
}
