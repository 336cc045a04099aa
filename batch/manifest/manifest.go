package manifest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Limits on attacker-controlled input; doc.go explains each.
const (
	MaxRowBytes       = 8 << 10  // one CSV row (record), separators included
	MaxKeyBytes       = 1024     // an object key after URL decoding, as in S3
	MaxVersionIDBytes = 1024     // a version ID
	MaxBucketBytes    = 255      // a bucket name (legacy us-east-1 names reach 255)
	MaxJSONBytes      = 16 << 20 // an Inventory manifest.json
	MaxFiles          = 100_000  // data files in one manifest.json
	MaxSchemaColumns  = 64       // columns in an Inventory fileSchema
)

var errGzip = errors.New("gzip data: an Inventory report is read from its manifest.json")

// Entry is one object a manifest names.
type Entry struct {
	Bucket    string
	Key       string // URL-decoded
	VersionID string // "" when the manifest has none
	Size      int64  // bytes; -1 when the manifest does not say
}

// Opener opens an object named by a manifest (an Inventory data file).
// bucket and key come from the manifest.json, so from whoever wrote it.
type Opener func(ctx context.Context, bucket, key string) (io.ReadCloser, error)

// Read reads a manifest from r and calls yield for each entry, in order.
// The format is detected from the first byte after white space and a
// UTF-8 BOM: '{' is an S3 Inventory manifest.json (its data files are
// opened with open), anything else is an S3 Batch Operations CSV (open
// is not used and may be nil). Gzip data (an Inventory data file on its
// own) is ErrUnsupportedFormat.
//
// Read stops at the first error: yield's is returned as is, any other is
// an *Error. Entries yielded before an error stay yielded. Memory does not
// grow with the number of rows; ctx is checked between rows.
func Read(ctx context.Context, r io.Reader, open Opener, yield func(Entry) error) error {
	br := bufio.NewReader(r)
	first, err := skipSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return &Error{Err: err}
	}
	if first == '{' {
		return readInventory(ctx, br, open, yield)
	}
	if b, _ := br.Peek(2); string(b) == "\x1f\x8b" {
		return &Error{Err: ErrUnsupportedFormat, Cause: errGzip}
	}
	return readBatchCSV(ctx, br, yield)
}

// skipSpace consumes ASCII white space and a UTF-8 BOM, and returns
// (without consuming) the next byte.
func skipSpace(br *bufio.Reader) (byte, error) {
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		br.UnreadByte()
		return c, nil
	}
}

// decodeKey URL-decodes a key as application/x-www-form-urlencoded
// ('+' is a space, %XX a byte) and checks it is a key S3 could hold.
func decodeKey(raw string) (string, *Error) {
	if len(raw) > 3*MaxKeyBytes {
		return "", &Error{Field: "key", Value: raw, Err: ErrLimit}
	}
	key, err := url.QueryUnescape(raw)
	if err != nil {
		return "", &Error{Field: "key", Value: raw, Err: ErrMalformed, Cause: err}
	}
	if fe := checkKey(key); fe != nil {
		fe.Value = raw
		return "", fe
	}
	return key, nil
}

// checkKey accepts a key S3 could hold: 1 to MaxKeyBytes bytes of UTF-8
// without NUL.
func checkKey(key string) *Error {
	switch {
	case len(key) > MaxKeyBytes:
		return &Error{Field: "key", Value: key, Err: ErrLimit}
	case key == "", strings.IndexByte(key, 0) >= 0, !utf8.ValidString(key):
		return &Error{Field: "key", Value: key, Err: ErrMalformed}
	}
	return nil
}

// checkBucket accepts the characters S3 bucket names use, legacy ones
// included (upper case, '_'), which keeps '/', NUL and the like out.
func checkBucket(b string) *Error {
	if b == "" || len(b) > MaxBucketBytes {
		return &Error{Field: "bucket", Value: b, Err: ErrMalformed}
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || c == '.' || c == '-' || c == '_') {
			return &Error{Field: "bucket", Value: b, Err: ErrMalformed}
		}
	}
	return nil
}

// checkVersionID accepts printable ASCII: S3 version IDs are opaque
// URL-safe tokens (and "null").
func checkVersionID(v string) *Error {
	if len(v) > MaxVersionIDBytes {
		return &Error{Field: "versionId", Value: v, Err: ErrLimit}
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return &Error{Field: "versionId", Value: v, Err: ErrMalformed}
		}
	}
	return nil
}

// RootOpener opens Inventory data files from a local copy of the
// destination bucket: key is a slash-separated path under root, and the
// bucket is ignored. os.Root refuses keys that leave root ("../x",
// absolute paths, symlinks out).
func RootOpener(root *os.Root) Opener {
	return func(_ context.Context, _, key string) (io.ReadCloser, error) {
		return root.Open(filepath.FromSlash(key))
	}
}
