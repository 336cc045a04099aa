package envelope

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
)

// EncryptionMaterials are what a message is written with. A keyring fills
// in DataKey (if nil) and appends to EncryptedDataKeys; EncryptionContext
// is read-only to it (the default materials manager may share the
// caller's map). The materials managers of this package set the rest (the
// signing key, the required context keys); a MaterialsManager of one's
// own wraps one of them. The unexported fields are read-only once set, so
// a copy of the struct may share them.
type EncryptionMaterials struct {
	Suite SuiteID

	// EncryptionContext is the full context of the message, including
	// aws-crypto-public-key for signing suites and the required pairs.
	EncryptionContext map[string]string

	// requiredContextKeys are context keys authenticated but not stored in
	// the header; the reader must supply their pairs.
	requiredContextKeys []string

	// DataKey is the plaintext data key, Suite.DataKeyLength() bytes.
	// The client zeroes it once the message key is derived.
	DataKey           []byte
	EncryptedDataKeys []EncryptedDataKey

	// signingKey signs the message for signing suites.
	signingKey *ecdsa.PrivateKey

	// edk holds the first encrypted data key: the default materials
	// manager starts EncryptedDataKeys on it, so that one key costs no
	// allocation of its own.
	edk [1]EncryptedDataKey
}

// DecryptionMaterials are what a message is read with. A keyring fills in
// DataKey; the default materials manager sets the rest, read-only once
// set, as for EncryptionMaterials (EncryptionContext may be the header's
// map).
type DecryptionMaterials struct {
	Suite               SuiteID
	EncryptionContext   map[string]string // header context plus the caller's required pairs
	requiredContextKeys []string          // the required pairs' keys
	DataKey             []byte
	verificationKey     *ecdsa.PublicKey // for signing suites
}

// A Keyring generates, encrypts and decrypts data keys. It must not keep
// m after a call returns: the Client reuses its storage for other
// messages.
type Keyring interface {
	// OnEncrypt generates m.DataKey if it is nil, then appends at least
	// one encrypted data key for it to m.EncryptedDataKeys.
	OnEncrypt(ctx context.Context, m *EncryptionMaterials) error

	// OnDecrypt sets m.DataKey from the first of edks it can decrypt. It
	// must not be called with m.DataKey already set.
	OnDecrypt(ctx context.Context, m *DecryptionMaterials, edks []EncryptedDataKey) error
}

// EncryptionRequest asks a MaterialsManager for encryption materials.
type EncryptionRequest struct {
	EncryptionContext map[string]string // the caller's context, never nil; read-only: copy it to change it
	Suite             SuiteID           // 0: the policy's default
	CommitmentPolicy  CommitmentPolicy
	PlaintextLength   int64 // -1 when unknown
}

// DecryptionRequest asks a MaterialsManager for decryption materials.
type DecryptionRequest struct {
	Suite             SuiteID
	CommitmentPolicy  CommitmentPolicy
	EncryptedDataKeys []EncryptedDataKey
	EncryptionContext map[string]string // as stored in the header
	// ReproducedContext is the context the caller expects; pairs missing
	// from the header are authenticated as required pairs.
	ReproducedContext map[string]string
}

// A MaterialsManager assembles the materials of each message. It is the
// extension point for caching (package keycache) and context policies.
// Materials returned belong to the caller, which zeroes their data key.
//
// It must not keep req after a call returns (copy what it keeps): the
// Client reuses its storage for other messages.
type MaterialsManager interface {
	GetEncryptionMaterials(ctx context.Context, req *EncryptionRequest) (*EncryptionMaterials, error)
	DecryptMaterials(ctx context.Context, req *DecryptionRequest) (*DecryptionMaterials, error)
}

// defaultMaterialsManager is the spec's default materials manager: it adds
// a signing key for signing suites and asks its keyring for data keys.
type defaultMaterialsManager struct {
	keyring Keyring
}

// NewDefaultMaterialsManager returns the spec's default materials manager
// over kr: it adds a signing key for signing suites (and the verification
// key on decrypt) and asks kr for data keys. Every MaterialsManager ends
// in one.
func NewDefaultMaterialsManager(kr Keyring) MaterialsManager {
	return &defaultMaterialsManager{keyring: kr}
}

