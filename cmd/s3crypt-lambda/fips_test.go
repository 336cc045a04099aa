package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/phicrypt/phicrypt/batch"
)

// fipsEnv is a valid environment plus extra.
func fipsEnv(extra ...string) func(string) string {
	env := map[string]string{"PHICRYPT_KEY": "aes:k", "PHICRYPT_DESTINATION": "s3://b/"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return func(k string) string { return env[k] }
}

func fipsModule(on bool) func() bool { return func() bool { return on } }

// TestFIPSConfig: PHICRYPT_FIPS sets FIPS on both key options and the
// configuration, and fails the cold start without Go's FIPS 140-3 module,
// with a value that is no boolean, or with an explicit endpoint that is not
// a FIPS one nor on loopback.
func TestFIPSConfig(t *testing.T) {
	c, err := configFromEnv(fipsEnv("PHICRYPT_FIPS", "true"), fipsModule(true))
	if err != nil || !c.FIPS || !c.Keys.FIPS || !c.DecryptKeys.FIPS {
		t.Fatalf("PHICRYPT_FIPS=true, module on: FIPS %v, Keys.FIPS %v, DecryptKeys.FIPS %v, %v", c.FIPS, c.Keys.FIPS, c.DecryptKeys.FIPS, err)
	}
	_, err = configFromEnv(fipsEnv("PHICRYPT_FIPS", "true"), fipsModule(false))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "PHICRYPT_FIPS") || !strings.Contains(err.Error(), "GODEBUG=fips140=on") {
		t.Errorf("PHICRYPT_FIPS=true, module off: %v, want ErrConfig naming PHICRYPT_FIPS and GODEBUG=fips140=on", err)
	}
	for _, v := range []string{"", "false"} {
		if c, err := configFromEnv(fipsEnv("PHICRYPT_FIPS", v), fipsModule(false)); err != nil || c.FIPS || c.Keys.FIPS || c.DecryptKeys.FIPS {
			t.Errorf("PHICRYPT_FIPS=%q, module off: FIPS %v, %v", v, c.FIPS || c.Keys.FIPS || c.DecryptKeys.FIPS, err)
		}
	}
	if _, err := configFromEnv(fipsEnv("PHICRYPT_FIPS", "maybe"), fipsModule(true)); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "PHICRYPT_FIPS") {
		t.Errorf("PHICRYPT_FIPS=maybe: %v, want ErrConfig", err)
	}
	for _, c := range []struct {
		name, url string
		ok        bool
	}{
		{"PHICRYPT_KMS_ENDPOINT_URL", "https://kms.us-east-1.amazonaws.com", false},
		{"PHICRYPT_KMS_ENDPOINT_URL", "https://kms-fips.example.com", false},
		{"PHICRYPT_KMS_ENDPOINT_URL", "https://s3-fips.us-east-1.amazonaws.com", false},
		{"PHICRYPT_KMS_ENDPOINT_URL", "https://kms-fips.us-east-1.amazonaws.com", true},
		{"PHICRYPT_KMS_ENDPOINT_URL", "http://127.0.0.1:4599", true},
		{"PHICRYPT_S3_ENDPOINT_URL", "https://s3.us-east-1.amazonaws.com", false},
		{"PHICRYPT_S3_ENDPOINT_URL", "https://s3-fips.dualstack.us-east-1.amazonaws.com", true},
		{"PHICRYPT_S3_ENDPOINT_URL", "http://localhost:9000", true},
	} {
		_, err := configFromEnv(fipsEnv("PHICRYPT_FIPS", "true", c.name, c.url), fipsModule(true))
		if c.ok && err != nil || !c.ok && (!errors.Is(err, ErrConfig) || !errors.Is(err, batch.ErrFIPSEndpoint) || !strings.Contains(err.Error(), c.name)) {
			t.Errorf("%s=%s: %v, want ok %v (else ErrConfig and ErrFIPSEndpoint naming it)", c.name, c.url, err, c.ok)
		}
		if _, err := configFromEnv(fipsEnv(c.name, c.url), fipsModule(false)); err != nil {
			t.Errorf("%s=%s without PHICRYPT_FIPS: %v", c.name, c.url, err)
		}
	}
}

// TestFIPSS3Client: with FIPS the S3 client resolves AWS's FIPS endpoint,
// keeps a loopback PHICRYPT_S3_ENDPOINT_URL, and refuses a non-FIPS
// endpoint from the AWS configuration.
func TestFIPSS3Client(t *testing.T) {
	for _, fips := range []bool{false, true} {
		c, err := newS3Client(aws.Config{Region: "us-west-2"}, Config{FIPS: fips})
		want := aws.FIPSEndpointStateUnset
		if fips {
			want = aws.FIPSEndpointStateEnabled
		}
		if err != nil || c.Options().EndpointOptions.UseFIPSEndpoint != want {
			t.Errorf("FIPS %v: %v, want FIPS endpoint state %v", fips, err, want)
		}
	}
	c, err := newS3Client(aws.Config{Region: "us-west-2"}, Config{FIPS: true, S3Endpoint: "http://127.0.0.1:9000"})
	if err != nil || aws.ToString(c.Options().BaseEndpoint) != "http://127.0.0.1:9000" || c.Options().EndpointOptions.UseFIPSEndpoint != aws.FIPSEndpointStateUnset {
		t.Errorf("FIPS, loopback endpoint: %v", err)
	}
	cfg := aws.Config{Region: "us-west-2", BaseEndpoint: aws.String("https://s3.example.com")}
	if _, err := newS3Client(cfg, Config{FIPS: true}); !errors.Is(err, ErrConfig) || !errors.Is(err, batch.ErrFIPSEndpoint) || !strings.Contains(err.Error(), "AWS configuration") {
		t.Errorf("FIPS, endpoint from the AWS configuration: %v, want ErrConfig and ErrFIPSEndpoint", err)
	}
	if _, err := newS3Client(cfg, Config{}); err != nil {
		t.Errorf("no FIPS, endpoint from the AWS configuration: %v", err)
	}
}
