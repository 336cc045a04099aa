package testvectors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/pemkey"
	"github.com/phicrypt/phicrypt/keyring"
)

// Status is a test's outcome.
type Status int

const (
	Passed Status = iota
	Failed
	Skipped
)

// Result is the outcome of one test.
type Result struct {
	Name   string
	Status Status
	Err    error // why it failed or was skipped
}

// KMSKeyrings builds a keyring for aws-kms master keys; nil skips such
// tests. key is nil for aws-kms-mrk-aware-discovery, which names no key.
type KMSKeyrings func(mk MasterKey, key *Key) (envelope.Keyring, error)

// Options configure a run.
type Options struct {
	KMS KMSKeyrings
}

var errSkip = errors.New("skipped")

// Run runs every test, in name order.
func (m *DecryptManifest) Run(ctx context.Context, opts Options) []Result {
	var out []Result
	for _, name := range slices.Sorted(maps.Keys(m.Tests)) {
		err := m.runOne(ctx, m.Tests[name], opts)
		r := Result{Name: name, Err: err}
		switch {
		case err == nil:
			r.Status = Passed
		case errors.Is(err, errSkip):
			r.Status = Skipped
		default:
			r.Status = Failed
		}
		out = append(out, r)
	}
	return out
}

// Summary counts results by status.
func Summary(rs []Result) (passed, failed, skipped int) {
	for _, r := range rs {
		switch r.Status {
		case Passed:
			passed++
		case Failed:
			failed++
		default:
			skipped++
		}
	}
	return
}

// runOne runs test t: nil when it passed, errSkip (wrapped) when it needs
// what this runner lacks.
func (m *DecryptManifest) runOne(ctx context.Context, t *DecryptTest, opts Options) error {
	client, err := m.client(t, opts)
	if err != nil {
		return err
	}
	ct, err := m.read(t.Ciphertext)
	if err != nil {
		return err
	}
	want, wantErr, err := m.expected(t)
	if err != nil {
		return err
	}
	decrypt, err := decryptFunc(client, t)
	if err != nil {
		return err
	}
	got, err := decrypt(ctx, ct)
	return judge(t, want, wantErr, got, err)
}

// client builds the client of t: its master keys' keyring under its CMM,
// requiring key commitment on encrypt only.
func (m *DecryptManifest) client(t *DecryptTest, opts Options) (*envelope.Client, error) {
	kr, err := m.keyring(t.MasterKeys, opts)
	if err != nil {
		return nil, err
	}
	var cmm envelope.MaterialsManager = envelope.NewDefaultMaterialsManager(kr)
	switch t.CMM {
	case "", "Default":
	case "RequiredEncryptionContext":
		cmm = envelope.NewRequiredContextMaterialsManager(cmm, slices.Sorted(maps.Keys(t.EncryptionContext))...)
	default:
		return nil, fmt.Errorf("%w: cmm %q", errSkip, t.CMM)
	}
	return envelope.NewWithMaterialsManager(cmm, envelope.WithCommitmentPolicy(envelope.RequireEncryptAllowDecrypt))
}

// expected reads what t's decryption must give: the plaintext, or
// wantErr when it must fail.
func (m *DecryptManifest) expected(t *DecryptTest) (want []byte, wantErr bool, err error) {
	switch {
	case t.Result != nil && t.Result.Error != nil:
		return nil, true, nil
	case t.Result != nil && t.Result.Output != nil:
		want, err = m.read(t.Result.Output.Plaintext)
	case t.Plaintext != "":
		want, err = m.read(t.Plaintext)
	default:
		return nil, false, errors.New("test has neither a plaintext nor an expected error")
	}
	return want, false, err
}