// GetEncryptionMaterials implements MaterialsManager.
func (d *defaultMaterialsManager) GetEncryptionMaterials(ctx context.Context, req *EncryptionRequest) (*EncryptionMaterials, error) {
	m := new(EncryptionMaterials)
	if err := d.encryptionMaterials(ctx, req, m, false); err != nil {
		return nil, err
	}
	return m, nil
}

// encryptionMaterials is GetEncryptionMaterials into the storage m. With
// share, an unsigned suite's materials share the request's context, which
// both then hold read-only; the client shares it for a call that drops the
// materials before it returns. Signed suites always get a copy: the
// public key is added to it.
func (d *defaultMaterialsManager) encryptionMaterials(ctx context.Context, req *EncryptionRequest, m *EncryptionMaterials, share bool) error {
	id := req.Suite
	if id == 0 {
		id = req.CommitmentPolicy.defaultSuite()
	}
	s, ok := lookupSuite(id)
	if !ok {
		return fmt.Errorf("envelope: suite %s: %w", id, ErrUnsupportedSuite)
	}
	if !req.CommitmentPolicy.allowsEncrypt(id) {
		return fmt.Errorf("envelope: encrypt with suite %s under %s: %w", id, req.CommitmentPolicy, ErrCommitmentPolicy)
	}
	*m = EncryptionMaterials{Suite: id, EncryptionContext: req.EncryptionContext}
	if !share || s.curve != nil || m.EncryptionContext == nil {
		m.EncryptionContext = maps.Clone(req.EncryptionContext)
	}
	m.EncryptedDataKeys = m.edk[:0:1]
	if m.EncryptionContext == nil {
		m.EncryptionContext = map[string]string{}
	}
	if s.curve != nil {
		if _, ok := m.EncryptionContext[publicKeyKey]; ok {
			return fmt.Errorf("envelope: %s already in the context: %w", publicKeyKey, ErrInvalidContext)
		}
		priv, err := ecdsa.GenerateKey(s.curve, rand.Reader)
		if err != nil {
			return err
		}
		pub, err := compressPublicKey(&priv.PublicKey)
		if err != nil {
			return err
		}
		m.signingKey = priv
		m.EncryptionContext[publicKeyKey] = pub
	}
	if err := d.keyring.OnEncrypt(ctx, m); err != nil {
		return err
	}
	if len(m.DataKey) != s.keyLen || len(m.EncryptedDataKeys) == 0 {
		return fmt.Errorf("envelope: keyring returned a %d-byte data key and %d encrypted data keys: %w", len(m.DataKey), len(m.EncryptedDataKeys), ErrInvalidMaterials)
	}
	return nil
}

// DecryptMaterials implements MaterialsManager.
func (d *defaultMaterialsManager) DecryptMaterials(ctx context.Context, req *DecryptionRequest) (*DecryptionMaterials, error) {
	m := new(DecryptionMaterials)
	if err := d.decryptMaterials(ctx, req, m, false); err != nil {
		return nil, err
	}
	return m, nil
}

