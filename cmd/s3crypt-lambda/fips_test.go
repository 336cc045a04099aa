package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/internal/endpoint/endpointtest"
	"github.com/phicrypt/phicrypt/internal/s3test"
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

// TestBootstrapFIPS runs main with Go's FIPS 140-3 module off and on (the
// real fips140.Enabled): off, PHICRYPT_FIPS fails the cold start; on, the
// KMS clients of PHICRYPT_DECRYPT_KEY (its alias resolved at the cold
// start) and of PHICRYPT_KEY, and the S3 client, connect to the AWS FIPS
// endpoints, while a loopback S3 endpoint is still used. A proxy records
// the hosts and refuses them.
func TestBootstrapFIPS(t *testing.T) {
	awsEnv(t)
	p := startMain(t, "GODEBUG=fips140=off", "PHICRYPT_FIPS=true",
		"AWS_LAMBDA_RUNTIME_API=127.0.0.1:1", "PHICRYPT_KEY="+aesKey(t, "k"), "PHICRYPT_DESTINATION=s3://b/")
	select {
	case <-p.exited:
		if stderr := p.stderr.String(); p.cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr, "PHICRYPT_FIPS") || !strings.Contains(stderr, "GODEBUG=fips140=on") {
			t.Errorf("FIPS module off: exit %d, stderr:\n%s", p.cmd.ProcessState.ExitCode(), stderr)
		}
	case <-time.After(30 * time.Second): // a guard, not a synchronization
		t.Errorf("FIPS module off: main did not exit; stderr:\n%s", p.failure())
	}

	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-fips")
	put(t, srv, b, "in.txt", []byte("hello"))
	proxy, hosts := endpointtest.ConnectProxy(t)
	base := []string{"GODEBUG=fips140=on", "HTTPS_PROXY=" + proxy, "NO_PROXY=", "AWS_MAX_ATTEMPTS=1",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true", "AWS_REGION=" + s3test.Region, "PHICRYPT_DESTINATION=s3://" + b + "/enc/"}
	aes := aesKey(t, "k")
	for _, c := range []struct {
		name   string
		env    []string
		invoke bool   // the host is reached by a task, not at the cold start
		host   string // with PHICRYPT_FIPS=true; "": the AWS endpoint without it
		plain  string
	}{
		{"decrypt key", []string{"PHICRYPT_OP=reencrypt", "PHICRYPT_KEY=" + aes, "PHICRYPT_DECRYPT_KEY=alias/d"}, false,
			"kms-fips.us-east-1.amazonaws.com:443", "kms.us-east-1.amazonaws.com:443"},
		{"encrypt key, loopback S3", append(slices.Clone(srv.Env), "PHICRYPT_KEY=alias/k", "PHICRYPT_S3_ENDPOINT_URL="+srv.Endpoint), true,
			"kms-fips.us-east-1.amazonaws.com:443", "kms.us-east-1.amazonaws.com:443"},
		{"S3", []string{"PHICRYPT_KEY=" + aes}, true,
			b + ".s3-fips.us-east-1.amazonaws.com:443", b + ".s3.us-east-1.amazonaws.com:443"},
	} {
		for _, fips := range []bool{true, false} {
			env := append(append(slices.Clone(c.env), base...), "PHICRYPT_FIPS="+map[bool]string{true: "true", false: "false"}[fips])
			var got <-chan []byte
			if c.invoke {
				var api string
				api, got = runtimeAPI(t, event(t, "2.0", b, nil, obj{key: "in.txt"}))
				env = append(env, "AWS_LAMBDA_RUNTIME_API="+api)
			} else {
				env = append(env, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1")
			}
			before := len(hosts())
			p := startMain(t, env...)
			select {
			case <-got:
			case <-p.exited:
			case <-time.After(30 * time.Second): // a guard, not a synchronization
				t.Fatalf("%s, FIPS %v: neither a response nor an exit; stderr:\n%s", c.name, fips, p.failure())
			}
			p.stop()
			want := "CONNECT " + c.plain
			if fips {
				want = "CONNECT " + c.host
			}
			if seen := hosts()[before:]; !slices.Contains(seen, want) {
				t.Errorf("%s, PHICRYPT_FIPS=%v: requests %q, want %q", c.name, fips, seen, want)
			}
		}
	}
}
