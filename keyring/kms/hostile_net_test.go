package kms_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/phicrypt/phicrypt/internal/endpoint/endpointtest"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// Attack: AWS_ENDPOINT_URL_KMS or endpoint_url in the shared config file
// (as a hostile environment or dotfile sets it) sends data keys over plain
// http to a remote host; only an explicit endpoint argument was checked.
func TestHostileEndpointFromConfig(t *testing.T) {
	for _, src := range endpointtest.Sources("kms") {
		t.Run(src.Name, func(t *testing.T) {
			endpointtest.Isolate(t, "kms", &src)
			hc := &endpointtest.CountingClient{}
			c, err := kms.NewClient(context.Background(), endpointtest.LoadConfig(t, "us-east-1", hc), "")
			if !errors.Is(err, kms.ErrInsecureEndpoint) {
				t.Fatalf("NewClient = %v, want ErrInsecureEndpoint", err)
			}
			if c != nil || hc.N.Load() != 0 {
				t.Fatalf("client %v, %d requests sent", c, hc.N.Load())
			}
		})
	}
}

// Attack: an endpoint chosen after construction (a custom resolver, a
// per-call option) bypasses a check done only when the client is built.
func TestHostileEndpointAtRequest(t *testing.T) {
	endpointtest.Isolate(t, "kms", nil)
	hc := &endpointtest.CountingClient{}
	cfg := endpointtest.LoadConfig(t, "us-east-1", hc)
	cfg.ServiceOptions = append(cfg.ServiceOptions, func(_ string, v any) {
		if o, ok := v.(*awskms.Options); ok {
			o.EndpointResolverV2 = remoteResolver{}
		}
	})
	c, err := kms.NewClient(context.Background(), cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/x"), Plaintext: []byte("k")})
	if !errors.Is(err, kms.ErrInsecureEndpoint) {
		t.Fatalf("Encrypt via resolver = %v, want ErrInsecureEndpoint", err)
	}
	c2, err := kms.NewClient(context.Background(), endpointtest.LoadConfig(t, "us-east-1", hc), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/x"), Plaintext: []byte("k")},
		func(o *awskms.Options) { o.BaseEndpoint = aws.String(endpointtest.Remote) })
	if !errors.Is(err, kms.ErrInsecureEndpoint) {
		t.Fatalf("Encrypt with per-call endpoint = %v, want ErrInsecureEndpoint", err)
	}
	if n := hc.N.Load(); n != 0 {
		t.Fatalf("%d requests reached the HTTP client", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v: retried?", d)
	}
}

type remoteResolver struct{}

func (remoteResolver) ResolveEndpoint(context.Context, awskms.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u, err := url.Parse(endpointtest.Remote)
	if err != nil {
		return smithyendpoints.Endpoint{}, err
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}

// A loopback endpoint from the environment still works.
func TestEndpointFromConfigLoopback(t *testing.T) {
	endpointtest.Isolate(t, "kms", nil)
	env := kmstest.Start(t, kmslocal.Options{})
	t.Setenv("AWS_ENDPOINT_URL_KMS", env.Endpoint)
	hc := &endpointtest.CountingClient{}
	c, err := kms.NewClient(context.Background(), endpointtest.LoadConfig(t, "us-east-1", hc), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	if hc.N.Load() != 1 {
		t.Fatalf("%d requests, want 1", hc.N.Load())
	}
}
