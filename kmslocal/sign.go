package kmslocal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"time"
)

const (
	hmac256           = "HMAC_256"
	eccNistP256       = "ECC_NIST_P256"
	generateVerifyMac = "GENERATE_VERIFY_MAC"
	signVerify        = "SIGN_VERIFY"
	hmacSHA256        = "HMAC_SHA_256"
	ecdsaSHA256       = "ECDSA_SHA_256"
	messageRaw        = "RAW"
	messageDigest     = "DIGEST"
	maxMessage        = 4096 // GenerateMac, VerifyMac, Sign and Verify messages
)

// Errors of VerifyMac and Verify for a MAC or signature that does not
// verify, as KMS reports them.
var (
	ErrInvalidMac       = &Error{Code: "KMSInvalidMacException"}
	ErrInvalidSignature = &Error{Code: "KMSInvalidSignatureException"}
)

// keySpec is what a KeySpec is used for. material of every spec is 32
// bytes: an AES-256 key, an HMAC key, or a P-256 private scalar.
type keySpec struct {
	usage string // the only KeyUsage the spec takes
	alg   string // its MAC or signing algorithm; "" for symmetric keys
}

var specs = map[string]keySpec{
	symmetricDefault: {usage: encryptDecrypt},
	hmac256:          {usage: generateVerifyMac, alg: hmacSHA256},
	eccNistP256:      {usage: signVerify, alg: ecdsaSHA256},
}

// keySpecOf checks CreateKey's KeySpec (or the older CustomerMasterKeySpec)
// and KeyUsage, which must be the spec's one usage; KeyUsage defaults to
// ENCRYPT_DECRYPT, as in KMS, so HMAC and ECC keys must name theirs.
func keySpecOf(in *createKeyReq) (string, error) {
	spec := in.KeySpec
	if spec == "" {
		spec = in.CustomerMasterKeySpec
	} else if in.CustomerMasterKeySpec != "" {
		return "", apiErr(ErrValidation, "specify KeySpec or CustomerMasterKeySpec, not both")
	}
	if spec == "" {
		spec = symmetricDefault
	}
	ks, ok := specs[spec]
	if !ok {
		return "", apiErr(ErrUnsupportedOperation, "KeySpec %q is not supported; only %s, %s and %s", bounded(spec), symmetricDefault, hmac256, eccNistP256)
	}
	usage := in.KeyUsage
	if usage == "" {
		usage = encryptDecrypt
	}
	if usage != ks.usage {
		return "", apiErr(ErrValidation, "KeyUsage %q is not valid for KeySpec %s; use %s", bounded(usage), spec, ks.usage)
	}
	return spec, nil
}

// bounded cuts an attacker's string for an error message.
func bounded(s string) string { return cutTo(s, 64) }

// cutTo cuts s to n bytes, marking a cut with "…".
func cutTo(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// newSpecKey makes a key of spec with random material.
func newSpecKey(desc string, multiRegion bool, spec string, now time.Time) (*key, error) {
	k, err := newKey(desc, multiRegion, nil, now)
	if err != nil {
		return nil, err
	}
	k.spec = spec
	if spec == eccNistP256 {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, apiErr(ErrInternal, "ecdsa: %v", err)
		}
		if k.material, err = priv.Bytes(); err != nil {
			return nil, apiErr(ErrInternal, "ecdsa: %v", err)
		}
	}
	return k, nil
}

// checkMaterial reports whether material is valid for spec.
func checkMaterial(spec string, material []byte) error {
	if _, ok := specs[spec]; !ok {
		return apiErr(ErrInternal, "unknown key spec %q", bounded(spec))
	}
	if len(material) != keyMaterialN {
		return apiErr(ErrInternal, "key material is not %d bytes", keyMaterialN)
	}
	if spec == eccNistP256 {
		if _, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), material); err != nil {
			return apiErr(ErrInternal, "key material is not a P-256 private key")
		}
	}
	return nil
}

// checkUsage refuses an operation of usage on a key made for another.
func (s *Server) checkUsage(k key, usage string) error {
	if got := specs[k.spec].usage; got != usage {
		return apiErr(ErrInvalidKeyUsage, "%s key usage is %s which is not valid for this operation", s.KeyARN(k.id), got)
	}
	return nil
}

// checkMessage checks a MAC or signing message's length.
func checkMessage(m []byte) error {
	if len(m) == 0 || len(m) > maxMessage {
		return apiErr(ErrValidation, "Message must be 1 to %d bytes", maxMessage)
	}
	return nil
}

// --- HMAC ---

type macReq struct {
	KeyId        string
	Message      []byte
	Mac          []byte // VerifyMac only
	MacAlgorithm string
	GrantTokens  []string
	DryRun       *bool
}

type generateMacResp struct {
	Mac          []byte
	MacAlgorithm string
	KeyId        string
}

type verifyMacResp struct {
	KeyId        string
	MacValid     bool
	MacAlgorithm string
}

// macKey checks a GenerateMac or VerifyMac request and returns its key.
func (s *Server) macKey(in *macReq) (key, error) {
	if err := checkMessage(in.Message); err != nil {
		return key{}, err
	}
	if in.MacAlgorithm == "" {
		return key{}, apiErr(ErrValidation, "MacAlgorithm is required")
	}
	k, err := s.usableKeyFor(in.KeyId, generateVerifyMac)
	if err != nil {
		return key{}, err
	}
	if in.MacAlgorithm != specs[k.spec].alg {
		return key{}, apiErr(ErrInvalidKeyUsage, "MacAlgorithm %q is not valid for %s (%s)", bounded(in.MacAlgorithm), s.KeyARN(k.id), k.spec)
	}
	return k, dryRun(in.DryRun)
}

