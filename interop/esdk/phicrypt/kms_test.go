package phicrypt

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/interop/esdk/official"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// These tests put the official Go ESDK's AWS KMS keyrings (MPL v0.4.0)
// and phicrypt's keyring/kms on the same kmslocal: in-process behind
// httptest, and the process at $PHICRYPT_KMS_ENDPOINT when set (bash
// scripts/test.sh starts one).

const kmsEndpointEnv = "PHICRYPT_KMS_ENDPOINT"

// kmsServer is one kmslocal reached through the stock SDK client.
type kmsServer struct {
	name     string
	endpoint string
	region   string
	client   *awskms.Client
}

func (s kmsServer) createKey(t *testing.T, multiRegion bool) string {
	t.Helper()
	out, err := s.client.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String(t.Name()), MultiRegion: aws.Bool(multiRegion)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

func (s kmsServer) key(arn string) official.KMSKey {
	return official.KMSKey{KeyID: arn, Endpoint: s.endpoint, Region: s.region}
}

// kmsServers returns the in-process kmslocal, and the process when
// $PHICRYPT_KMS_ENDPOINT is set.
func kmsServers(t *testing.T) []kmsServer {
	t.Helper()
	in := kmstest.Start(t, kmslocal.Options{Region: "us-west-2"})
	region := in.Server.Region()
	out := []kmsServer{{"in-process", in.Endpoint, region, official.NewKMSClient(in.Endpoint, region)}}
	if u := os.Getenv(kmsEndpointEnv); u != "" {
		p := kmsServer{"process", u, kmslocal.DefaultRegion, official.NewKMSClient(u, kmslocal.DefaultRegion)}
		// The process names its own region in ARNs; clients use it too.
		a, err := kms.ParseARN(p.createKey(t, false))
		if err != nil {
			t.Fatal(err)
		}
		p.region, p.client = a.Region, official.NewKMSClient(u, a.Region)
		out = append(out, p)
	} else {
		t.Log("kmslocal process not tested: set " + kmsEndpointEnv + " (bash scripts/test.sh starts kmslocal)")
	}
	return out
}

func kmsClient(t *testing.T, kr envelope.Keyring) *envelope.Client {
	t.Helper()
	c, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var kmsContexts = []map[string]string{{}, {"purpose": "kms-interop", "unicode-ключ": "значение 🩺"}}

// TestKMSPhicryptToOfficial: the official ESDK's AWS KMS keyrings decrypt
// what phicrypt's keyring/kms wrote.
func TestKMSPhicryptToOfficial(t *testing.T) {
	for _, srv := range kmsServers(t) {
		a, b := srv.createKey(t, false), srv.createKey(t, false)
		single, err := kms.New(srv.client, a)
		if err != nil {
			t.Fatal(err)
		}
		both, err := kms.New(srv.client, a, kms.WithAdditionalKeys(b))
		if err != nil {
			t.Fatal(err)
		}
		account, _ := kms.ParseARN(a)
		filter := &official.KMSDiscoveryFilter{Partition: account.Partition, Accounts: []string{account.Account}}
		cases := []struct {
			name   string
			ours   envelope.Keyring
			theirs []official.KMSKey
		}{
			{"strict", single, []official.KMSKey{srv.key(a)}},
			{"second-key-alone", both, []official.KMSKey{srv.key(b)}},
			{"discovery", single, []official.KMSKey{{Endpoint: srv.endpoint, Region: srv.region, Kind: official.KMSDiscovery, Filter: filter}}},
			{"mrk-discovery", both, []official.KMSKey{{Endpoint: srv.endpoint, Region: srv.region, Kind: official.KMSMRKDiscovery}}},
		}
		for _, c := range cases {
			for _, suite := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
				for i, ec := range kmsContexts {
					name := fmt.Sprintf("%s/%s/%s/ec%d", srv.name, c.name, suite, i)
					p := pt(5000)
					cl, err := envelope.New(c.ours, envelope.WithSuite(suite), envelope.WithFrameLength(1024))
					if err != nil {
						t.Fatal(err)
					}
					ct, err := cl.Encrypt(ctx, p, ec)
					if err != nil {
						t.Fatalf("%s: encrypt: %v", name, err)
					}
					got, _, gotSuite, err := official.Decrypt(ctx, official.DecryptInput{KMS: c.theirs, Context: ec, Ciphertext: ct})
					if err != nil || !bytes.Equal(got, p) || gotSuite != uint16(suite) {
						t.Fatalf("%s: official decrypt: %v (suite %04x)", name, err, gotSuite)
					}
				}
			}
		}
		// The official keyring of another key cannot decrypt.
		ct, err := kmsClient(t, single).Encrypt(ctx, pt(10), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := official.Decrypt(ctx, official.DecryptInput{KMS: []official.KMSKey{srv.key(b)}, Ciphertext: ct}); err == nil {
			t.Fatalf("%s: official decrypted with the wrong key", srv.name)
		}
	}
}

// TestKMSOfficialToPhicrypt: phicrypt's keyring/kms decrypts what the
// official ESDK's AWS KMS keyrings wrote.
func TestKMSOfficialToPhicrypt(t *testing.T) {
	for _, srv := range kmsServers(t) {
		a, b, m := srv.createKey(t, false), srv.createKey(t, false), srv.createKey(t, true)
		mustKR := func(kr envelope.Keyring, err error) envelope.Keyring {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return kr
		}
		cases := []struct {
			name   string
			theirs []official.KMSKey
			ours   []envelope.Keyring
		}{
			{"strict", []official.KMSKey{srv.key(a)},
				[]envelope.Keyring{mustKR(kms.New(srv.client, a)), mustKR(kms.NewDiscovery(srv.client, nil))}},
			{"multi", []official.KMSKey{srv.key(a), srv.key(b)},
				[]envelope.Keyring{mustKR(kms.New(srv.client, a)), mustKR(kms.New(srv.client, b))}},
			{"mrk", []official.KMSKey{{KeyID: m, Endpoint: srv.endpoint, Region: srv.region, Kind: official.KMSMRK}},
				[]envelope.Keyring{mustKR(kms.NewMRK(srv.client, m)), mustKR(kms.NewMRKDiscovery(srv.client, srv.region, nil))}},
		}
		for _, c := range cases {
			for _, suite := range []uint16{0, 0x0478, 0x0578} {
				for i, ec := range kmsContexts {
					name := fmt.Sprintf("%s/%s/%04x/ec%d", srv.name, c.name, suite, i)
					p := pt(3000)
					ct, err := official.Encrypt(ctx, official.EncryptInput{KMS: c.theirs, Suite: suite, FrameLength: 512, Context: ec, Plaintext: p})
					if err != nil {
						t.Fatalf("%s: official encrypt: %v", name, err)
					}
					h, err := envelope.ParseHeader(bytes.NewReader(ct))
					if err != nil {
						t.Fatal(err)
					}
					for j, edk := range h.EncryptedDataKeys {
						if edk.ProviderID != kms.ProviderID || string(edk.ProviderInfo) != c.theirs[j].KeyID {
							t.Fatalf("%s: official EDK %d: %q %q", name, j, edk.ProviderID, edk.ProviderInfo)
						}
					}
					for _, kr := range c.ours {
						got, _, err := kmsClient(t, kr).Decrypt(ctx, ct, envelope.WithExpectedContext(ec))
						if err != nil || !bytes.Equal(got, p) {
							t.Fatalf("%s: %v: %v", name, kr, err)
						}
					}
				}
			}
		}
	}
}

// TestKMSVectorsWithOfficial: the official ESDK decrypts every test of the
// manifest `vectors encrypt --kms-endpoint` writes, aws-kms ones included,
// against the same kmslocal.
func TestKMSVectorsWithOfficial(t *testing.T) {
	endpoint := kmstest.New(t).Endpoint // the process of $PHICRYPT_KMS_ENDPOINT, or one in this process
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./cmd/vectors", "encrypt", dir, "--kms-endpoint", endpoint)
	cmd.Dir = filepath.Join("..", "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vectors encrypt: %v\n%s", err, out)
	}
	n, err := official.RunDecryptManifestKMS(ctx, filepath.Join(dir, "manifest.json"), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("official Go ESDK decrypted %d phicrypt vectors, aws-kms included, through kmslocal at %s", n, endpoint)
	if _, err := official.RunDecryptManifest(ctx, filepath.Join(dir, "manifest.json")); err == nil {
		t.Fatal("aws-kms tests passed without a KMS endpoint")
	}
}
