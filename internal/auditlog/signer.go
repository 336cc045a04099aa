package auditlog

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Signer signs and verifies digests. It should hold a key the writer of
// the log file cannot use outside the writing program: a KMS key whose
// permission the run has, or a key file readable by the run only.
type Signer interface {
	// ID names the key in digest lines (never secret).
	ID() string
	// Alg names the algorithm in digest lines.
	Alg() string
	Sign(ctx context.Context, msg []byte) ([]byte, error)
	// Verify returns an error wrapping ErrBadSignature for a signature that
	// does not verify, and another error if it could not tell.
	Verify(ctx context.Context, msg, sig []byte) error
}

// MinHMACKey is the least length of an HMAC key file, in bytes.
const MinHMACKey = 32

// HMACKey signs with HMAC-SHA256 under a local key.
type HMACKey struct {
	key []byte
	id  string
}

// NewHMACKey returns a Signer for key (at least MinHMACKey bytes). Its ID is
// "hmac:" and 16 hex digits of a hash of the key.
func NewHMACKey(key []byte) (*HMACKey, error) {
	if len(key) < MinHMACKey {
		return nil, fmt.Errorf("HMAC key is %d bytes; want at least %d", len(key), MinHMACKey)
	}
	h := sha256.Sum256(append([]byte("phicrypt audit hmac key id\x00"), key...))
	return &HMACKey{key: key, id: "hmac:" + hex.EncodeToString(h[:8])}, nil
}

func (k *HMACKey) ID() string  { return k.id }
func (k *HMACKey) Alg() string { return "HMAC-SHA256" }

func (k *HMACKey) Sign(_ context.Context, msg []byte) ([]byte, error) {
	m := hmac.New(sha256.New, k.key)
	m.Write(msg)
	return m.Sum(nil), nil
}

func (k *HMACKey) Verify(ctx context.Context, msg, sig []byte) error {
	want, _ := k.Sign(ctx, msg)
	if !hmac.Equal(want, sig) {
		return ErrBadSignature
	}
	return nil
}

// Ed25519Key signs with Ed25519; with only a public key it verifies.
type Ed25519Key struct {
	priv ed25519.PrivateKey // nil: verify only
	pub  ed25519.PublicKey
	id   string
}

// NewEd25519Key returns a Signer for priv, or a verifier for pub when priv
// is nil. Its ID is "ed25519:" and 16 hex digits of the public key's SHA-256.
func NewEd25519Key(priv ed25519.PrivateKey, pub ed25519.PublicKey) (*Ed25519Key, error) {
	if priv != nil {
		if len(priv) != ed25519.PrivateKeySize {
			return nil, errors.New("invalid Ed25519 private key")
		}
		pub = priv.Public().(ed25519.PublicKey)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("invalid Ed25519 public key")
	}
	h := sha256.Sum256(pub)
	return &Ed25519Key{priv: priv, pub: pub, id: "ed25519:" + hex.EncodeToString(h[:8])}, nil
}

func (k *Ed25519Key) ID() string  { return k.id }
func (k *Ed25519Key) Alg() string { return "Ed25519" }

// CanSign reports whether k holds the private key.
func (k *Ed25519Key) CanSign() bool { return k.priv != nil }

func (k *Ed25519Key) Sign(_ context.Context, msg []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, errors.New("an Ed25519 public key verifies only; sign with the private key")
	}
	return ed25519.Sign(k.priv, msg), nil
}

func (k *Ed25519Key) Verify(_ context.Context, msg, sig []byte) error {
	if !ed25519.Verify(k.pub, msg, sig) {
		return ErrBadSignature
	}
	return nil
}

