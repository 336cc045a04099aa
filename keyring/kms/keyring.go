package kms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/phicrypt/phicrypt/envelope"
)

// ProviderID is the key provider ID of every AWS KMS encrypted data key.
const ProviderID = "aws-kms"

// Client is the part of the AWS KMS API the keyrings use. The SDK's
// *kms.Client (from github.com/aws/aws-sdk-go-v2/service/kms) satisfies it;
// build one from the default credential chain (config.LoadDefaultConfig) or
// with NewClient.
type Client interface {
	GenerateDataKey(ctx context.Context, in *awskms.GenerateDataKeyInput, optFns ...func(*awskms.Options)) (*awskms.GenerateDataKeyOutput, error)
	Encrypt(ctx context.Context, in *awskms.EncryptInput, optFns ...func(*awskms.Options)) (*awskms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *awskms.DecryptInput, optFns ...func(*awskms.Options)) (*awskms.DecryptOutput, error)
}

var _ Client = (*awskms.Client)(nil)

// An Option configures a keyring.
type Option func(*config)

type config struct {
	additional  []string
	grantTokens []string
}

// WithAdditionalKeys adds AWS KMS keys that each encrypt the data key too
// (one KMS Encrypt call per key per message), and that the keyring may
// decrypt with. Only strict keyrings (New, NewMRK) accept it.
func WithAdditionalKeys(ids ...string) Option {
	return func(c *config) { c.additional = append(c.additional, ids...) }
}

// WithGrantTokens sets the grant tokens sent with every KMS call.
func WithGrantTokens(tokens ...string) Option {
	return func(c *config) { c.grantTokens = append(c.grantTokens, tokens...) }
}

func buildConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	return c
}

// ErrBadResponse reports a KMS answer the request cannot have asked for:
// a data key of the wrong length, an empty or oversized ciphertext blob,
// a KeyId other than the key asked (Decrypt; GenerateDataKey and Encrypt
// asked by key ARN or key id) or no key ARN at all.
var ErrBadResponse = errors.New("kms: answer does not fit the request")

// maxQuoted is the most bytes of a KMS error message, or of the SDK's
// error text, an Error quotes: the rest is counted, not copied.
const maxQuoted = 256

// clip returns s cut to maxQuoted bytes (on a rune boundary), with the
// number of bytes cut.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := strings.ToValidUTF8(s[:maxQuoted], "")
	return fmt.Sprintf("%s… (%d bytes more)", cut, len(s)-len(cut))
}

// Error is a failed AWS KMS call. It never holds key material. Error
// quotes the key ID (a discovery keyring's comes from the message header)
// and KMS's code and message, each cut to 256 bytes.
type Error struct {
	Op    string // "GenerateDataKey", "Encrypt" or "Decrypt"
	KeyID string // the KeyId of the request
	// Code is the KMS error type (smithy.APIError's ErrorCode, e.g.
	// "DisabledException", "InvalidCiphertextException"); empty when the
	// call failed before KMS answered.
	Code string
	Err  error // the SDK's error
}

func (e *Error) Error() string {
	var ae smithy.APIError
	if e.Code != "" && errors.As(e.Err, &ae) {
		return fmt.Sprintf("KMS %s with key %q failed: %q: %q", e.Op, clip(e.KeyID), clip(e.Code), clip(ae.ErrorMessage()))
	}
	return fmt.Sprintf("KMS %s with key %q failed: %s", e.Op, clip(e.KeyID), clip(e.Err.Error()))
}

func (e *Error) Unwrap() error { return e.Err }

func kmsError(op, keyID string, err error) error {
	e := &Error{Op: op, KeyID: keyID, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
	}
	return e
}

func contextOrNil(ec map[string]string) map[string]string {
	if len(ec) == 0 {
		return nil
	}
	return ec
}

func zero(b []byte) { clear(b) }

// Keyring is the strict AWS KMS keyring (and, from NewMRK, the MRK-aware
// strict keyring). It encrypts with its generator and additional keys and
// decrypts only data keys whose provider info names one of them.
type Keyring struct {
	client      Client
	keys        []string // the generator, then the additional keys
	grantTokens []string
	mrk         bool
}

// New returns a strict AWS KMS keyring. generator is any AWS KMS key
// identifier: key ARN, key id, alias name ("alias/...") or alias ARN. On
// decrypt, though, a data key matches only an identifier equal to its
// provider info, which is always a key ARN: configure key ARNs for a keyring
// that must decrypt.
func New(client Client, generator string, opts ...Option) (*Keyring, error) {
	return newStrict(client, generator, false, opts)
}

