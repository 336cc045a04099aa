package envelope

import "errors"

// Names the package's external tests use that are not part of its API.

// The legacy suites.
const (
	AES128GCM                    = aes128GCM
	AES192GCM                    = aes192GCM
	AES256GCM                    = aes256GCM
	AES128GCMHKDFSHA256          = aes128GCMHKDFSHA256
	AES192GCMHKDFSHA256          = aes192GCMHKDFSHA256
	AES256GCMHKDFSHA256          = aes256GCMHKDFSHA256
	AES128GCMHKDFSHA256ECDSAP256 = aes128GCMHKDFSHA256ECDSAP256
	AES192GCMHKDFSHA384ECDSAP384 = aes192GCMHKDFSHA384ECDSAP384
	AES256GCMHKDFSHA384ECDSAP384 = aes256GCMHKDFSHA384ECDSAP384
)

// MaxEncryptedDataKeys is the most encrypted data keys a header can hold.
const MaxEncryptedDataKeys = maxEncryptedDataKeys

// WithoutNetV400Retry turns off the ESDK-NET 4.0.0 retry.
var WithoutNetV400Retry = withoutNetV400Retry

// Suites returns every suite phicrypt can decrypt.
func Suites() []SuiteID {
	ids := make([]SuiteID, len(suites))
	for i, s := range suites {
		ids[i] = s.id
	}
	return ids
}

// Known reports whether id is an AWS Encryption SDK suite.
func Known(id SuiteID) bool { return id.known() }

// MessageVersion returns the message format version of suite id, or 0.
func MessageVersion(id SuiteID) byte {
	if s, ok := lookupSuite(id); ok {
		return s.version
	}
	return 0
}

// HeaderField returns the header field a malformed-header error names.
func HeaderField(err error) (string, bool) {
	var he *headerError
	if !errors.As(err, &he) {
		return "", false
	}
	return he.field, true
}

// HeaderAuth returns what authenticates h: the v1 header IV, the v2
// commit key and the auth tag.
func HeaderAuth(h *Header) (iv, commitKey, authTag []byte) { return h.iv, h.commitKey, h.authTag }

// ContentType returns the content type byte of h.
func ContentType(h *Header) byte {
	if h.FrameLength == 0 {
		return contentNonFramed
	}
	return contentFramed
}

// GoroutinesIn is goroutinesIn, for the external tests.
var GoroutinesIn = goroutinesIn