// KMSMAC is the part of the KMS client KMSHMAC uses.
type KMSMAC interface {
	GenerateMac(context.Context, *kms.GenerateMacInput, ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
	VerifyMac(context.Context, *kms.VerifyMacInput, ...func(*kms.Options)) (*kms.VerifyMacOutput, error)
}

// KMSHMAC signs with GenerateMac (HMAC_SHA_256) under a KMS HMAC_256 key.
type KMSHMAC struct {
	c     KMSMAC
	keyID string
}

// NewKMSHMAC returns a Signer using key keyID (ARN, alias or id) through c.
// Its ID is "kms-hmac:" and keyID.
func NewKMSHMAC(c KMSMAC, keyID string) *KMSHMAC { return &KMSHMAC{c: c, keyID: keyID} }

func (k *KMSHMAC) ID() string  { return "kms-hmac:" + k.keyID }
func (k *KMSHMAC) Alg() string { return string(types.MacAlgorithmSpecHmacSha256) }

func (k *KMSHMAC) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	out, err := k.c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(k.keyID), Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil {
		return nil, err
	}
	return out.Mac, nil
}

func (k *KMSHMAC) Verify(ctx context.Context, msg, sig []byte) error {
	out, err := k.c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(k.keyID), Message: msg, Mac: sig, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	var bad *types.KMSInvalidMacException
	switch {
	case errors.As(err, &bad):
		return fmt.Errorf("%w (%w)", ErrBadSignature, err)
	case err != nil:
		return err
	case !out.MacValid:
		return ErrBadSignature
	}
	return nil
}

// KMSSig is the part of the KMS client KMSSign uses.
type KMSSig interface {
	Sign(context.Context, *kms.SignInput, ...func(*kms.Options)) (*kms.SignOutput, error)
	Verify(context.Context, *kms.VerifyInput, ...func(*kms.Options)) (*kms.VerifyOutput, error)
}

// KMSSign signs with Sign (ECDSA_SHA_256 over the message's SHA-256, sent
// as MessageType DIGEST) under a KMS ECC_NIST_P256 key.
type KMSSign struct {
	c     KMSSig
	keyID string
}

// NewKMSSign returns a Signer using key keyID through c. Its ID is
// "kms-sign:" and keyID.
func NewKMSSign(c KMSSig, keyID string) *KMSSign { return &KMSSign{c: c, keyID: keyID} }

func (k *KMSSign) ID() string  { return "kms-sign:" + k.keyID }
func (k *KMSSign) Alg() string { return string(types.SigningAlgorithmSpecEcdsaSha256) }

func (k *KMSSign) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	out, err := k.c.Sign(ctx, &kms.SignInput{
		KeyId: aws.String(k.keyID), Message: sum[:], MessageType: types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, err
	}
	return out.Signature, nil
}

func (k *KMSSign) Verify(ctx context.Context, msg, sig []byte) error {
	sum := sha256.Sum256(msg)
	out, err := k.c.Verify(ctx, &kms.VerifyInput{
		KeyId: aws.String(k.keyID), Message: sum[:], MessageType: types.MessageTypeDigest,
		Signature: sig, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	var bad *types.KMSInvalidSignatureException
	switch {
	case errors.As(err, &bad):
		return fmt.Errorf("%w (%w)", ErrBadSignature, err)
	case err != nil:
		return err
	case !out.SignatureValid:
		return ErrBadSignature
	}
	return nil
}

// HeadStore is the second place a Writer copies each digest line to, so
// that a log cut after its last digest is detectable.
type HeadStore interface {
	// Get returns the stored digest line, or nil and no error if none.
	Get(ctx context.Context) ([]byte, error)
	Put(ctx context.Context, line []byte) error
	String() string
}

// FileHead is a HeadStore in a local file, replaced atomically (mode 0600).
type FileHead string

func (p FileHead) String() string { return string(p) }

func (p FileHead) Get(context.Context) ([]byte, error) {
	f, err := os.Open(string(p))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxLine+2))
	if len(b) > MaxLine+1 {
		return nil, fmt.Errorf("longer than %d bytes: not a digest line", MaxLine)
	}
	return b, err
}

func (p FileHead) Put(_ context.Context, line []byte) error {
	return writeFileAtomic(string(p), line)
}

// writeFileAtomic writes data to a temporary file beside path (mode 0600),
// syncs it and renames it over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
