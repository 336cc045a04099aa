// Package official is a small wrapper around the official AWS Encryption SDK
// for Go (github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk v0.4.0)
// and the AWS Cryptographic Material Providers Library (MPL) v0.4.0.
//
// It exists for interoperability tests and the esdkgo command: it turns a
// flat description of keys, suite, frame length and encryption context into
// the keyrings and CMMs of the official SDK and runs one-shot Encrypt or
// Decrypt. It is not part of the phicrypt library.
//
// Keyring order: every AES key, then every RSA key, then every KMS key, in
// slice order. With one key that keyring is used directly; with several a
// multi-keyring is built whose generator is the first key in that order and
// whose children are the rest.
package official

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	mpl "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdk "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
)

// Static credentials the KMS client signs with. A local KMS-compatible test
// server accepts any signature; these are not secrets.
const (
	KMSAccessKeyID     = "AKID"
	KMSSecretAccessKey = "SECRET"
)

// Padding names accepted in RawRSAKey.Padding.
const (
	PaddingPKCS1      = "pkcs1"
	PaddingOAEPSHA1   = "oaep-sha1"
	PaddingOAEPSHA256 = "oaep-sha256"
	PaddingOAEPSHA384 = "oaep-sha384"
	PaddingOAEPSHA512 = "oaep-sha512"
)

// Commitment policy names accepted in EncryptInput/DecryptInput.CommitmentPolicy.
// The MPL enum spellings ("FORBID_ENCRYPT_ALLOW_DECRYPT", …) are accepted too.
const (
	PolicyForbidEncryptAllowDecrypt    = "forbid-encrypt-allow-decrypt"
	PolicyRequireEncryptAllowDecrypt   = "require-encrypt-allow-decrypt"
	PolicyRequireEncryptRequireDecrypt = "require-encrypt-require-decrypt"
)

// RawAESKey describes an MPL raw AES keyring. Key must be 16, 24 or 32 bytes
// and selects AES-GCM-128/192/256 wrapping.
type RawAESKey struct {
	Namespace, Name string
	Key             []byte
}

// RawRSAKey describes an MPL raw RSA keyring. PublicPEM is a PEM X.509
// SubjectPublicKeyInfo (needed to encrypt), PrivatePEM a PEM PKCS#8 private
// key (needed to decrypt). Padding is one of the Padding* constants.
type RawRSAKey struct {
	Namespace, Name       string
	PublicPEM, PrivatePEM []byte
	Padding               string
}

// KMSKey describes an MPL AWS KMS keyring whose client talks to Endpoint
// (a KMS-compatible server, e.g. "http://127.0.0.1:4599") in Region with
// the static credentials KMSAccessKeyID/KMSSecretAccessKey. An empty
// Endpoint leaves the SDK's default endpoint resolution; an empty Region
// means "us-west-2".
type KMSKey struct {
	KeyID    string // empty for the discovery kinds
	Endpoint string
	Region   string
	// Kind is the MPL keyring: KMSStrict (""), KMSMRK, KMSDiscovery or
	// KMSMRKDiscovery (whose region is Region).
	Kind string
	// Filter, if set, is the discovery filter of the discovery kinds.
	Filter      *KMSDiscoveryFilter
	GrantTokens []string
}

// KMSDiscoveryFilter limits a discovery keyring to accounts of a partition.
type KMSDiscoveryFilter struct {
	Partition string
	Accounts  []string
}

// Kinds of KMSKey.
const (
	KMSStrict       = ""              // CreateAwsKmsKeyring
	KMSMRK          = "mrk"           // CreateAwsKmsMrkKeyring
	KMSDiscovery    = "discovery"     // CreateAwsKmsDiscoveryKeyring
	KMSMRKDiscovery = "mrk-discovery" // CreateAwsKmsMrkDiscoveryKeyring
)