// decryptFunc is how t's decryption method decrypts with client, expecting
// t's context: in one call, or streaming and refusing signed suites. An
// unknown method is skipped.
func decryptFunc(client *envelope.Client, t *DecryptTest) (func(context.Context, []byte) ([]byte, error), error) {
	callOpts := []envelope.DecryptOption{envelope.WithExpectedContext(t.EncryptionContext)}
	switch t.DecryptionMethod {
	case "":
		return func(ctx context.Context, ct []byte) ([]byte, error) {
			got, _, err := client.Decrypt(ctx, ct, callOpts...)
			return got, err
		}, nil
	case "streaming-unsigned-only":
		callOpts = append(callOpts, envelope.WithUnsignedOnly())
		return func(ctx context.Context, ct []byte) ([]byte, error) {
			r, err := client.NewDecryptReader(ctx, bytes.NewReader(ct), callOpts...)
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		}, nil
	}
	return nil, fmt.Errorf("%w: decryption method %q", errSkip, t.DecryptionMethod)
}

// judge compares a decryption's result (got, err) with t's expected one:
// a failure when wantErr, else the plaintext want.
func judge(t *DecryptTest, want []byte, wantErr bool, got []byte, err error) error {
	switch {
	case wantErr && err == nil:
		return fmt.Errorf("decrypted a message that must fail (%s)", t.Result.Error.Description)
	case wantErr:
		return nil
	case err != nil:
		return err
	case !bytes.Equal(got, want):
		return fmt.Errorf("plaintext of %d bytes differs from the expected %d bytes", len(got), len(want))
	}
	return nil
}

// keyring builds the keyring of a test's master keys: one, or a
// multi-keyring of several.
func (m *DecryptManifest) keyring(mks []MasterKey, opts Options) (envelope.Keyring, error) {
	var krs []envelope.Keyring
	for _, mk := range mks {
		key, ok := m.keys.Keys[mk.Key]
		if !ok && mk.Type != discoveryType {
			return nil, fmt.Errorf("key %q not in the keys manifest", mk.Key)
		}
		var kr envelope.Keyring
		var err error
		switch mk.Type {
		case "raw":
			kr, err = rawKeyring(mk, key)
		case "aws-kms", "aws-kms-mrk-aware", discoveryType:
			if opts.KMS == nil {
				return nil, fmt.Errorf("%w: %s master key needs a KMS endpoint", errSkip, mk.Type)
			}
			kr, err = opts.KMS(mk, key)
		default:
			return nil, fmt.Errorf("%w: master key type %q", errSkip, mk.Type)
		}
		if err != nil {
			return nil, err
		}
		krs = append(krs, kr)
	}
	switch len(krs) {
	case 0:
		return nil, errors.New("no master keys")
	case 1:
		return krs[0], nil
	}
	return keyring.NewMulti(krs[0], krs[1:]...)
}

// rawKeyring names the keyring's key by the master key's key-id, else the
// keys manifest's, else (keys version 1 has none) the key's manifest name,
// as the Python runner does.
func rawKeyring(mk MasterKey, key *Key) (envelope.Keyring, error) {
	name := key.KeyID
	if mk.KeyID != "" {
		name = mk.KeyID
	}
	if name == "" {
		name = mk.Key
	}
	material, err := key.Bytes()
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", mk.Key, err)
	}
	switch mk.EncryptionAlgorithm {
	case "aes":
		return keyring.NewRawAES(mk.ProviderID, name, material)
	case "rsa":
		padding, err := rsaPadding(mk)
		if err != nil {
			return nil, err
		}
		if key.Type == "public" {
			pub, err := pemkey.ParseRSAPublic(material)
			if err != nil {
				return nil, err
			}
			return keyring.NewRawRSA(mk.ProviderID, name, padding, pub, nil)
		}
		priv, err := pemkey.ParseRSAPrivate(material)
		if err != nil {
			return nil, err
		}
		return keyring.NewRawRSA(mk.ProviderID, name, padding, &priv.PublicKey, priv)
	}
	return nil, fmt.Errorf("%w: raw encryption algorithm %q", errSkip, mk.EncryptionAlgorithm)
}

func rsaPadding(mk MasterKey) (keyring.RSAPadding, error) {
	if mk.PaddingAlgorithm == "pkcs1" {
		return keyring.PKCS1v15, nil
	}
	if mk.PaddingAlgorithm != "oaep-mgf1" {
		return 0, fmt.Errorf("unknown padding algorithm %q", mk.PaddingAlgorithm)
	}
	return keyring.ParseRSAPadding("oaep-" + mk.PaddingHash)
}
