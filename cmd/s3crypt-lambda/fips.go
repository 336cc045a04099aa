package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/internal/endpoint"
)

// checkFIPSEndpoint accepts, as package batch does for --fips, an endpoint
// of service ("kms" or "s3") endpoint.IsFIPS accepts; errors wrap
// batch.ErrFIPSEndpoint. name says where the endpoint came from.
func checkFIPSEndpoint(service, u, name string) error {
	if endpoint.IsFIPS(service, u) {
		return nil
	}
	return fmt.Errorf("%s %s: %w: with FIPS on (PHICRYPT_FIPS, AWS_USE_FIPS_ENDPOINT), %s requests go to the AWS FIPS endpoint (https://%s-fips.REGION.amazonaws.com), or to loopback for tests",
		name, batch.Quote(u), batch.ErrFIPSEndpoint, strings.ToUpper(service), service)
}

// fipsS3 sets the FIPS endpoint state of an S3 client's options, as package
// batch does for its own clients: with fips (or AWS_USE_FIPS_ENDPOINT), no
// explicit endpoint resolves AWS's FIPS endpoint, and an explicit one must
// pass checkFIPSEndpoint and is used as is (the SDK refuses FIPS with a
// custom endpoint).
func fipsS3(o *s3.Options, fips bool, name string) error {
	if !fips && o.EndpointOptions.UseFIPSEndpoint != aws.FIPSEndpointStateEnabled {
		return nil
	}
	if o.BaseEndpoint == nil {
		o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		return nil
	}
	if err := checkFIPSEndpoint("s3", *o.BaseEndpoint, name); err != nil {
		return err
	}
	o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateUnset
	return nil
}
