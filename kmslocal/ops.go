package kmslocal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	symmetricDefault      = "SYMMETRIC_DEFAULT"
	encryptDecrypt        = "ENCRYPT_DECRYPT"
	maxPlaintext          = 4096
	maxDataKeyBytes       = 1024
	maxDescription        = 8192
	defaultRotationPeriod = 365
)

func handlers() map[string]handler {
	return map[string]handler{
		"CreateKey":                       op((*Server).createKey),
		"CreateAlias":                     op((*Server).createAlias),
		"DescribeKey":                     op((*Server).describeKey),
		"ListKeys":                        op((*Server).listKeys),
		"ListAliases":                     op((*Server).listAliases),
		"GenerateDataKey":                 op((*Server).generateDataKey),
		"GenerateDataKeyWithoutPlaintext": op((*Server).generateDataKeyWithoutPlaintext),
		"Encrypt":                         op((*Server).encrypt),
		"Decrypt":                         op((*Server).decrypt),
		"ReEncrypt":                       op((*Server).reEncrypt),
		"DisableKey":                      op((*Server).disableKey),
		"EnableKey":                       op((*Server).enableKey),
		"GetKeyRotationStatus":            op((*Server).getKeyRotationStatus),
		"EnableKeyRotation":               op((*Server).enableKeyRotation),
		"DisableKeyRotation":              op((*Server).disableKeyRotation),
		"GetKeyPolicy":                    op((*Server).getKeyPolicy),
		"PutKeyPolicy":                    op((*Server).putKeyPolicy),
		"ListKeyPolicies":                 op((*Server).listKeyPolicies),
		"GenerateMac":                     op((*Server).generateMac),
		"VerifyMac":                       op((*Server).verifyMac),
		"Sign":                            op((*Server).sign),
		"Verify":                          op((*Server).verify),
		"GetPublicKey":                    op((*Server).getPublicKey),
	}
}

// op adapts a typed operation to a handler that decodes the JSON body.
func op[Req, Resp any](f func(*Server, context.Context, *Req) (*Resp, error)) handler {
	return func(s *Server, ctx context.Context, body []byte) (any, error) {
		var req Req
		if len(bytes.TrimSpace(body)) != 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				// encoding/json quotes a number it cannot store whole.
				return nil, apiErr(ErrSerialization, "malformed request: %s", cutTo(err.Error(), 256))
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return f(s, ctx, &req)
	}
}

// epoch marshals as JSON epoch seconds, the awsJson1_1 timestamp format.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(e).UnixMilli())/1000, 'f', -1, 64), nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, apiErr(ErrInternal, "random: %v", err)
	}
	return b, nil
}

func requestID() string {
	b, err := randomBytes(16)
	if err != nil {
		return ""
	}
	return uuid(b)
}

