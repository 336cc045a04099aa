package testvectors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
	"github.com/phicrypt/phicrypt/keyring/kms"
)

// Master key types of AWS KMS keys in decrypt manifests.
const (
	kmsType       = "aws-kms"                     // strict keyring of the key's ARN
	mrkType       = "aws-kms-mrk-aware"           // MRK-aware strict keyring
	discoveryType = "aws-kms-mrk-aware-discovery" // MRK-aware discovery keyring; names no key
)

// KMSClients returns a KMS client for region.
type KMSClients func(region string) (kms.Client, error)

// NewKMSKeyrings returns the KMS hook of Options: an aws-kms master key
// becomes kms.New of its key's ARN, aws-kms-mrk-aware
// kms.NewMRK, each with the client of the ARN's region; and
// aws-kms-mrk-aware-discovery kms.NewMRKDiscovery with the client of
// its default-mrk-region and its discovery filter.
func NewKMSKeyrings(clients KMSClients) KMSKeyrings {
	return func(mk MasterKey, key *Key) (envelope.Keyring, error) {
		if mk.Type == discoveryType {
			c, err := clients(mk.DefaultMRKRegion)
			if err != nil {
				return nil, err
			}
			var f *kms.DiscoveryFilter
			if mk.DiscoveryFilter != nil {
				f = &kms.DiscoveryFilter{Partition: mk.DiscoveryFilter.Partition, Accounts: mk.DiscoveryFilter.AccountIDs}
			}
			return kms.NewMRKDiscovery(c, mk.DefaultMRKRegion, f)
		}
		if key == nil || key.Type != kmsType {
			return nil, fmt.Errorf("%s master key %q: not an aws-kms key", mk.Type, mk.Key)
		}
		arn, err := kms.ParseARN(key.KeyID)
		if err != nil {
			return nil, err
		}
		c, err := clients(arn.Region)
		if err != nil {
			return nil, err
		}
		if mk.Type == mrkType {
			return kms.NewMRK(c, key.KeyID)
		}
		return kms.New(c, key.KeyID)
	}
}

// WriteKMS adds AWS KMS tests to the manifest WriteEncrypted wrote in dir,
// with keys it creates through client (a development KMS such as
// kmslocal: the keys are new and stay there). Messages are encrypted under
// a single-Region key, a multi-Region key, and the raw AES key with the
// single-Region key, for each writable suite; they are decrypted by an
// aws-kms, an aws-kms-mrk-aware and an aws-kms-mrk-aware-discovery master
// key. One test must fail: a message for one key read with another. It
// returns the number of tests added.
func WriteKMS(ctx context.Context, dir string, client *awskms.Client) (int, error) {
	m, err := LoadDecryptManifest(dir)
	if err != nil {
		return 0, err
	}
	aesMK := MasterKey{Type: "raw", Key: "aes-256", ProviderID: Namespace, EncryptionAlgorithm: "aes"}
	aesKey, ok := m.keys.Keys[aesMK.Key]
	if !ok {
		return 0, fmt.Errorf("%s: keys manifest has no %q key (write it with WriteEncrypted)", dir, aesMK.Key)
	}
	aesKR, err := rawKeyring(aesMK, aesKey)
	if err != nil {
		return 0, err
	}
	arns, err := m.createKMSKeys(ctx, client)
	if err != nil {
		return 0, err
	}
	sets, err := kmsKeySets(client, arns, aesMK, aesKR)
	if err != nil {
		return 0, err
	}
	n, err := m.addKMS(ctx, dir, sets)
	if err != nil {
		return 0, err
	}
	ct, err := os.ReadFile(filepath.Join(dir, "ciphertexts", "phicrypt-0478-kms-one"))
	if err != nil {
		return 0, err
	}
	if err := m.addTest("phicrypt-kms-negative-wrong-key", "a message for one AWS KMS key read with another",
		ct, []MasterKey{{Type: kmsType, Key: "kms-key-other"}}, ""); err != nil {
		return 0, err
	}
	if err := m.save(); err != nil {
		return 0, err
	}
	return n + 1, nil
}

// createKMSKeys creates the keys "kms-key", "kms-key-other" (single-Region)
// and "kms-mrk" (multi-Region) through client, adds them to the keys
// manifest as aws-kms keys, and returns their ARNs by name.
func (m *DecryptManifest) createKMSKeys(ctx context.Context, client *awskms.Client) (map[string]string, error) {
	arns := map[string]string{}
	for _, k := range []struct {
		name string
		mrk  bool
	}{{"kms-key", false}, {"kms-key-other", false}, {"kms-mrk", true}} {
		out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{
			Description: aws.String("phicrypt test vectors: " + k.name),
			MultiRegion: aws.Bool(k.mrk),
		})
		if err != nil {
			return nil, fmt.Errorf("KMS CreateKey: %w", err)
		}
		arns[k.name] = aws.ToString(out.KeyMetadata.Arn)
		m.keys.Keys[k.name] = &Key{Encrypt: true, Decrypt: true, Type: kmsType, KeyID: arns[k.name]}
	}
	return arns, nil
}