// NewMRK returns the MRK-aware strict keyring: as New, but a multi-Region
// key ARN also matches the data keys of its replicas in other regions (the
// same ARN but for the region); Decrypt is then called with the configured
// ARN, so the replica in the client's region does the work.
func NewMRK(client Client, generator string, opts ...Option) (*Keyring, error) {
	return newStrict(client, generator, true, opts)
}

func newStrict(client Client, generator string, mrk bool, opts []Option) (*Keyring, error) {
	if client == nil {
		return nil, errors.New("kms: nil KMS client")
	}
	c := buildConfig(opts)
	keys := append([]string{generator}, c.additional...)
	for _, id := range keys {
		if err := checkIdentifier(id); err != nil {
			return nil, err
		}
	}
	return &Keyring{client: client, keys: keys, grantTokens: slices.Clone(c.grantTokens), mrk: mrk}, nil
}

func (k *Keyring) String() string {
	s := "AWS KMS keyring " + k.keys[0]
	if k.mrk {
		s = "AWS KMS MRK keyring " + k.keys[0]
	}
	if len(k.keys) > 1 {
		s += fmt.Sprintf(" (+%d keys)", len(k.keys)-1)
	}
	return s
}

// KeyIDs returns the generator, then the additional keys.
func (k *Keyring) KeyIDs() []string { return slices.Clone(k.keys) }

// OnEncrypt implements envelope.Keyring. Without a data key in m it calls
// GenerateDataKey under the generator, otherwise Encrypt; then Encrypt under
// each additional key. m changes only if every call succeeds.
func (k *Keyring) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	n := m.Suite.DataKeyLength()
	if n == 0 {
		return fmt.Errorf("kms: suite %s: %w", m.Suite, envelope.ErrUnsupportedSuite)
	}
	dk := m.DataKey
	var edks []envelope.EncryptedDataKey
	generated := false
	fail := func(err error) error {
		if generated {
			zero(dk)
		}
		return err
	}
	wrap := k.keys
	if dk == nil {
		out, err := k.client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{
			KeyId:             aws.String(k.keys[0]),
			NumberOfBytes:     aws.Int32(int32(n)),
			EncryptionContext: contextOrNil(m.EncryptionContext),
			GrantTokens:       k.grantTokens,
		})
		if err != nil {
			return fmt.Errorf("kms: %v: %w", k, kmsError("GenerateDataKey", k.keys[0], err))
		}
		dk, generated = out.Plaintext, true
		if len(dk) != n {
			return fail(fmt.Errorf("kms: %v: GenerateDataKey returned a %d-byte data key, want %d: %w", k, len(dk), n, ErrBadResponse))
		}
		edk, err := makeEDK("GenerateDataKey", k.keys[0], out.KeyId, out.CiphertextBlob)
		if err != nil {
			return fail(fmt.Errorf("kms: %v: %w", k, err))
		}
		edks = append(edks, edk)
		wrap = k.keys[1:]
	} else if len(dk) != n {
		return fmt.Errorf("kms: %v: %d-byte data key for suite %s, want %d: %w", k, len(dk), m.Suite, n, envelope.ErrInvalidMaterials)
	}
	for _, id := range wrap {
		out, err := k.client.Encrypt(ctx, &awskms.EncryptInput{
			KeyId:             aws.String(id),
			Plaintext:         dk,
			EncryptionContext: contextOrNil(m.EncryptionContext),
			GrantTokens:       k.grantTokens,
		})
		if err != nil {
			return fail(fmt.Errorf("kms: %v: %w", k, kmsError("Encrypt", id, err)))
		}
		edk, err := makeEDK("Encrypt", id, out.KeyId, out.CiphertextBlob)
		if err != nil {
			return fail(fmt.Errorf("kms: %v: %w", k, err))
		}
		edks = append(edks, edk)
	}
	m.DataKey = dk
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, edks...)
	return nil
}

// makeEDK checks a GenerateDataKey or Encrypt response: the KeyId must be a
// key ARN, the one asked for when the request named a key by its ARN or
// key id (an alias may name any key), and the blob non-empty.
func makeEDK(op, requested string, keyID *string, blob []byte) (envelope.EncryptedDataKey, error) {
	arn := aws.ToString(keyID)
	a, err := parseKeyARN(arn)
	if err != nil {
		return envelope.EncryptedDataKey{}, fmt.Errorf("KMS %s with key %s returned KeyId %q: %w: %w", op, requested, clip(arn), ErrBadResponse, err)
	}
	if !answersFor(requested, a, arn) {
		return envelope.EncryptedDataKey{}, fmt.Errorf("KMS %s with key %s answered for key %q: %w", op, requested, clip(arn), ErrBadResponse)
	}
	if len(blob) == 0 || len(blob) > 0xffff {
		return envelope.EncryptedDataKey{}, fmt.Errorf("KMS %s with key %s returned a %d-byte ciphertext blob: %w", op, requested, len(blob), ErrBadResponse)
	}
	return envelope.EncryptedDataKey{ProviderID: ProviderID, ProviderInfo: []byte(arn), Ciphertext: blob}, nil
}

