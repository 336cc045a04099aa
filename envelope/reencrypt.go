package envelope

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/phicrypt/phicrypt/internal/iocheck"
)

// ReencryptOptions configure one Reencrypt call; nil means the zero value.
type ReencryptOptions struct {
	// Context is the new message's encryption context. nil keeps the old
	// message's full authenticated context (its header's pairs and the
	// required pairs the caller supplied) less the pairs the SDK reserves
	// ("aws-crypto-" keys, such as the old signing suite's public key); a
	// non-nil empty map writes the new message without a context.
	Context map[string]string

	// Decrypt configures the reading of the old message, after the
	// decrypting Client's defaults (e.g. WithExpectedContext).
	Decrypt []DecryptOption

	// Encrypt configures the writing of the new message, after the
	// destination Client's defaults (e.g. WithSuite, WithFrameLength).
	Encrypt []EncryptOption
}

// Reencryption describes a message Reencrypt rewrote.
type Reencryption struct {
	Old *Header // the old message's header, authenticated
	New *Header // the new message's header

	// Context is the context the new message was written under, as given
	// to the destination's materials manager.
	Context map[string]string

	PlaintextLength int64
}

// errReencryptFailed closes dst to the new message once the old one failed.
var errReencryptFailed = errors.New("envelope: reencrypt failed")

// Reencrypt decrypts the message read from src with c's materials and
// writes the same plaintext to dst as a new message under to's (a new
// data key, message ID and message key; for signing suites a new
// signature), in one streaming pass. No plaintext is written anywhere
// but to the new message's sealing, and memory is what a DecryptReader
// and an EncryptWriter hold, bounded by their frames in flight (a legacy
// non-framed body is buffered whole, up to WithMaxNonFramedLength). The old
// message is read with c's defaults and opts.Decrypt, the new one written
// with to's defaults and opts.Encrypt: suite, frame length, commitment
// policy and frame workers come from each side's client. c and to may be
// the same Client (a new data key under the same keyring).
//
// The whole body is re-encrypted, never just the header's encrypted data
// keys: a version 2 header is sealed with a fixed IV, so a new header
// under the old message key would reuse a GCM nonce.
//
// Commit dst only when Reencrypt returns nil. nil means the old message
// verified whole: every frame, the signature of a signing suite, and no
// bytes after it. Bytes written to dst before an error are ciphertext,
// under the new message key, of plaintext that may not have verified;
// the new message's final frame is written only after the old message
// verified, so such bytes never form a whole message. Frames reach dst as
// they are sealed, so dst must not be a place readers trust before
// Reencrypt returns (write to a temporary file and rename it, or a
// multipart upload completed only on success). Errors are the decrypt
// and encrypt calls' own (errors.Is ErrAuthentication, ErrSignature,
// ErrTruncated, ErrNoDecryptionKey, ...), dst's write error, or ctx's
// once it ends (checked at each write to dst).
//
// Pairs the old message kept out of its header (a required-context
// materials manager) are in the new context: the destination must be a
// NewRequiredContextMaterialsManager over the same keys to keep them out
// of the new header too.
func (c *Client) Reencrypt(ctx context.Context, dst io.Writer, src io.Reader, to *Client, opts *ReencryptOptions) (*Reencryption, error) {
	if to == nil {
		return nil, fmt.Errorf("envelope: nil destination client: %w", ErrInvalidOption)
	}
	if opts == nil {
		opts = &ReencryptOptions{}
	}
	d, err := c.newDecryptReader(ctx, bufio.NewReaderSize(&iocheck.Reader{R: src}, sourceBuffer), remaining(src), opts.Decrypt, callDecryptReader)
	if err != nil {
		return nil, err
	}
	ec := opts.Context
	if ec == nil {
		ec = CarriedContext(d.materials.EncryptionContext)
	}
	g := &gate{ctx: ctx, w: dst}
	w, err := to.NewEncryptWriter(ctx, g, ec, opts.Encrypt...)
	if err != nil {
		return nil, err
	}
	n, err := d.WriteTo(w)
	if err != nil {
		// The final frame and the footer must not reach dst: shut the
		// gate, then end the writer as failed, which writes nothing more,
		// stops its workers and hash goroutine and zeroes its buffers.
		if g.err == nil {
			g.err = errReencryptFailed
		}
		if w.err == nil {
			w.err = err
		}
		w.Close()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &Reencryption{Old: d.header, New: w.Header(), Context: maps.Clone(ec), PlaintextLength: n}, nil
}

// CarriedContext returns ec without the pairs the SDK reserves
// ("aws-crypto-" keys): the context a re-encrypted message keeps.
func CarriedContext(ec map[string]string) map[string]string {
	out := make(map[string]string, len(ec))
	for k, v := range ec {
		if !strings.HasPrefix(k, reservedPrefix) {
			out[k] = v
		}
	}
	return out
}

// sourceBuffer is the buffer a message is read through by NewDecryptReader
// and Reencrypt: the header's fields arrive in one Read, not one each.
// The body bypasses it: the frame reader's chunks, and frames of 32 KiB
// or more, are read straight into place once it is empty, and a frame
// header's Read copies at most this much of the next frame twice (1/16 of
// a 64 KiB frame). Small, because every stream allocates it: a 1 KiB
// message's whole cost.
const sourceBuffer = 4 << 10

// gate passes writes to w until ctx ends or err is set, then fails them.
type gate struct {
	ctx context.Context
	w   io.Writer
	err error
}

func (g *gate) Write(p []byte) (int, error) {
	if g.err == nil {
		if err := g.ctx.Err(); err != nil {
			g.err = context.Cause(g.ctx)
		}
	}
	if g.err != nil {
		return 0, g.err
	}
	return g.w.Write(p)
}
