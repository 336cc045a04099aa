package envelope

import (
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// SuiteID identifies an algorithm suite, as written in the message header.
// phicrypt writes the two key-committing suites named below and reads
// every AWS Encryption SDK suite. The legacy (version 1) suites have no
// names here: producers that must be read by ESDK 1.x write them under
// ForbidEncryptAllowDecrypt, 0x0378 by default or another given as
// WithSuite(SuiteID(0x0178)) or through ParseSuiteID.
type SuiteID uint16

// The key-committing algorithm suites, which phicrypt writes.
const (
	AES256GCMHKDFSHA512Commit     SuiteID = 0x0478 // committing, unsigned
	AES256GCMHKDFSHA512CommitP384 SuiteID = 0x0578 // committing, signed: the default
)

// The legacy (version 1, non-committing) suites. All suites use AES-GCM
// with a 12-byte IV and a 16-byte tag.
const (
	aes128GCM                    SuiteID = 0x0014 // no KDF (legacy)
	aes192GCM                    SuiteID = 0x0046 // no KDF (legacy)
	aes256GCM                    SuiteID = 0x0078 // no KDF (legacy)
	aes128GCMHKDFSHA256          SuiteID = 0x0114
	aes192GCMHKDFSHA256          SuiteID = 0x0146
	aes256GCMHKDFSHA256          SuiteID = 0x0178
	aes128GCMHKDFSHA256ECDSAP256 SuiteID = 0x0214
	aes192GCMHKDFSHA384ECDSAP384 SuiteID = 0x0346
	aes256GCMHKDFSHA384ECDSAP384 SuiteID = 0x0378
)

type kdf uint8

const (
	kdfIdentity kdf = iota
	kdfSHA256
	kdfSHA384
	kdfSHA512
)

// suite holds what the format needs to know of one algorithm suite.
type suite struct {
	id         SuiteID
	version    byte // message format version
	keyLen     int  // data key and encryption key length
	kdf        kdf
	curve      elliptic.Curve // nil if the suite does not sign
	committing bool
}

var suites = [...]suite{
	{aes128GCM, 1, 16, kdfIdentity, nil, false},
	{aes192GCM, 1, 24, kdfIdentity, nil, false},
	{aes256GCM, 1, 32, kdfIdentity, nil, false},
	{aes128GCMHKDFSHA256, 1, 16, kdfSHA256, nil, false},
	{aes192GCMHKDFSHA256, 1, 24, kdfSHA256, nil, false},
	{aes256GCMHKDFSHA256, 1, 32, kdfSHA256, nil, false},
	{aes128GCMHKDFSHA256ECDSAP256, 1, 16, kdfSHA256, elliptic.P256(), false},
	{aes192GCMHKDFSHA384ECDSAP384, 1, 24, kdfSHA384, elliptic.P384(), false},
	{aes256GCMHKDFSHA384ECDSAP384, 1, 32, kdfSHA384, elliptic.P384(), false},
	{AES256GCMHKDFSHA512Commit, 2, 32, kdfSHA512, nil, true},
	{AES256GCMHKDFSHA512CommitP384, 2, 32, kdfSHA512, elliptic.P384(), true},
}

// lookupSuite returns the suite id. It searches from the end, where the
// committing suites phicrypt writes are, as it is called several times a
// message.
func lookupSuite(id SuiteID) (*suite, bool) {
	for i := len(suites) - 1; i >= 0; i-- {
		if suites[i].id == id {
			return &suites[i], true
		}
	}
	return nil, false
}

// known reports whether id is an AWS Encryption SDK suite.
func (id SuiteID) known() bool { _, ok := lookupSuite(id); return ok }

// Committing reports whether the suite commits to its data key.
func (id SuiteID) Committing() bool { s, ok := lookupSuite(id); return ok && s.committing }

// Signed reports whether messages of the suite carry an ECDSA signature.
func (id SuiteID) Signed() bool { s, ok := lookupSuite(id); return ok && s.curve != nil }

// DataKeyLength returns the length of the suite's data key in bytes.
func (id SuiteID) DataKeyLength() int {
	if s, ok := lookupSuite(id); ok {
		return s.keyLen
	}
	return 0
}

// String returns the suite ID in the official SDKs' "0x0578" form.
func (id SuiteID) String() string { return fmt.Sprintf("0x%04X", uint16(id)) }

// ParseSuiteID parses "0x0578", "0578" or "578".
func ParseSuiteID(s string) (SuiteID, error) {
	var v uint16
	t := s
	if len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X") {
		t = t[2:]
	}
	if _, err := fmt.Sscanf(t, "%x", &v); err != nil || len(t) == 0 || len(t) > 4 {
		return 0, fmt.Errorf("envelope: invalid suite ID %q", s)
	}
	id := SuiteID(v)
	if !id.known() {
		return 0, fmt.Errorf("envelope: suite %s: %w", id, ErrUnsupportedSuite)
	}
	return id, nil
}

func (s *suite) hash() func() hash.Hash {
	switch s.kdf {
	case kdfSHA256:
		return sha256.New
	case kdfSHA384:
		return sha512.New384
	case kdfSHA512:
		return sha512.New
	}
	return nil
}

// signHash returns the hash the suite's signature covers the message with.
func (s *suite) signHash() func() hash.Hash {
	if s.curve == elliptic.P256() {
		return sha256.New
	}
	return sha512.New384
}

// CommitmentPolicy decides which suites may be written and read.
type CommitmentPolicy uint8

const (
	// RequireEncryptRequireDecrypt writes and reads only key-committing
	// suites. It is the default.
	RequireEncryptRequireDecrypt CommitmentPolicy = iota
	// RequireEncryptAllowDecrypt writes committing suites and reads all.
	RequireEncryptAllowDecrypt
	// ForbidEncryptAllowDecrypt writes only non-committing suites and reads
	// all: for producers that must be read by ESDK 1.x.
	ForbidEncryptAllowDecrypt
)

func (p CommitmentPolicy) String() string {
	switch p {
	case RequireEncryptRequireDecrypt:
		return "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"
	case RequireEncryptAllowDecrypt:
		return "REQUIRE_ENCRYPT_ALLOW_DECRYPT"
	case ForbidEncryptAllowDecrypt:
		return "FORBID_ENCRYPT_ALLOW_DECRYPT"
	}
	return fmt.Sprintf("CommitmentPolicy(%d)", uint8(p))
}

func (p CommitmentPolicy) valid() bool { return p <= ForbidEncryptAllowDecrypt }

// defaultSuite is the suite written when none is chosen.
func (p CommitmentPolicy) defaultSuite() SuiteID {
	if p == ForbidEncryptAllowDecrypt {
		return aes256GCMHKDFSHA384ECDSAP384
	}
	return AES256GCMHKDFSHA512CommitP384
}

func (p CommitmentPolicy) allowsEncrypt(id SuiteID) bool {
	if p == ForbidEncryptAllowDecrypt {
		return !id.Committing()
	}
	return id.Committing()
}

func (p CommitmentPolicy) allowsDecrypt(id SuiteID) bool {
	return p != RequireEncryptRequireDecrypt || id.Committing()
}
