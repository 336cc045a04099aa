package kmslocal

import (
	"fmt"
	"net/http"
)

// Error is a KMS API error. Code is the wire "__type" (the AWS exception
// name); errors.Is matches any two *Error values with the same Code, so
// errors.Is(err, ErrNotFound) works for errors returned by Server methods.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// status is the HTTP status KMS uses for the error.
func (e *Error) status() int {
	if e.Code == ErrInternal.Code {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// Sentinel errors, one per KMS exception the server returns.
var (
	ErrNotFound             = &Error{Code: "NotFoundException"}
	ErrInvalidCiphertext    = &Error{Code: "InvalidCiphertextException"}
	ErrIncorrectKey         = &Error{Code: "IncorrectKeyException"}
	ErrDisabled             = &Error{Code: "DisabledException"}
	ErrValidation           = &Error{Code: "ValidationException"}
	ErrAlreadyExists        = &Error{Code: "AlreadyExistsException"}
	ErrInvalidAliasName     = &Error{Code: "InvalidAliasNameException"}
	ErrUnsupportedOperation = &Error{Code: "UnsupportedOperationException"}
	ErrInvalidKeyUsage      = &Error{Code: "InvalidKeyUsageException"}
	ErrSerialization        = &Error{Code: "SerializationException"}
	ErrDryRun               = &Error{Code: "DryRunOperationException"}
	ErrInternal             = &Error{Code: "KMSInternalException"}
)

func apiErr(kind *Error, format string, args ...any) *Error {
	return &Error{Code: kind.Code, Message: fmt.Sprintf(format, args...)}
}