// EncryptInput is the input of Encrypt.
type EncryptInput struct {
	AES []RawAESKey
	RSA []RawRSAKey
	KMS []KMSKey
	// Suite is the algorithm suite ID (e.g. 0x0578); 0 means the SDK default
	// for the commitment policy.
	Suite uint16
	// FrameLength is the frame length in bytes; 0 means the SDK default (4096).
	FrameLength int64
	Context     map[string]string
	// RequiredContextKeys, when non-empty, wraps the default CMM in the MPL
	// required-encryption-context CMM: those pairs are authenticated but not
	// stored in the header.
	RequiredContextKeys []string
	// CommitmentPolicy is one of the Policy* constants; "" means the SDK
	// default (require-encrypt-require-decrypt).
	CommitmentPolicy string
	Plaintext        []byte
}

// DecryptInput is the input of Decrypt.
type DecryptInput struct {
	AES []RawAESKey
	RSA []RawRSAKey
	KMS []KMSKey
	// Context is the reproduced encryption context.
	Context             map[string]string
	RequiredContextKeys []string
	CommitmentPolicy    string
	Ciphertext          []byte
}

// Encrypt encrypts in.Plaintext with the official ESDK and returns the message.
func Encrypt(ctx context.Context, in EncryptInput) ([]byte, error) {
	client, err := newClient(in.CommitmentPolicy)
	if err != nil {
		return nil, err
	}
	mp, err := mpl.NewClient(mpltypes.MaterialProvidersConfig{})
	if err != nil {
		return nil, fmt.Errorf("official: mpl client: %w", err)
	}
	kr, err := keyring(ctx, mp, in.AES, in.RSA, in.KMS)
	if err != nil {
		return nil, err
	}
	req := esdktypes.EncryptInput{
		Plaintext:         in.Plaintext,
		EncryptionContext: in.Context,
	}
	if req.EncryptionContext == nil {
		req.EncryptionContext = map[string]string{}
	}
	if len(in.RequiredContextKeys) > 0 {
		cmm, err := requiredCMM(ctx, mp, kr, in.RequiredContextKeys)
		if err != nil {
			return nil, err
		}
		req.MaterialsManager = cmm
	} else {
		req.Keyring = kr
	}
	if in.Suite != 0 {
		id, err := SuiteID(in.Suite)
		if err != nil {
			return nil, err
		}
		req.AlgorithmSuiteId = &id
	}
	if in.FrameLength != 0 {
		fl := in.FrameLength
		req.FrameLength = &fl
	}
	out, err := client.Encrypt(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("official: encrypt: %w", err)
	}
	return out.Ciphertext, nil
}

// Decrypt decrypts in.Ciphertext with the official ESDK. It returns the
// plaintext, the encryption context the SDK reports (header EC plus the
// reproduced required pairs) and the message's algorithm suite ID.
func Decrypt(ctx context.Context, in DecryptInput) ([]byte, map[string]string, uint16, error) {
	client, err := newClient(in.CommitmentPolicy)
	if err != nil {
		return nil, nil, 0, err
	}
	mp, err := mpl.NewClient(mpltypes.MaterialProvidersConfig{})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("official: mpl client: %w", err)
	}
	kr, err := keyring(ctx, mp, in.AES, in.RSA, in.KMS)
	if err != nil {
		return nil, nil, 0, err
	}
	req := esdktypes.DecryptInput{
		Ciphertext:        in.Ciphertext,
		EncryptionContext: in.Context,
	}
	if len(in.RequiredContextKeys) > 0 {
		cmm, err := requiredCMM(ctx, mp, kr, in.RequiredContextKeys)
		if err != nil {
			return nil, nil, 0, err
		}
		req.MaterialsManager = cmm
	} else {
		req.Keyring = kr
	}
	out, err := client.Decrypt(ctx, req)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("official: decrypt: %w", err)
	}
	suite, err := ParseSuite(string(out.AlgorithmSuiteId))
	if err != nil {
		return nil, nil, 0, err
	}
	return out.Plaintext, out.EncryptionContext, suite, nil
}

// SuiteID maps a numeric suite ID (e.g. 0x0578) to the MPL enum value.
func SuiteID(suite uint16) (mpltypes.ESDKAlgorithmSuiteId, error) {
	want := fmt.Sprintf("0x%04X", suite)
	for _, v := range mpltypes.ESDKAlgorithmSuiteId("").Values() {
		if strings.EqualFold(string(v), want) {
			return v, nil
		}
	}
	return "", fmt.Errorf("official: unknown ESDK algorithm suite 0x%04x", suite)
}

