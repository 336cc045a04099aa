package envelope

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/phicrypt/phicrypt/internal/wire"
	"github.com/phicrypt/phicrypt/stream"
)

var (
	// ErrAuthentication reports a header or frame tag that did not verify:
	// a changed message, the wrong data key, or a wrong expected context.
	ErrAuthentication = stream.ErrAuthentication

	// ErrTruncated reports a message that ended early.
	ErrTruncated = stream.ErrTruncated

	// ErrMalformedBody reports a body frame that cannot be parsed.
	ErrMalformedBody = stream.ErrMalformedBody

	// ErrTooManyFrames reports a message that would need more than 2^32-1 frames.
	ErrTooManyFrames = stream.ErrTooManyFrames

	// ErrBufferOverlap reports an EncryptAppend or DecryptAppend whose dst
	// has spare capacity overlapping its input (in place included), which
	// the output would overwrite before it is read.
	ErrBufferOverlap = stream.ErrBufferOverlap

	// ErrMalformedHeader reports a header that cannot be parsed; the error
	// names the field.
	ErrMalformedHeader = errors.New("malformed message header")

	// ErrUnsupportedSuite reports an algorithm suite ID that is not an
	// AWS Encryption SDK suite, or one this call may not write.
	ErrUnsupportedSuite = errors.New("unsupported algorithm suite")

	// ErrCommitmentPolicy reports a suite the commitment policy forbids.
	ErrCommitmentPolicy = errors.New("algorithm suite not allowed by the commitment policy")

	// ErrCommitmentMismatch reports a key-committing message whose
	// commitment does not match its data key.
	ErrCommitmentMismatch = errors.New("key commitment mismatch")

	// ErrTooManyEncryptedDataKeys reports more encrypted data keys than
	// the configured maximum.
	ErrTooManyEncryptedDataKeys = errors.New("too many encrypted data keys")

	// ErrInvalidContext reports an encryption context that cannot be
	// written: a caller's key in the reserved "aws-crypto-" namespace,
	// invalid UTF-8, or longer than 65,535 bytes.
	ErrInvalidContext = wire.ErrInvalidContext

	// ErrContextMismatch reports a message whose encryption context does
	// not hold the pairs or keys the caller requires.
	ErrContextMismatch = errors.New("encryption context mismatch")

	// ErrSignature reports a signature that is missing or does not verify.
	ErrSignature = errors.New("signature verification failed")

	// ErrSignedMessage reports a signed message given to a reader that was
	// told to accept only unsigned messages (WithUnsignedOnly).
	ErrSignedMessage = errors.New("signed message refused")

	// ErrTrailingData reports bytes after the end of the message.
	ErrTrailingData = errors.New("trailing data after message")

	// ErrNoDecryptionKey reports that no keyring could decrypt any of the
	// message's encrypted data keys; the error is a *NoDecryptionKeyError.
	ErrNoDecryptionKey = errors.New("no keyring could decrypt a data key")

	// ErrPlaintextLength reports a streamed plaintext whose length differs
	// from the length declared with WithPlaintextLength.
	ErrPlaintextLength = errors.New("plaintext length differs from the declared length")

	// ErrInvalidOption reports an Option value out of range (frame length,
	// commitment policy, concurrency, encrypted data key limit), or an
	// Option given to a call it does not apply to.
	ErrInvalidOption = errors.New("invalid option")

	// ErrInvalidMaterials reports materials from a keyring or materials
	// manager that break the interface contract.
	ErrInvalidMaterials = errors.New("invalid cryptographic materials")
)

// headerError reports the header field that could not be parsed; it
// unwraps to ErrMalformedHeader and the cause.
type headerError struct {
	field string // e.g. "algorithm suite ID", "encryption context"
	err   error
}

func (e *headerError) Error() string {
	return "envelope: malformed message header: " + e.field + ": " + e.err.Error()
}

func (e *headerError) Unwrap() []error { return []error{ErrMalformedHeader, e.err} }

func headerErr(field string, err error) error { return &headerError{field: field, err: err} }

func headerErrf(field, format string, args ...any) error {
	return &headerError{field: field, err: fmt.Errorf(format, args...)}
}

// NoDecryptionKeyError lists why each keyring failed to decrypt the
// message's encrypted data keys. Errs holds every failure; Error prints at
// most 8 of them, each cut to 256 bytes, so a message
// with thousands of data keys cannot make a multi-megabyte error string.
type NoDecryptionKeyError struct {
	EncryptedDataKeys int     // how many the message had
	Errs              []error // one per keyring attempt that failed
}

// Bounds on NoDecryptionKeyError.Error, which stays under 4 KiB
// (maxReasons × (maxReasonLength + 5) + about 150 bytes).
const (
	maxReasons      = 8
	maxReasonLength = 256
)

func (e *NoDecryptionKeyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "envelope: no keyring could decrypt any of the %d data keys", e.EncryptedDataKeys)
	for i, err := range e.Errs {
		if i == maxReasons {
			fmt.Fprintf(&b, "; … and %d more", len(e.Errs)-i)
			break
		}
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(truncate(printable(err.Error()), maxReasonLength))
	}
	return b.String()
}

// printable returns s, quoted if it holds a rune that is not printable
// (a terminal escape in a third-party keyring's unquoted error).
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// truncate cuts s to at most n bytes at a rune boundary, marking a cut
// with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// streamError is an error of the stream package as this package reports
// it: its text starts "envelope: " where stream's starts "stream: ", and
// it unwraps to the stream error, so errors.Is and errors.As see through.
type streamError struct{ err error }

func (e *streamError) Error() string {
	return "envelope: " + strings.TrimPrefix(e.err.Error(), "stream: ")
}

func (e *streamError) Unwrap() error { return e.err }

// fromStream relabels err if the stream package made it: if its text
// starts "stream: " or it is a bare stream sentinel. Other errors, such as
// io.EOF, a source's read error or a Config.Final error, pass unchanged.
func fromStream(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	switch err {
	case ErrAuthentication, ErrTruncated, ErrMalformedBody, ErrTooManyFrames, ErrBufferOverlap, stream.ErrInvalidConfig:
		return &streamError{err}
	}
	if strings.HasPrefix(err.Error(), "stream: ") {
		return &streamError{err}
	}
	return err
}

func (e *NoDecryptionKeyError) Unwrap() []error {
	return append([]error{ErrNoDecryptionKey}, e.Errs...)
}