// answersFor reports whether the key ARN arn (parsed: a) can be KMS's
// answer to a request for the key identifier requested: the same ARN for
// a key ARN, an ARN of that key id for a key id, any key for an alias.
func answersFor(requested string, a ARN, arn string) bool {
	switch {
	case strings.HasPrefix(requested, "arn:"):
		r, err := ParseARN(requested)
		return err != nil || !r.IsKey() || requested == arn
	case strings.HasPrefix(requested, "alias/"):
		return true
	}
	return a.ResourceID == requested
}

// kmsEDKs returns the indices of edks with provider ID "aws-kms", failing
// if any of their provider infos is not a valid key ARN (the specification
// makes OnDecrypt fail then, before any KMS call).
func kmsEDKs(who fmt.Stringer, edks []envelope.EncryptedDataKey) ([]int, []ARN, error) {
	var idx []int
	var arns []ARN
	for i, e := range edks {
		if e.ProviderID != ProviderID {
			continue
		}
		a, err := parseKeyARN(string(e.ProviderInfo))
		if err != nil {
			return nil, nil, &envelope.NoDecryptionKeyError{EncryptedDataKeys: len(edks), Errs: []error{
				fmt.Errorf("kms: %v: data key %d: provider info: %w", who, i, err)}}
		}
		idx = append(idx, i)
		arns = append(arns, a)
	}
	return idx, arns, nil
}

// decryptOne calls Decrypt for one data key and checks the response.
func decryptOne(ctx context.Context, client Client, grantTokens []string, m *envelope.DecryptionMaterials, keyID string, blob []byte) error {
	out, err := client.Decrypt(ctx, &awskms.DecryptInput{
		KeyId:             aws.String(keyID),
		CiphertextBlob:    blob,
		EncryptionContext: contextOrNil(m.EncryptionContext),
		GrantTokens:       grantTokens,
	})
	if err != nil {
		return kmsError("Decrypt", keyID, err)
	}
	if got := aws.ToString(out.KeyId); got != keyID {
		zero(out.Plaintext)
		return fmt.Errorf("KMS Decrypt with key %q answered for key %q: %w", clip(keyID), clip(got), ErrBadResponse)
	}
	if n := m.Suite.DataKeyLength(); len(out.Plaintext) != n {
		zero(out.Plaintext)
		return fmt.Errorf("KMS Decrypt with key %q returned a %d-byte data key, want %d: %w", clip(keyID), len(out.Plaintext), n, ErrBadResponse)
	}
	m.DataKey = out.Plaintext
	return nil
}

func checkDecryptMaterials(who fmt.Stringer, m *envelope.DecryptionMaterials) error {
	if m.DataKey != nil {
		return fmt.Errorf("kms: %v: decryption materials already hold a data key: %w", who, envelope.ErrInvalidMaterials)
	}
	if m.Suite.DataKeyLength() == 0 {
		return fmt.Errorf("kms: %v: suite %s: %w", who, m.Suite, envelope.ErrUnsupportedSuite)
	}
	return nil
}

// OnDecrypt implements envelope.Keyring. For each configured key in order
// (generator first), it tries each "aws-kms" data key whose provider info
// matches it (exactly; by MRK match for NewMRK), calling Decrypt with the
// configured identifier. The first success wins; otherwise the error is an
// *envelope.NoDecryptionKeyError with one error per attempt.
func (k *Keyring) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if err := checkDecryptMaterials(k, m); err != nil {
		return err
	}
	idx, _, err := kmsEDKs(k, edks)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range k.keys {
		for _, i := range idx {
			info := string(edks[i].ProviderInfo)
			if info != id && !(k.mrk && MRKMatch(id, info)) {
				continue
			}
			err := decryptOne(ctx, k.client, k.grantTokens, m, id, edks[i].Ciphertext)
			if err == nil {
				return nil
			}
			errs = append(errs, fmt.Errorf("kms: %v: data key %d%s: %w", k, i, storedUnder(info, id), err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("kms: %v: no data key encrypted under %s", k, strings.Join(k.keys, ", ")))
	}
	return &envelope.NoDecryptionKeyError{EncryptedDataKeys: len(edks), Errs: errs}
}

// storedUnder names the data key's ARN when the request named another key.
func storedUnder(info, requested string) string {
	if info == requested {
		return ""
	}
	return " (stored under " + strconv.Quote(clip(info)) + ")" // info comes from the header
}
