package s3crypt

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/phicrypt/phicrypt/internal/endpoint"
)

// guardEndpoint wraps an SDK HTTP client so that every request whose final
// URL CheckEndpoint's rule refuses fails with ErrInsecureEndpoint before
// any connection is made, and is not retried.
func guardEndpoint(c aws.HTTPClient) aws.HTTPClient {
	return endpoint.Guard(c, ErrInsecureEndpoint)
}
