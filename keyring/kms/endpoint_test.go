package kms_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/phicrypt/phicrypt/keyring/kms"
)

func TestCheckEndpoint(t *testing.T) {
	ok := []string{
		"https://kms.us-west-2.amazonaws.com",
		"https://kms-fips.us-gov-west-1.amazonaws.com:443/",
		"HTTPS://kms.example.internal",
		"https://10.0.0.5:8443",
		"http://127.0.0.1:4599",
		"http://127.8.9.10:4599", // all of 127.0.0.0/8 is loopback
		"http://[::1]:4599",
		"http://localhost:4599",
		"http://LocalHost",
	}
	for _, u := range ok {
		t.Run(u, func(t *testing.T) {
			if err := kms.CheckEndpoint(u); err != nil {
				t.Errorf("CheckEndpoint(%q): %v", u, err)
			}
		})
	}
	bad := []struct{ u, why string }{
		{"http://kms.us-west-2.amazonaws.com", "plain http"},
		{"http://10.0.0.5:4599", "plain http to a private address"},
		{"http://0.0.0.0:4599", "plain http to the unspecified address"},
		{"http://[::ffff:10.0.0.1]:4599", "plain http to a mapped address"},
		{"http://localhost.example.com", "plain http to a name that starts with localhost"},
		{"http://127.0.0.1.nip.io", "plain http to a name that starts with a loopback address"},
		{"https://user:secret@kms.example.com", "user info"},
		{"http://user@127.0.0.1:4599", "user info on loopback"},
		{"https://kms.example.com?x=1", "query"},
		{"https://kms.example.com#f", "fragment"},
		{"ftp://kms.example.com", "scheme ftp"},
		{"kms.example.com", "no scheme"},
		{"https://", "no host"},
		{"https://:443", "empty host name"},
		{"", "empty"},
		{"http://%zz", "unparsable"},
	}
	for _, c := range bad {
		t.Run(c.why, func(t *testing.T) {
			err := kms.CheckEndpoint(c.u)
			if err == nil {
				t.Errorf("CheckEndpoint(%q) (%s) accepted", c.u, c.why)
				return
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("CheckEndpoint(%q) error shows the password: %v", c.u, err)
			}
		})
	}
}

func TestNewClient(t *testing.T) {
	ctx := context.Background()
	cfg := aws.Config{Region: "us-east-1"}
	c, err := kms.NewClient(ctx, cfg, "http://127.0.0.1:4599")
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(c.Options().BaseEndpoint); got != "http://127.0.0.1:4599" {
		t.Errorf("BaseEndpoint %q", got)
	}
	if c, err = kms.NewClient(ctx, cfg, ""); err != nil || c.Options().BaseEndpoint != nil {
		t.Errorf("empty endpoint: %v, BaseEndpoint %v", err, c.Options().BaseEndpoint)
	}
	if _, err := kms.NewClient(ctx, cfg, "http://kms.example.com"); err == nil {
		t.Error("NewClient accepted plain http to a remote host")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := kms.NewClient(cancelled, cfg, ""); err == nil {
		t.Error("NewClient ignored a cancelled context")
	}
}
