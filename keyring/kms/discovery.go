package kms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
)

// DiscoveryFilter limits a discovery keyring to the keys of some accounts
// in one partition.
type DiscoveryFilter struct {
	Partition string   // e.g. "aws"
	Accounts  []string // e.g. "111122223333"; at least one
}

func (f *DiscoveryFilter) check() error {
	if f == nil {
		return nil
	}
	if f.Partition == "" || len(f.Accounts) == 0 || slices.Contains(f.Accounts, "") {
		return errors.New("kms: a discovery filter needs a partition and at least one non-empty account")
	}
	return nil
}

func (f *DiscoveryFilter) allows(a ARN) bool {
	return f == nil || (a.Partition == f.Partition && slices.Contains(f.Accounts, a.Account))
}

// DiscoveryKeyring is the AWS KMS discovery keyring (and, from
// NewMRKDiscovery, the MRK-aware discovery keyring). It cannot encrypt. It
// decrypts any "aws-kms" data key the filter allows, asking KMS to use the
// key its provider info names, so the caller's credentials decide what it
// can decrypt.
type DiscoveryKeyring struct {
	client      Client
	filter      *DiscoveryFilter
	grantTokens []string
	region      string // MRK-aware only
}

// NewDiscovery returns a discovery keyring. A nil filter allows every key
// ARN; with a filter, only keys of its partition and accounts are tried.
// Options: WithGrantTokens.
func NewDiscovery(client Client, filter *DiscoveryFilter, opts ...Option) (*DiscoveryKeyring, error) {
	return newDiscovery(client, "", filter, opts)
}

// NewMRKDiscovery returns the MRK-aware discovery keyring for a client of
// region. A multi-Region key's data key is decrypted by its replica in
// region (the provider info ARN with region substituted); a single-Region
// key's data key only if the key is in region. If client is the SDK's
// *kms.Client and its region differs from region, it fails.
func NewMRKDiscovery(client Client, region string, filter *DiscoveryFilter, opts ...Option) (*DiscoveryKeyring, error) {
	if region == "" {
		return nil, errors.New("kms: an MRK-aware discovery keyring needs the client's region")
	}
	if c, ok := client.(interface{ Options() awskms.Options }); ok {
		if r := c.Options().Region; r != region {
			return nil, fmt.Errorf("kms: MRK-aware discovery keyring for region %q with a KMS client of region %q", region, r)
		}
	}
	return newDiscovery(client, region, filter, opts)
}

func newDiscovery(client Client, region string, filter *DiscoveryFilter, opts []Option) (*DiscoveryKeyring, error) {
	if client == nil {
		return nil, errors.New("kms: nil KMS client")
	}
	if err := filter.check(); err != nil {
		return nil, err
	}
	c := buildConfig(opts)
	if len(c.additional) > 0 {
		return nil, errors.New("kms: a discovery keyring has no keys to add (WithAdditionalKeys)")
	}
	k := &DiscoveryKeyring{client: client, grantTokens: slices.Clone(c.grantTokens), region: region}
	if filter != nil {
		k.filter = &DiscoveryFilter{Partition: filter.Partition, Accounts: slices.Clone(filter.Accounts)}
	}
	return k, nil
}

func (k *DiscoveryKeyring) String() string {
	s := "AWS KMS discovery keyring"
	if k.region != "" {
		s = "AWS KMS MRK discovery keyring (" + k.region + ")"
	}
	if k.filter != nil {
		s += " for " + k.filter.Partition + " accounts " + strings.Join(k.filter.Accounts, ",")
	}
	return s
}

// OnEncrypt implements envelope.Keyring: it always fails, as a discovery
// keyring names no key to encrypt with.
func (k *DiscoveryKeyring) OnEncrypt(context.Context, *envelope.EncryptionMaterials) error {
	return fmt.Errorf("kms: %v cannot encrypt: it names no KMS key (use New)", k)
}

// OnDecrypt implements envelope.Keyring.
func (k *DiscoveryKeyring) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if err := checkDecryptMaterials(k, m); err != nil {
		return err
	}
	idx, arns, err := kmsEDKs(k, edks)
	if err != nil {
		return err
	}
	var errs []error
	for j, i := range idx {
		a := arns[j]
		if !k.filter.allows(a) {
			continue
		}
		if k.region != "" {
			if a.IsMRK() {
				a.Region = k.region
			} else if a.Region != k.region {
				continue
			}
		}
		info, id := string(edks[i].ProviderInfo), a.String()
		err := decryptOne(ctx, k.client, k.grantTokens, m, id, edks[i].Ciphertext)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("kms: %v: data key %d%s: %w", k, i, storedUnder(info, id), err))
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("kms: %v: no AWS KMS data key passes the filter", k))
	}
	return &envelope.NoDecryptionKeyError{EncryptedDataKeys: len(edks), Errs: errs}
}