// ParseSuite parses a suite ID such as "0x0578", "0578" or "1400" (decimal
// is not accepted: the string is always hexadecimal, with or without 0x).
func ParseSuite(s string) (uint16, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	v, err := strconv.ParseUint(t, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("official: bad suite ID %q", s)
	}
	return uint16(v), nil
}

// PaddingScheme maps a padding name (Padding* constants; the MPL enum
// spellings are accepted too) to the MPL enum value.
func PaddingScheme(p string) (mpltypes.PaddingScheme, error) {
	switch strings.ToLower(p) {
	case PaddingPKCS1, "pkcs1-v1_5", "pkcs1v15":
		return mpltypes.PaddingSchemePkcs1, nil
	case PaddingOAEPSHA1, "oaep_sha1_mgf1", "oaep-sha1-mgf1":
		return mpltypes.PaddingSchemeOaepSha1Mgf1, nil
	case PaddingOAEPSHA256, "oaep_sha256_mgf1", "oaep-sha256-mgf1":
		return mpltypes.PaddingSchemeOaepSha256Mgf1, nil
	case PaddingOAEPSHA384, "oaep_sha384_mgf1", "oaep-sha384-mgf1":
		return mpltypes.PaddingSchemeOaepSha384Mgf1, nil
	case PaddingOAEPSHA512, "oaep_sha512_mgf1", "oaep-sha512-mgf1":
		return mpltypes.PaddingSchemeOaepSha512Mgf1, nil
	}
	return "", fmt.Errorf("official: unknown RSA padding %q", p)
}

// CommitmentPolicy maps a policy name (Policy* constants or the MPL enum
// spelling) to the MPL enum value. "" yields nil (SDK default).
func CommitmentPolicy(p string) (*mpltypes.ESDKCommitmentPolicy, error) {
	if p == "" {
		return nil, nil
	}
	norm := strings.ToUpper(strings.ReplaceAll(p, "-", "_"))
	for _, v := range mpltypes.ESDKCommitmentPolicy("").Values() {
		if string(v) == norm {
			return &v, nil
		}
	}
	return nil, fmt.Errorf("official: unknown commitment policy %q", p)
}

func newClient(policy string) (*esdk.Client, error) {
	pol, err := CommitmentPolicy(policy)
	if err != nil {
		return nil, err
	}
	c, err := esdk.NewClient(esdktypes.AwsEncryptionSdkConfig{CommitmentPolicy: pol})
	if err != nil {
		return nil, fmt.Errorf("official: esdk client: %w", err)
	}
	return c, nil
}

func requiredCMM(ctx context.Context, mp *mpl.Client, kr mpltypes.IKeyring, keys []string) (mpltypes.ICryptographicMaterialsManager, error) {
	def, err := mp.CreateDefaultCryptographicMaterialsManager(ctx,
		mpltypes.CreateDefaultCryptographicMaterialsManagerInput{Keyring: kr})
	if err != nil {
		return nil, fmt.Errorf("official: default CMM: %w", err)
	}
	cmm, err := mp.CreateRequiredEncryptionContextCMM(ctx, mpltypes.CreateRequiredEncryptionContextCMMInput{
		RequiredEncryptionContextKeys: keys,
		UnderlyingCMM:                 def,
	})
	if err != nil {
		return nil, fmt.Errorf("official: required-EC CMM: %w", err)
	}
	return cmm, nil
}

