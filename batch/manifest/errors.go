package manifest

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinels matched with errors.Is on any error Read returns for bad input.
var (
	// ErrMalformed: a row or the manifest.json breaks the format (column
	// count, URL escape, empty or invalid bucket or key, bad JSON, ...).
	ErrMalformed = errors.New("malformed manifest")
	// ErrLimit: a row, key, version ID, manifest.json, schema or files
	// list is over one of the limits in doc.go.
	ErrLimit = errors.New("manifest over a limit")
	// ErrUnsupportedFormat: an Inventory report in a format other than
	// CSV (ORC, Parquet); the error's Value names it.
	ErrUnsupportedFormat = errors.New("unsupported manifest format")
	// ErrChecksum: an Inventory data file's MD5 or size differs from its
	// manifest.json entry. Its rows were already yielded.
	ErrChecksum = errors.New("manifest data file checksum mismatch")
)

// maxQuoted is how many bytes of an attacker-controlled string an error
// message shows; the rest is elided.
const maxQuoted = 64

// Error is the error Read returns for a bad manifest, a failing data file
// or an interrupted read. Unwrap gives Err and Cause, so errors.Is matches
// both the sentinel and, say, context.Canceled or an Opener's error.
type Error struct {
	File  string // Inventory data file key; "" for the manifest itself
	Line  int    // 1-based line in File (or the manifest); 0 if none
	Field string // what was wrong: "key", "bucket", "row", "fileFormat", ...; "" if none
	Value string // the offending value as read; printed quoted and bounded
	Err   error  // a sentinel above, or the error of the source, the Opener or ctx
	Cause error  // the underlying error under a sentinel (URL escape, CSV, JSON, gzip); may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("manifest")
	if e.File != "" {
		b.WriteString(" data file ")
		b.WriteString(quote(e.File))
	}
	if e.Line > 0 {
		b.WriteString(" line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
		b.WriteByte(' ')
		b.WriteString(quote(e.Value))
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns Err and, if set, Cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// quote is strconv.Quote of at most maxQuoted bytes of s, marking a cut.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + "..." + strconv.Itoa(len(s)) + " bytes"
}
