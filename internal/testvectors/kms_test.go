package testvectors

import (
	"context"
	"errors"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// kmsClients serves an in-process kmslocal and returns a client for it,
// and the KMSClients of that one server (its region only).
func kmsClients(t *testing.T) (*awskms.Client, KMSClients) {
	t.Helper()
	e := kmstest.Start(t, kmslocal.Options{Region: "us-west-2"})
	return e.Client, func(region string) (kms.Client, error) {
		if region != e.Server.Region() {
			return nil, errors.New("no KMS client for region " + region)
		}
		return e.Client, nil
	}
}

// TestWriteKMS writes the AWS KMS tests with keys made in kmslocal and runs
// the manifest with and without the KMS hook.
func TestWriteKMS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes the full manifest first; skipped in -short")
	}
	ctx := context.Background()
	client, clients := kmsClients(t)
	dir := t.TempDir()
	raw, err := WriteEncrypted(ctx, dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	n, err := WriteKMS(ctx, dir, client)
	if err != nil {
		t.Fatal(err)
	}
	if n != 17 {
		t.Fatalf("WriteKMS wrote %d tests, want 17", n)
	}
	m, err := LoadDecryptManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Tests) != raw+n {
		t.Fatalf("manifest has %d tests, want %d + %d", len(m.Tests), raw, n)
	}
	rs := m.Run(ctx, Options{KMS: NewKMSKeyrings(clients)})
	if p, f, s := Summary(rs); p != raw+n || f != 0 || s != 0 {
		for _, r := range rs {
			if r.Status != Passed {
				t.Errorf("%s: %v", r.Name, r.Err)
			}
		}
		t.Fatalf("with KMS: %d passed, %d failed, %d skipped of %d", p, f, s, raw+n)
	}
	// Without the hook every test that needs KMS is skipped, the rest pass.
	for _, r := range m.Run(ctx, Options{}) {
		kmsTest := strings.Contains(r.Name, "kms")
		if kmsTest && r.Status != Skipped || !kmsTest && r.Status != Passed {
			t.Errorf("without KMS: %s: status %d: %v", r.Name, r.Status, r.Err)
		}
	}
	// A region without a client fails the tests of its keys.
	none := func(string) (kms.Client, error) { return nil, errors.New("no client") }
	for _, r := range m.Run(ctx, Options{KMS: NewKMSKeyrings(none)}) {
		if strings.Contains(r.Name, "kms") && !strings.Contains(r.Name, "negative") && r.Status != Failed {
			t.Errorf("no KMS client: %s: status %d", r.Name, r.Status)
		}
	}
}

// TestNewKMSKeyrings maps each master key type to its keyring.
func TestNewKMSKeyrings(t *testing.T) {
	_, clients := kmsClients(t)
	hook := NewKMSKeyrings(clients)
	const arn = "arn:aws:kms:us-west-2:111122223333:key/mrk-1"
	key := &Key{Type: kmsType, KeyID: arn}
	for _, c := range []struct {
		mk   MasterKey
		key  *Key
		want string // the keyring's String prefix, or "" for an error
	}{
		{MasterKey{Type: kmsType, Key: "k"}, key, "AWS KMS keyring " + arn},
		{MasterKey{Type: mrkType, Key: "k"}, key, "AWS KMS MRK keyring " + arn},
		{MasterKey{Type: discoveryType, DefaultMRKRegion: "us-west-2"}, nil, "AWS KMS MRK discovery keyring (us-west-2)"},
		{MasterKey{Type: discoveryType, DefaultMRKRegion: "us-west-2", DiscoveryFilter: &DiscoveryFilter{Partition: "aws", AccountIDs: []string{"111122223333"}}},
			nil, "AWS KMS MRK discovery keyring (us-west-2) for aws accounts 111122223333"},
		{MasterKey{Type: discoveryType, DefaultMRKRegion: "us-west-2", DiscoveryFilter: &DiscoveryFilter{Partition: "aws"}}, nil, ""},
		{MasterKey{Type: discoveryType, DefaultMRKRegion: "eu-west-1"}, nil, ""},
		{MasterKey{Type: kmsType, Key: "k"}, &Key{Type: "symmetric", KeyID: arn}, ""},
		{MasterKey{Type: kmsType, Key: "k"}, &Key{Type: kmsType, KeyID: "alias/x"}, ""},
		{MasterKey{Type: kmsType, Key: "k"}, &Key{Type: kmsType, KeyID: "arn:aws:kms:eu-west-1:111122223333:key/k"}, ""},
		{MasterKey{Type: kmsType, Key: "k"}, nil, ""},
	} {
		kr, err := hook(c.mk, c.key)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%+v: built %v, want an error", c.mk, kr)
		case c.want != "" && err != nil:
			t.Errorf("%+v: %v", c.mk, err)
		case c.want != "":
			if s := kr.(interface{ String() string }).String(); s != c.want {
				t.Errorf("%+v: keyring %q, want %q", c.mk, s, c.want)
			}
		}
	}
}