func keyring(ctx context.Context, mp *mpl.Client, aesKeys []RawAESKey, rsaKeys []RawRSAKey, kmsKeys []KMSKey) (mpltypes.IKeyring, error) {
	var krs []mpltypes.IKeyring
	for _, k := range aesKeys {
		var alg mpltypes.AesWrappingAlg
		switch len(k.Key) {
		case 16:
			alg = mpltypes.AesWrappingAlgAlgAes128GcmIv12Tag16
		case 24:
			alg = mpltypes.AesWrappingAlgAlgAes192GcmIv12Tag16
		case 32:
			alg = mpltypes.AesWrappingAlgAlgAes256GcmIv12Tag16
		default:
			return nil, fmt.Errorf("official: raw AES key %q: length %d, want 16, 24 or 32", k.Name, len(k.Key))
		}
		kr, err := mp.CreateRawAesKeyring(ctx, mpltypes.CreateRawAesKeyringInput{
			KeyName:      k.Name,
			KeyNamespace: k.Namespace,
			WrappingKey:  k.Key,
			WrappingAlg:  alg,
		})
		if err != nil {
			return nil, fmt.Errorf("official: raw AES keyring %q: %w", k.Name, err)
		}
		krs = append(krs, kr)
	}
	for _, k := range rsaKeys {
		pad, err := PaddingScheme(k.Padding)
		if err != nil {
			return nil, err
		}
		kr, err := mp.CreateRawRsaKeyring(ctx, mpltypes.CreateRawRsaKeyringInput{
			KeyName:       k.Name,
			KeyNamespace:  k.Namespace,
			PaddingScheme: pad,
			PublicKey:     k.PublicPEM,
			PrivateKey:    k.PrivatePEM,
		})
		if err != nil {
			return nil, fmt.Errorf("official: raw RSA keyring %q: %w", k.Name, err)
		}
		krs = append(krs, kr)
	}
	for _, k := range kmsKeys {
		kr, err := kmsKeyring(ctx, mp, k)
		if err != nil {
			return nil, fmt.Errorf("official: AWS KMS keyring %q %q: %w", k.Kind, k.KeyID, err)
		}
		krs = append(krs, kr)
	}
	switch len(krs) {
	case 0:
		return nil, errors.New("official: no keys given")
	case 1:
		return krs[0], nil
	}
	kr, err := mp.CreateMultiKeyring(ctx, mpltypes.CreateMultiKeyringInput{
		Generator:     krs[0],
		ChildKeyrings: krs[1:],
	})
	if err != nil {
		return nil, fmt.Errorf("official: multi-keyring: %w", err)
	}
	return kr, nil
}

func kmsKeyring(ctx context.Context, mp *mpl.Client, k KMSKey) (mpltypes.IKeyring, error) {
	c := NewKMSClient(k.Endpoint, k.Region)
	var f *mpltypes.DiscoveryFilter
	if k.Filter != nil {
		f = &mpltypes.DiscoveryFilter{Partition: k.Filter.Partition, AccountIds: k.Filter.Accounts}
	}
	switch k.Kind {
	case KMSStrict:
		return mp.CreateAwsKmsKeyring(ctx, mpltypes.CreateAwsKmsKeyringInput{KmsClient: c, KmsKeyId: k.KeyID, GrantTokens: k.GrantTokens})
	case KMSMRK:
		return mp.CreateAwsKmsMrkKeyring(ctx, mpltypes.CreateAwsKmsMrkKeyringInput{KmsClient: c, KmsKeyId: k.KeyID, GrantTokens: k.GrantTokens})
	case KMSDiscovery:
		return mp.CreateAwsKmsDiscoveryKeyring(ctx, mpltypes.CreateAwsKmsDiscoveryKeyringInput{KmsClient: c, DiscoveryFilter: f, GrantTokens: k.GrantTokens})
	case KMSMRKDiscovery:
		return mp.CreateAwsKmsMrkDiscoveryKeyring(ctx, mpltypes.CreateAwsKmsMrkDiscoveryKeyringInput{KmsClient: c, Region: c.Options().Region, DiscoveryFilter: f, GrantTokens: k.GrantTokens})
	}
	return nil, fmt.Errorf("unknown kind %q", k.Kind)
}

// NewKMSClient returns an aws-sdk-go-v2 KMS client for endpoint and region
// that signs with the static test credentials. An empty region means
// "us-west-2"; an empty endpoint keeps the SDK's endpoint resolution.
func NewKMSClient(endpoint, region string) *kms.Client {
	if region == "" {
		region = "us-west-2"
	}
	opts := kms.Options{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(KMSAccessKeyID, KMSSecretAccessKey, ""),
	}
	if endpoint != "" {
		opts.BaseEndpoint = aws.String(endpoint)
	}
	return kms.New(opts)
}
