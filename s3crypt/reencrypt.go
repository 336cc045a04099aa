package s3crypt

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/envelope"
)

// ReencryptOptions configure one Reencrypt call; nil means the zero value.
type ReencryptOptions struct {
	// Context is the new object's encryption context. nil keeps the
	// source's full authenticated context less the pairs the SDK reserves
	// ("aws-crypto-" keys); see envelope.ReencryptOptions.
	Context map[string]string

	// Get configures the reading of the source, after the reading
	// Client's defaults (e.g. WithExpectedContext).
	Get []GetOption

	// Put configures the writing of the new object, after the
	// destination Client's defaults (e.g. WithEncryptOptions).
	Put []PutOption
}

// ReencryptResult describes an object Reencrypt rewrote.
type ReencryptResult struct {
	Source  *Object           // the source as read; its Header is authenticated
	Put     *PutResult        // the new object
	Context map[string]string // the context the new object was written under
}

// Reencrypt rewrites the object src names as the object dst names, under
// to's keys: the source is decrypted with c (Get: ranged GETs pinned to
// the first's ETag) and its plaintext streamed into to.Put, one pass, no
// plaintext on disk, memory bounded as for Get and Put. c and to may share
// an S3 client, or hold clients of two accounts or regions; the suite and
// frame length of the new object are to's.
//
// The new object is committed (PutObject, or CompleteMultipartUpload)
// only after the source verified whole: every frame, the signature of a
// signing suite, and nothing after the message. If the source fails at
// any point, or anything else does, Reencrypt returns the error (errors.Is
// envelope.ErrAuthentication, envelope.ErrSignature, ErrObjectChanged,
// ...) and the multipart upload is aborted: no object and no parts are
// left at dst.
//
// dst is read as Put reads its input, except that Body and ContentLength
// must be unset: the body is the source's plaintext, of a length known
// only once read. Unless dst sets them, the new object gets the source's
// ContentType and its user metadata less phicrypt's own keys (which Put
// writes anew); other headers (Cache-Control, tags, SSE, storage class,
// object lock) come from dst alone.
//
// dst may name the source itself. On a versioned bucket the Put then adds
// a version and the old one, still under the old key, stays until
// deleted; on an unversioned bucket it replaces the object once the
// source verified. Setting dst.IfMatch to the source's ETag makes the
// replacement fail if another writer replaced the object meanwhile.
func (c *Client) Reencrypt(ctx context.Context, src *s3.GetObjectInput, dst *s3.PutObjectInput, to *Client, opts *ReencryptOptions) (*ReencryptResult, error) {
	switch {
	case to == nil:
		return nil, fmt.Errorf("s3crypt: nil destination client: %w", envelope.ErrInvalidOption)
	case dst == nil:
		return nil, fmt.Errorf("s3crypt: nil PutObjectInput: %w", envelope.ErrInvalidOption)
	case dst.Body != nil || dst.ContentLength != nil:
		return nil, fmt.Errorf("s3crypt: PutObjectInput.Body/ContentLength: set by Reencrypt: %w", envelope.ErrInvalidOption)
	}
	if opts == nil {
		opts = &ReencryptOptions{}
	}
	r, err := c.Get(ctx, src, opts.Get...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ec := opts.Context
	if ec == nil {
		ec = envelope.CarriedContext(r.EncryptionContext())
	}
	in := *dst
	// r's WriteTo releases the final frame only after the source verified
	// whole, so Put seals its own final frame, and commits, only then; an
	// error from r fails the Put, which aborts its upload.
	in.Body = r
	if in.ContentType == nil && r.f.ob.contentType != "" {
		in.ContentType = aws.String(r.f.ob.contentType)
	}
	if in.Metadata == nil {
		in.Metadata = userMetadata(r.obj.Metadata)
	}
	res, err := to.Put(ctx, &in, ec, opts.Put...)
	if err != nil {
		return nil, err
	}
	return &ReencryptResult{Source: r.Object(), Put: res, Context: ec}, nil
}

// userMetadata returns meta without phicrypt's keys, or nil if none remain.
func userMetadata(meta map[string]string) map[string]string {
	var out map[string]string
	for k, v := range meta {
		if len(k) >= len(metaPrefix) && strings.EqualFold(k[:len(metaPrefix)], metaPrefix) {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(meta))
		}
		out[k] = v
	}
	return out
}