// decryptMaterials is DecryptMaterials into the storage m. With share and
// no pair to add from req.ReproducedContext, the materials share the
// header's context, which both then hold read-only; the client shares it
// for a call that drops the materials before it returns.
func (d *defaultMaterialsManager) decryptMaterials(ctx context.Context, req *DecryptionRequest, m *DecryptionMaterials, share bool) error {
	s, ok := lookupSuite(req.Suite)
	if !ok {
		return fmt.Errorf("envelope: suite %s: %w", req.Suite, ErrUnsupportedSuite)
	}
	if !req.CommitmentPolicy.allowsDecrypt(req.Suite) {
		return fmt.Errorf("envelope: decrypt suite %s under %s: %w", req.Suite, req.CommitmentPolicy, ErrCommitmentPolicy)
	}
	*m = DecryptionMaterials{Suite: req.Suite, EncryptionContext: req.EncryptionContext}
	if !share || len(req.ReproducedContext) > 0 || m.EncryptionContext == nil {
		m.EncryptionContext = maps.Clone(req.EncryptionContext)
	}
	if m.EncryptionContext == nil {
		m.EncryptionContext = map[string]string{}
	}
	var reproduced []string // no iterator or slice when there is none
	if len(req.ReproducedContext) > 0 {
		reproduced = slices.Sorted(maps.Keys(req.ReproducedContext))
	}
	for _, k := range reproduced {
		v := req.ReproducedContext[k]
		if hv, ok := m.EncryptionContext[k]; ok {
			if hv != v {
				return fmt.Errorf("envelope: context key %q has another value in the message: %w", k, ErrContextMismatch)
			}
			continue
		}
		m.EncryptionContext[k] = v
		m.requiredContextKeys = append(m.requiredContextKeys, k)
	}
	pub, hasPub := m.EncryptionContext[publicKeyKey]
	if s.curve == nil && hasPub {
		return headerErr("encryption context", fmt.Errorf("%s in a message of unsigned suite %s", publicKeyKey, req.Suite))
	}
	if s.curve != nil {
		if !hasPub {
			return headerErr("encryption context", fmt.Errorf("no %s for signed suite %s", publicKeyKey, req.Suite))
		}
		vk, err := decompressPublicKey(s.curve, pub)
		if err != nil {
			return headerErr("encryption context", err)
		}
		m.verificationKey = vk
	}
	if err := d.keyring.OnDecrypt(ctx, m, req.EncryptedDataKeys); err != nil {
		return err
	}
	if len(m.DataKey) != s.keyLen {
		return fmt.Errorf("envelope: keyring returned a %d-byte data key for suite %s: %w", len(m.DataKey), req.Suite, ErrInvalidMaterials)
	}
	return nil
}

// requiredContextMaterialsManager is the spec's required encryption
// context materials manager: the pairs of its keys must be in the context
// on encrypt and are then authenticated but left out of the header; on
// decrypt the caller must supply them.
type requiredContextMaterialsManager struct {
	under MaterialsManager
	keys  []string
}

// NewRequiredContextMaterialsManager returns the spec's required
// encryption context materials manager: it wraps under so that the pairs
// of the context keys in keys must be in the context on encrypt, are
// authenticated but kept out of message headers, and must be supplied
// (WithExpectedContext) on decrypt.
func NewRequiredContextMaterialsManager(under MaterialsManager, keys ...string) MaterialsManager {
	return &requiredContextMaterialsManager{under: under, keys: slices.Clone(keys)}
}

// GetEncryptionMaterials implements MaterialsManager.
func (r *requiredContextMaterialsManager) GetEncryptionMaterials(ctx context.Context, req *EncryptionRequest) (*EncryptionMaterials, error) {
	for _, k := range r.keys {
		if _, ok := req.EncryptionContext[k]; !ok {
			return nil, fmt.Errorf("envelope: required context key %q missing: %w", k, ErrContextMismatch)
		}
	}
	m, err := r.under.GetEncryptionMaterials(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, k := range r.keys {
		if !slices.Contains(m.requiredContextKeys, k) {
			// Clipped: a copy of m (a keycache's) may share the array.
			m.requiredContextKeys = append(slices.Clip(m.requiredContextKeys), k)
		}
	}
	return m, nil
}

// DecryptMaterials implements MaterialsManager.
func (r *requiredContextMaterialsManager) DecryptMaterials(ctx context.Context, req *DecryptionRequest) (*DecryptionMaterials, error) {
	for _, k := range r.keys {
		if _, ok := req.ReproducedContext[k]; !ok {
			return nil, fmt.Errorf("envelope: required context key %q not supplied: %w", k, ErrContextMismatch)
		}
	}
	m, err := r.under.DecryptMaterials(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, k := range r.keys {
		if _, ok := m.EncryptionContext[k]; !ok {
			return nil, fmt.Errorf("envelope: required context key %q missing: %w", k, ErrContextMismatch)
		}
	}
	return m, nil
}
