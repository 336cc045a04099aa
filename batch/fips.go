package batch

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/phicrypt/phicrypt/internal/endpoint"
)

// ErrFIPSEndpoint reports an explicit endpoint that FIPS mode refuses: one
// that is neither an AWS FIPS endpoint nor on loopback.
var ErrFIPSEndpoint = errors.New("not a FIPS endpoint")

// CheckFIPSEndpoint accepts, for service "kms" or "s3", an endpoint on
// loopback or an https AWS FIPS endpoint (endpoint.IsFIPS); its error
// wraps ErrFIPSEndpoint and names flag, where u came from. KeyOptions.FIPS
// and S3Options.FIPS check with it; so does a program that builds its own
// clients (the Lambda function).
func CheckFIPSEndpoint(service, u, flag string) error {
	if endpoint.IsFIPS(service, u) {
		return nil
	}
	shown := u
	if len(shown) > 200 {
		shown = shown[:200] + "..."
	}
	return fmt.Errorf("%w: %s %q: with FIPS on, %s requests go to the AWS FIPS endpoint (https://%s-fips.REGION.amazonaws.com), or to loopback for tests", ErrFIPSEndpoint, flag, shown, strings.ToUpper(service), service)
}

// FIPSEndpoint decides a client's FIPS endpoint state: with fips (or FIPS
// already on in the AWS configuration, AWS_USE_FIPS_ENDPOINT), a client
// without an explicit endpoint resolves AWS's FIPS endpoint, and an
// explicit one (base, from a flag or the AWS configuration) must pass
// CheckFIPSEndpoint and is used as is: the SDK refuses FIPS with a custom
// endpoint, and the endpoint is already known to be FIPS or local. An
// empty flag names the AWS configuration.
func FIPSEndpoint(service, flag string, fips bool, base *string, state *aws.FIPSEndpointState) error {
	if !fips && *state != aws.FIPSEndpointStateEnabled {
		return nil
	}
	if base == nil {
		*state = aws.FIPSEndpointStateEnabled
		return nil
	}
	if flag == "" {
		flag = "endpoint from the AWS configuration (AWS_ENDPOINT_URL_" + strings.ToUpper(service) + ", AWS_ENDPOINT_URL or endpoint_url)"
	}
	if err := CheckFIPSEndpoint(service, *base, flag); err != nil {
		return err
	}
	*state = aws.FIPSEndpointStateUnset
	return nil
}

// imdsNeeded reports whether the credential chain may use EC2 instance
// metadata for a client of service whose endpoint flag is flagURL: not
// when the endpoint (the flag, else AWS_ENDPOINT_URL_<SERVICE> or
// AWS_ENDPOINT_URL) is on loopback. A local server (kmslocal, an S3 test
// server) takes any credentials, so an instance role is never the one
// wanted there, and without credentials the run fails at once naming the
// fix, not after an IMDS warning and timeout.
func imdsNeeded(service, flagURL string) bool {
	u := flagURL
	if u == "" && !strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		if u = os.Getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(service)); u == "" {
			u = os.Getenv("AWS_ENDPOINT_URL")
		}
	}
	if u == "" {
		return true
	}
	p, err := url.Parse(u)
	return err != nil || !endpoint.IsLoopback(p.Hostname())
}
