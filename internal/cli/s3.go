package cli

import (
	"context"
	"errors"
)

// S3Options say how S3 is reached.
type S3Options struct {
	EndpointURL     string // "" for AWS; https, or http to loopback only
	Region, Profile string
}

var errS3 = errors.New("s3:// locations are not supported yet")

func newS3Source(context.Context, location, *Options) (source, error) { return nil, errS3 }
func newS3Sink(context.Context, location, *Options) (sink, error)     { return nil, errS3 }