func hmacSum(material, msg []byte) []byte {
	m := hmac.New(sha256.New, material)
	m.Write(msg)
	return m.Sum(nil)
}

func (s *Server) generateMac(_ context.Context, in *macReq) (*generateMacResp, error) {
	k, err := s.macKey(in)
	if err != nil {
		return nil, err
	}
	return &generateMacResp{Mac: hmacSum(k.material, in.Message), MacAlgorithm: hmacSHA256, KeyId: s.KeyARN(k.id)}, nil
}

func (s *Server) verifyMac(_ context.Context, in *macReq) (*verifyMacResp, error) {
	if len(in.Mac) == 0 {
		return nil, apiErr(ErrValidation, "Mac is required")
	}
	k, err := s.macKey(in)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(hmacSum(k.material, in.Message), in.Mac) {
		return nil, apiErr(ErrInvalidMac, "the MAC does not verify")
	}
	return &verifyMacResp{KeyId: s.KeyARN(k.id), MacValid: true, MacAlgorithm: hmacSHA256}, nil
}

// --- signatures ---

type signReq struct {
	KeyId            string
	Message          []byte
	MessageType      string
	Signature        []byte // Verify only
	SigningAlgorithm string
	GrantTokens      []string
	DryRun           *bool
}

type signResp struct {
	KeyId            string
	Signature        []byte
	SigningAlgorithm string
}

type verifyResp struct {
	KeyId            string
	SignatureValid   bool
	SigningAlgorithm string
}

// signKey checks a Sign or Verify request and returns its key and the
// SHA-256 digest to sign: of Message for RAW, Message itself for DIGEST.
func (s *Server) signKey(in *signReq) (*ecdsa.PrivateKey, key, []byte, error) {
	if err := checkMessage(in.Message); err != nil {
		return nil, key{}, nil, err
	}
	var digest []byte
	switch in.MessageType {
	case "", messageRaw:
		sum := sha256.Sum256(in.Message)
		digest = sum[:]
	case messageDigest:
		if len(in.Message) != sha256.Size {
			return nil, key{}, nil, apiErr(ErrValidation, "a DIGEST message for %s must be %d bytes", ecdsaSHA256, sha256.Size)
		}
		digest = in.Message
	default:
		return nil, key{}, nil, apiErr(ErrValidation, "MessageType %q is not RAW or DIGEST", bounded(in.MessageType))
	}
	if in.SigningAlgorithm == "" {
		return nil, key{}, nil, apiErr(ErrValidation, "SigningAlgorithm is required")
	}
	k, err := s.usableKeyFor(in.KeyId, signVerify)
	if err != nil {
		return nil, key{}, nil, err
	}
	if in.SigningAlgorithm != specs[k.spec].alg {
		return nil, key{}, nil, apiErr(ErrInvalidKeyUsage, "SigningAlgorithm %q is not valid for %s (%s)", bounded(in.SigningAlgorithm), s.KeyARN(k.id), k.spec)
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), k.material)
	if err != nil {
		return nil, key{}, nil, apiErr(ErrInternal, "key material: %v", err)
	}
	return priv, k, digest, dryRun(in.DryRun)
}

func (s *Server) sign(_ context.Context, in *signReq) (*signResp, error) {
	priv, k, digest, err := s.signKey(in)
	if err != nil {
		return nil, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest)
	if err != nil {
		return nil, apiErr(ErrInternal, "ecdsa: %v", err)
	}
	return &signResp{KeyId: s.KeyARN(k.id), Signature: sig, SigningAlgorithm: ecdsaSHA256}, nil
}

func (s *Server) verify(_ context.Context, in *signReq) (*verifyResp, error) {
	if len(in.Signature) == 0 {
		return nil, apiErr(ErrValidation, "Signature is required")
	}
	priv, k, digest, err := s.signKey(in)
	if err != nil {
		return nil, err
	}
	if !ecdsa.VerifyASN1(&priv.PublicKey, digest, in.Signature) {
		return nil, apiErr(ErrInvalidSignature, "the signature does not verify")
	}
	return &verifyResp{KeyId: s.KeyARN(k.id), SignatureValid: true, SigningAlgorithm: ecdsaSHA256}, nil
}

type publicKeyResp struct {
	KeyId                 string
	PublicKey             []byte // DER SubjectPublicKeyInfo
	KeySpec               string
	CustomerMasterKeySpec string
	KeyUsage              string
	SigningAlgorithms     []string
}

func (s *Server) getPublicKey(_ context.Context, in *keyIDReq) (*publicKeyResp, error) {
	k, err := s.resolve(in.KeyId)
	if err != nil {
		return nil, err
	}
	if k.spec != eccNistP256 {
		return nil, apiErr(ErrUnsupportedOperation, "%s is not an asymmetric key", s.KeyARN(k.id))
	}
	if err := s.checkUsable(k); err != nil {
		return nil, err
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), k.material)
	if err != nil {
		return nil, apiErr(ErrInternal, "key material: %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, apiErr(ErrInternal, "public key: %v", err)
	}
	return &publicKeyResp{
		KeyId: s.KeyARN(k.id), PublicKey: der, KeySpec: k.spec, CustomerMasterKeySpec: k.spec,
		KeyUsage: signVerify, SigningAlgorithms: []string{ecdsaSHA256},
	}, nil
}