func uuid(b []byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newKey(desc string, multiRegion bool, material []byte, now time.Time) (*key, error) {
	idb, err := randomBytes(16)
	if err != nil {
		return nil, err
	}
	id := uuid(idb)
	if multiRegion {
		id = "mrk-" + hex.EncodeToString(idb)
	}
	if material == nil {
		if material, err = randomBytes(keyMaterialN); err != nil {
			return nil, err
		}
	} else {
		material = bytes.Clone(material)
	}
	return &key{id: id, spec: symmetricDefault, material: material, description: desc, enabled: true, multiRegion: multiRegion, created: now}, nil
}

// checkUsable rejects crypto operations on disabled keys.
func (s *Server) checkUsable(k key) error {
	if !k.enabled {
		return apiErr(ErrDisabled, "%s is disabled.", s.KeyARN(k.id))
	}
	return nil
}

func checkAlgorithm(alg string) error {
	if alg != "" && alg != symmetricDefault {
		return apiErr(ErrInvalidKeyUsage, "encryption algorithm %s is not supported by symmetric keys", bounded(alg))
	}
	return nil
}

func checkRecipient(r json.RawMessage) error {
	if len(r) != 0 && string(r) != "null" {
		return apiErr(ErrUnsupportedOperation, "Recipient (Nitro Enclaves attestation) is not supported")
	}
	return nil
}

func dryRun(b *bool) error {
	if b != nil && *b {
		return apiErr(ErrDryRun, "The request would have succeeded, but the DryRun option is set.")
	}
	return nil
}

// --- key management ---

type keyMetadata struct {
	AWSAccountId             string
	KeyId                    string
	Arn                      string
	CreationDate             epoch
	Enabled                  bool
	Description              string
	KeyUsage                 string
	KeyState                 string
	Origin                   string
	KeyManager               string
	CustomerMasterKeySpec    string
	KeySpec                  string
	EncryptionAlgorithms     []string `json:",omitempty"`
	MacAlgorithms            []string `json:",omitempty"`
	SigningAlgorithms        []string `json:",omitempty"`
	MultiRegion              bool
	MultiRegionConfiguration *multiRegionConfig `json:",omitempty"`
}

type multiRegionConfig struct {
	MultiRegionKeyType string
	PrimaryKey         multiRegionKey
	ReplicaKeys        []multiRegionKey
}

type multiRegionKey struct {
	Arn    string
	Region string
}

func (s *Server) metadata(k key) *keyMetadata {
	state := "Enabled"
	if !k.enabled {
		state = "Disabled"
	}
	ks := specs[k.spec]
	m := &keyMetadata{
		AWSAccountId: s.account, KeyId: k.id, Arn: s.KeyARN(k.id), CreationDate: epoch(k.created),
		Enabled: k.enabled, Description: k.description, KeyUsage: ks.usage, KeyState: state,
		Origin: "AWS_KMS", KeyManager: "CUSTOMER", CustomerMasterKeySpec: k.spec,
		KeySpec: k.spec, MultiRegion: k.multiRegion,
	}
	switch ks.usage {
	case encryptDecrypt:
		m.EncryptionAlgorithms = []string{symmetricDefault}
	case generateVerifyMac:
		m.MacAlgorithms = []string{ks.alg}
	case signVerify:
		m.SigningAlgorithms = []string{ks.alg}
	}
	if k.multiRegion {
		m.MultiRegionConfiguration = &multiRegionConfig{
			MultiRegionKeyType: "PRIMARY",
			PrimaryKey:         multiRegionKey{Arn: s.KeyARN(k.id), Region: s.region},
			ReplicaKeys:        []multiRegionKey{},
		}
	}
	return m
}

type createKeyReq struct {
	Description           string
	KeyUsage              string
	KeySpec               string
	CustomerMasterKeySpec string
	Origin                string
	CustomKeyStoreId      string
	XksKeyId              string
	MultiRegion           *bool
	Policy                *string
}

type keyMetadataResp struct{ KeyMetadata *keyMetadata }

func (s *Server) createKey(_ context.Context, in *createKeyReq) (*keyMetadataResp, error) {
	spec, err := keySpecOf(in)
	if err != nil {
		return nil, err
	}
	switch {
	case in.Origin != "" && in.Origin != "AWS_KMS":
		return nil, apiErr(ErrUnsupportedOperation, "Origin %s is not supported", bounded(in.Origin))
	case in.CustomKeyStoreId != "" || in.XksKeyId != "":
		return nil, apiErr(ErrUnsupportedOperation, "custom key stores are not supported")
	case len(in.Description) > maxDescription:
		return nil, apiErr(ErrValidation, "Description exceeds %d characters", maxDescription)
	}
	if in.Policy != nil {
		if err := checkPolicy(*in.Policy); err != nil {
			return nil, err
		}
	}
	k, err := newSpecKey(in.Description, in.MultiRegion != nil && *in.MultiRegion, spec, s.now().UTC())
	if err != nil {
		return nil, err
	}
	if in.Policy != nil {
		k.policy = *in.Policy
	}
	err = s.st.update(func() (func(), error) {
		s.st.keys[k.id] = k
		return func() { delete(s.st.keys, k.id) }, nil
	})
	if err != nil {
		return nil, err
	}
	return &keyMetadataResp{s.metadata(*k)}, nil
}

type createAliasReq struct{ AliasName, TargetKeyId string }

type empty struct{}

func (s *Server) createAlias(_ context.Context, in *createAliasReq) (*empty, error) {
	if err := validAliasName(in.AliasName); err != nil {
		return nil, err
	}
	if in.TargetKeyId == "" {
		return nil, apiErr(ErrValidation, "TargetKeyId is required")
	}
	err := s.st.update(func() (func(), error) {
		if isAliasRef(in.TargetKeyId) {
			return nil, apiErr(ErrValidation, "TargetKeyId must be a key id or key ARN, not an alias")
		}
		k, err := s.resolveLocked(in.TargetKeyId)
		if err != nil {
			return nil, err
		}
		if _, ok := s.st.aliases[in.AliasName]; ok {
			return nil, apiErr(ErrAlreadyExists, "An alias with the name %s already exists", s.aliasARN(in.AliasName))
		}
		now := s.now().UTC()
		s.st.aliases[in.AliasName] = &alias{target: k.id, created: now, updated: now}
		return func() { delete(s.st.aliases, in.AliasName) }, nil
	})
	if err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func isAliasRef(ref string) bool {
	return strings.HasPrefix(ref, "alias/") || strings.Contains(ref, ":alias/")
}

type keyIDReq struct {
	KeyId       string
	GrantTokens []string
}

func (s *Server) describeKey(_ context.Context, in *keyIDReq) (*keyMetadataResp, error) {
	k, err := s.resolve(in.KeyId)
	if err != nil {
		return nil, err
	}
	return &keyMetadataResp{s.metadata(k)}, nil
}

type listReq struct {
	KeyId  string
	Limit  *int32
	Marker string
}

type keyListEntry struct{ KeyId, KeyArn string }

type listKeysResp struct {
	Keys      []keyListEntry
	Truncated bool
}

func (s *Server) listKeys(context.Context, *listReq) (*listKeysResp, error) {
	out := &listKeysResp{Keys: []keyListEntry{}}
	for _, k := range s.Keys() {
		out.Keys = append(out.Keys, keyListEntry{KeyId: k.ID, KeyArn: k.ARN})
	}
	return out, nil
}

type aliasListEntry struct {
	AliasName       string
	AliasArn        string
	TargetKeyId     string
	CreationDate    epoch
	LastUpdatedDate epoch
}

type listAliasesResp struct {
	Aliases   []aliasListEntry
	Truncated bool
}

func (s *Server) listAliases(_ context.Context, in *listReq) (*listAliasesResp, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	filter := ""
	if in.KeyId != "" {
		if isAliasRef(in.KeyId) {
			return nil, apiErr(ErrValidation, "KeyId must be a key id or key ARN, not an alias")
		}
		k, err := s.resolveLocked(in.KeyId)
		if err != nil {
			return nil, err
		}
		filter = k.id
	}
	out := &listAliasesResp{Aliases: []aliasListEntry{}}
	for name, a := range s.st.aliases {
		if filter != "" && a.target != filter {
			continue
		}
		out.Aliases = append(out.Aliases, aliasListEntry{
			AliasName: name, AliasArn: s.aliasARN(name), TargetKeyId: a.target,
			CreationDate: epoch(a.created), LastUpdatedDate: epoch(a.updated),
		})
	}
	sort.Slice(out.Aliases, func(i, j int) bool { return out.Aliases[i].AliasName < out.Aliases[j].AliasName })
	return out, nil
}

func (s *Server) setEnabled(ref string, enabled bool) (*empty, error) {
	err := s.st.update(func() (func(), error) {
		k, err := s.resolveLocked(ref)
		if err != nil {
			return nil, err
		}
		old := k.enabled
		k.enabled = enabled
		return func() { k.enabled = old }, nil
	})
	if err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (s *Server) disableKey(_ context.Context, in *keyIDReq) (*empty, error) {
	return s.setEnabled(in.KeyId, false)
}

func (s *Server) enableKey(_ context.Context, in *keyIDReq) (*empty, error) {
	return s.setEnabled(in.KeyId, true)
}

type rotationReq struct {
	KeyId                string
	RotationPeriodInDays *int32
}

// checkRotatable refuses rotation settings on keys KMS cannot rotate:
// HMAC and asymmetric keys.
func (s *Server) checkRotatable(k key) error {
	if k.spec != symmetricDefault {
		return apiErr(ErrUnsupportedOperation, "%s is a %s key; automatic rotation is supported only on symmetric encryption keys", s.KeyARN(k.id), k.spec)
	}
	return nil
}

func (s *Server) enableKeyRotation(_ context.Context, in *rotationReq) (*empty, error) {
	period := int32(defaultRotationPeriod)
	if in.RotationPeriodInDays != nil {
		period = *in.RotationPeriodInDays
		if period < 90 || period > 2560 {
			return nil, apiErr(ErrValidation, "RotationPeriodInDays must be between 90 and 2560")
		}
	}
	return s.setRotation(in.KeyId, true, period)
}

func (s *Server) disableKeyRotation(_ context.Context, in *keyIDReq) (*empty, error) {
	return s.setRotation(in.KeyId, false, 0)
}

// setRotation turns automatic rotation of an enabled symmetric key on
// (with period days) or off. Turning it on starts the period when it was
// off; turning it off clears the period, so GetKeyRotationStatus reports
// neither a period nor a next rotation date.
func (s *Server) setRotation(ref string, on bool, period int32) (*empty, error) {
	err := s.st.update(func() (func(), error) {
		k, err := s.resolveLocked(ref)
		if err != nil {
			return nil, err
		}
		if err := s.checkRotatable(*k); err != nil {
			return nil, err
		}
		if err := s.checkUsable(*k); err != nil {
			return nil, err
		}
		old := *k
		switch {
		case !on:
			k.rotationSince = time.Time{}
		case !k.rotation:
			k.rotationSince = s.now().UTC()
		}
		k.rotation, k.rotationPeriod = on, period
		return func() { *k = old }, nil
	})
	if err != nil {
		return nil, err
	}
	return &empty{}, nil
}

type rotationStatusResp struct {
	KeyRotationEnabled   bool
	KeyId                string
	RotationPeriodInDays int32  `json:",omitempty"`
	NextRotationDate     *epoch `json:",omitempty"`
}

func (s *Server) getKeyRotationStatus(_ context.Context, in *keyIDReq) (*rotationStatusResp, error) {
	k, err := s.resolve(in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := s.checkRotatable(k); err != nil {
		return nil, err
	}
	out := &rotationStatusResp{KeyRotationEnabled: k.rotation, KeyId: s.KeyARN(k.id)}
	if k.rotation {
		out.RotationPeriodInDays = k.rotationPeriod
		next := epoch(k.rotationSince.AddDate(0, 0, int(k.rotationPeriod)))
		out.NextRotationDate = &next
	}
	return out, nil
}

// --- cryptographic operations ---

type encryptReq struct {
	KeyId               string
	Plaintext           []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	EncryptionAlgorithm string
	DryRun              *bool
}

type encryptResp struct {
	CiphertextBlob      []byte
	KeyId               string
	EncryptionAlgorithm string
}

func (s *Server) encrypt(_ context.Context, in *encryptReq) (*encryptResp, error) {
	if len(in.Plaintext) == 0 || len(in.Plaintext) > maxPlaintext {
		return nil, apiErr(ErrValidation, "Plaintext must be 1 to %d bytes", maxPlaintext)
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	k, err := s.usableKey(in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	ct, err := sealBlob(k.id, k.material, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &encryptResp{CiphertextBlob: ct, KeyId: s.KeyARN(k.id), EncryptionAlgorithm: symmetricDefault}, nil
}

// usableKey resolves ref to an enabled symmetric encryption key.
func (s *Server) usableKey(ref string) (key, error) {
	return s.usableKeyFor(ref, encryptDecrypt)
}

// usableKeyFor resolves ref to an enabled key of the given KeyUsage.
func (s *Server) usableKeyFor(ref, usage string) (key, error) {
	k, err := s.resolve(ref)
	if err != nil {
		return key{}, err
	}
	if err := s.checkUsage(k, usage); err != nil {
		return key{}, err
	}
	return k, s.checkUsable(k)
}

type generateDataKeyReq struct {
	KeyId             string
	EncryptionContext map[string]string
	NumberOfBytes     *int32
	KeySpec           string
	GrantTokens       []string
	Recipient         json.RawMessage
	DryRun            *bool
}

type generateDataKeyResp struct {
	CiphertextBlob []byte
	Plaintext      []byte `json:",omitempty"`
	KeyId          string
}

func (s *Server) generate(in *generateDataKeyReq, withPlaintext bool) (*generateDataKeyResp, error) {
	if err := checkRecipient(in.Recipient); err != nil {
		return nil, err
	}
	var n int
	switch {
	case in.NumberOfBytes != nil && in.KeySpec != "":
		return nil, apiErr(ErrValidation, "specify either NumberOfBytes or KeySpec, not both")
	case in.NumberOfBytes != nil:
		n = int(*in.NumberOfBytes)
		if n < 1 || n > maxDataKeyBytes {
			return nil, apiErr(ErrValidation, "NumberOfBytes must be 1 to %d", maxDataKeyBytes)
		}
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec == "":
		return nil, apiErr(ErrValidation, "Please specify either number of bytes or key spec.")
	default:
		return nil, apiErr(ErrValidation, "KeySpec %q is not AES_128 or AES_256", bounded(in.KeySpec))
	}
	k, err := s.usableKey(in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	pt, err := randomBytes(n)
	if err != nil {
		return nil, err
	}
	ct, err := sealBlob(k.id, k.material, pt, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	out := &generateDataKeyResp{CiphertextBlob: ct, KeyId: s.KeyARN(k.id)}
	if withPlaintext {
		out.Plaintext = pt
	}
	return out, nil
}

func (s *Server) generateDataKey(_ context.Context, in *generateDataKeyReq) (*generateDataKeyResp, error) {
	return s.generate(in, true)
}

func (s *Server) generateDataKeyWithoutPlaintext(_ context.Context, in *generateDataKeyReq) (*generateDataKeyResp, error) {
	return s.generate(in, false)
}

type decryptReq struct {
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	KeyId               string
	EncryptionAlgorithm string
	Recipient           json.RawMessage
	DryRun              *bool
}

type decryptResp struct {
	KeyId               string
	Plaintext           []byte
	EncryptionAlgorithm string
}

// open decrypts a ciphertext blob. If keyRef is non-empty it must name the
// key that produced the blob.
func (s *Server) open(ciphertext []byte, keyRef string, ctx map[string]string) (key, []byte, error) {
	if len(ciphertext) == 0 {
		return key{}, nil, apiErr(ErrValidation, "CiphertextBlob is required")
	}
	bl, err := parseBlob(ciphertext)
	if err != nil {
		return key{}, nil, err
	}
	if keyRef != "" {
		want, err := s.resolve(keyRef)
		if err != nil {
			return key{}, nil, err
		}
		if want.id != bl.keyID {
			return key{}, nil, apiErr(ErrIncorrectKey, "The key ID in the request does not identify a KMS key that can perform this operation.")
		}
	}
	s.st.mu.RLock()
	kp := s.st.keys[bl.keyID]
	var k key
	if kp != nil {
		k = *kp
	}
	s.st.mu.RUnlock()
	if kp == nil {
		return key{}, nil, apiErr(ErrInvalidCiphertext, "ciphertext refers to a key that does not exist here")
	}
	if err := s.checkUsage(k, encryptDecrypt); err != nil {
		return key{}, nil, err
	}
	if err := s.checkUsable(k); err != nil {
		return key{}, nil, err
	}
	pt, err := bl.open(k.material, ctx)
	if err != nil {
		return key{}, nil, err
	}
	return k, pt, nil
}

func (s *Server) decrypt(_ context.Context, in *decryptReq) (*decryptResp, error) {
	if err := checkRecipient(in.Recipient); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	k, pt, err := s.open(in.CiphertextBlob, in.KeyId, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	return &decryptResp{KeyId: s.KeyARN(k.id), Plaintext: pt, EncryptionAlgorithm: symmetricDefault}, nil
}

type reEncryptReq struct {
	CiphertextBlob                 []byte
	SourceEncryptionContext        map[string]string
	SourceKeyId                    string
	DestinationKeyId               string
	DestinationEncryptionContext   map[string]string
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
	GrantTokens                    []string
	DryRun                         *bool
}

type reEncryptResp struct {
	CiphertextBlob                 []byte
	SourceKeyId                    string
	KeyId                          string
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
}

func (s *Server) reEncrypt(_ context.Context, in *reEncryptReq) (*reEncryptResp, error) {
	if err := checkAlgorithm(in.SourceEncryptionAlgorithm); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.DestinationEncryptionAlgorithm); err != nil {
		return nil, err
	}
	if in.DestinationKeyId == "" {
		return nil, apiErr(ErrValidation, "DestinationKeyId is required")
	}
	src, pt, err := s.open(in.CiphertextBlob, in.SourceKeyId, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	dst, err := s.usableKey(in.DestinationKeyId)
	if err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	ct, err := sealBlob(dst.id, dst.material, pt, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return &reEncryptResp{
		CiphertextBlob: ct, SourceKeyId: s.KeyARN(src.id), KeyId: s.KeyARN(dst.id),
		SourceEncryptionAlgorithm: symmetricDefault, DestinationEncryptionAlgorithm: symmetricDefault,
	}, nil
}