// kmsKeySets are the key sets of the keys createKMSKeys made: the
// single-Region key, the multi-Region key read by an MRK-aware and by a
// discovery master key, and aesKR with the single-Region key. It refuses a
// "kms-mrk" that is not a multi-Region key.
func kmsKeySets(client *awskms.Client, arns map[string]string, aesMK MasterKey, aesKR envelope.Keyring) ([]keySet, error) {
	mrkARN, err := kms.ParseARN(arns["kms-mrk"])
	if err != nil {
		return nil, err
	}
	if !mrkARN.IsMRK() {
		return nil, fmt.Errorf("KMS CreateKey with MultiRegion returned %s, not a multi-Region key", mrkARN)
	}
	kmsKR, err := kms.New(client, arns["kms-key"])
	if err != nil {
		return nil, err
	}
	mrkKR, err := kms.NewMRK(client, arns["kms-mrk"])
	if err != nil {
		return nil, err
	}
	aesKMS, err := keyring.NewMulti(aesKR, kmsKR)
	if err != nil {
		return nil, err
	}
	kmsMK := MasterKey{Type: kmsType, Key: "kms-key"}
	return []keySet{
		{"kms", kmsKR, []MasterKey{kmsMK}},
		{"kms-mrk", mrkKR, []MasterKey{{Type: mrkType, Key: "kms-mrk"}}},
		{"kms-mrk-discovery", mrkKR, []MasterKey{{Type: discoveryType, DefaultMRKRegion: mrkARN.Region,
			DiscoveryFilter: &DiscoveryFilter{Partition: mrkARN.Partition, AccountIDs: []string{mrkARN.Account}}}}},
		{"aes+kms", aesKMS, []MasterKey{aesMK, kmsMK}},
	}, nil
}

// addKMS adds a test for every writable suite, the plaintexts "one" and
// "small" in dir, and every set of sets, and returns how many it added.
func (m *DecryptManifest) addKMS(ctx context.Context, dir string, sets []keySet) (int, error) {
	ec := map[string]string{"purpose": "kms-vectors", "unicode-ключ": "значение 🩺"}
	n := 0
	for _, suite := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		for _, pt := range []string{"one", "small"} {
			p, err := os.ReadFile(filepath.Join(dir, "plaintexts", pt))
			if err != nil {
				return 0, err
			}
			for _, s := range sets {
				name := fmt.Sprintf("phicrypt-%04x-%s-%s", uint16(suite), s.name, pt)
				desc := fmt.Sprintf("phicrypt suite %s, %d-byte plaintext, AWS KMS keys %s", suite, len(p), s.name)
				if err := m.addEncrypted(ctx, name, desc, s, p, pt, ec, envelope.WithSuite(suite)); err != nil {
					return 0, err
				}
				n++
			}
		}
	}
	return n, nil
}

// save writes the keys manifest and then the manifest back to their files.
func (m *DecryptManifest) save() error {
	kp, err := m.resolve(m.Keys)
	if err != nil {
		return err
	}
	if err := writeJSON(kp, m.keys); err != nil {
		return err
	}
	return writeJSON(filepath.Join(m.dir, "manifest.json"), m)
}

// addTest writes ciphertext ct under name and adds a test of it: decrypt
// with mks to plaintexts/<pt>, or fail when pt is "".
func (m *DecryptManifest) addTest(name, desc string, ct []byte, mks []MasterKey, pt string) error {
	if _, dup := m.Tests[name]; dup {
		return errors.New("duplicate test " + name)
	}
	if err := os.WriteFile(filepath.Join(m.dir, "ciphertexts", name), ct, 0o644); err != nil {
		return err
	}
	t := &DecryptTest{Description: desc, Ciphertext: "file://ciphertexts/" + name, MasterKeys: mks, Result: &Outcome{}}
	if pt == "" {
		t.Result.Error = &struct {
			Description string `json:"error-description"`
		}{desc}
	} else {
		t.Result.Output = &struct {
			Plaintext string `json:"plaintext"`
		}{"file://plaintexts/" + pt}
	}
	m.Tests[name] = t
	return nil
}
