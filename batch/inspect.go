package batch

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/stream"
)

// Info describes a message from its bytes alone, without any key. Nothing
// in it is authenticated: it says what the message claims.
type Info struct {
	Version           int               `json:"version"`
	Suite             string            `json:"suite"`
	Signed            bool              `json:"signed"`
	Committing        bool              `json:"committing"`
	MessageID         string            `json:"message_id"`
	EncryptionContext map[string]string `json:"encryption_context"`
	EncryptedDataKeys []EDKInfo         `json:"encrypted_data_keys"`
	ContentType       string            `json:"content_type"` // "framed" or "non-framed"
	FrameLength       uint32            `json:"frame_length"`
	FrameCount        uint32            `json:"frame_count"`
	PlaintextLength   int64             `json:"plaintext_length"`
	HeaderLength      int               `json:"header_length"`
	MessageLength     int64             `json:"message_length"`
}

// EDKInfo names the key that wrapped one encrypted data key.
type EDKInfo struct {
	Provider string `json:"provider"` // "aws-kms", or a raw keyring's namespace
	Key      string `json:"key"`      // the KMS key ARN, or the raw key's name
}

// ErrTrailing reports bytes after the end of an inspected message.
var ErrTrailing = errors.New("bytes after the end of the message")

// Inspect parses the header of the message in r and walks its body frame
// by frame (seeking past ciphertext when r is an io.Seeker) to count frames
// and plaintext bytes. It decrypts and verifies nothing.
func Inspect(r io.Reader) (*Info, error) {
	cr := &countReader{r: r}
	h, err := envelope.ParseHeader(cr)
	if err != nil {
		return nil, err
	}
	info := &Info{
		Version: int(h.Version), Suite: h.Suite.String(), Signed: h.Suite.Signed(), Committing: h.Suite.Committing(),
		MessageID: hex.EncodeToString(h.MessageID), EncryptionContext: h.EncryptionContext,
		FrameLength: h.FrameLength, HeaderLength: h.Len(), ContentType: "framed",
	}
	if info.EncryptionContext == nil {
		info.EncryptionContext = map[string]string{}
	}
	for _, k := range h.EncryptedDataKeys {
		p, key := edkName(k)
		info.EncryptedDataKeys = append(info.EncryptedDataKeys, EDKInfo{Provider: p, Key: key})
	}
	if h.FrameLength == 0 {
		info.ContentType = "non-framed"
		var b [20]byte // IV (12) | length (8)
		if err := cr.full(b[:]); err != nil {
			return nil, err
		}
		n := int64(binary.BigEndian.Uint64(b[12:]))
		info.FrameCount, info.PlaintextLength = 1, n
		if err := cr.skip(n + 16); err != nil {
			return nil, err
		}
	} else {
		// The body is read from r itself, so that Scan seeks if r can.
		frames, n, bodyLen, err := stream.Scan(r, int(h.FrameLength))
		if err != nil {
			return nil, err
		}
		info.FrameCount, info.PlaintextLength = uint32(frames), n
		cr.n += bodyLen
	}
	if info.Signed {
		var b [2]byte
		if err := cr.full(b[:]); err != nil {
			return nil, fmt.Errorf("signature: %w", err)
		}
		if err := cr.skip(int64(binary.BigEndian.Uint16(b[:]))); err != nil {
			return nil, fmt.Errorf("signature: %w", err)
		}
	}
	info.MessageLength = cr.n
	if n, _ := io.ReadFull(r, make([]byte, 1)); n > 0 {
		return info, ErrTrailing
	}
	return info, nil
}

func (c *countReader) full(p []byte) error {
	if _, err := io.ReadFull(c, p); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return envelope.ErrTruncated
		}
		return err
	}
	return nil
}

// skip moves n bytes ahead, by seeking when it can.
func (c *countReader) skip(n int64) error {
	if s, ok := c.r.(io.Seeker); ok {
		if pos, err := s.Seek(n, io.SeekCurrent); err == nil {
			end, err := s.Seek(0, io.SeekEnd)
			if err != nil {
				return err
			}
			if end < pos {
				return envelope.ErrTruncated
			}
			if _, err := s.Seek(pos, io.SeekStart); err != nil {
				return err
			}
			c.n += n
			return nil
		}
	}
	m, err := io.CopyN(io.Discard, c, n)
	if m < n {
		return envelope.ErrTruncated
	}
	return err
}

// edkName splits an encrypted data key into its provider and key name:
// the key ARN for AWS KMS; for a raw AES keyring, the provider info less
// its tag length, IV length and IV (4 + 4 + 12 bytes); for raw RSA, the
// provider info itself.
func edkName(k envelope.EncryptedDataKey) (provider, key string) {
	info := k.ProviderInfo
	if k.ProviderID != "aws-kms" && len(info) >= 20 &&
		bytes.Equal(info[len(info)-20:len(info)-12], []byte{0, 0, 0, 128, 0, 0, 0, 12}) {
		info = info[:len(info)-20]
	}
	return Printable(k.ProviderID), Printable(string(info))
}

func describeEDK(k envelope.EncryptedDataKey) string {
	p, key := edkName(k)
	if p == "aws-kms" {
		return "aws-kms " + key
	}
	return p + "/" + key
}

// maxQuoted bounds the bytes of an untrusted string shown to the user.
const maxQuoted = 1024

// Printable returns s unchanged when it is valid UTF-8 of printable
// characters (spaces and quotes included) and at most 1 KiB, else Quote(s):
// safe to print on a terminal or in one line of a log.
func Printable(s string) string {
	if len(s) > maxQuoted || !utf8.ValidString(s) {
		return Quote(s)
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return Quote(s)
		}
	}
	return s
}

// Quote quotes an untrusted string (a name, an object key, a context key
// or value) Go-style, escaping control characters, and cuts it to 1 KiB
// (marked by "..." after the closing quote).
func Quote(s string) string { return QuoteN(s, maxQuoted) }

// QuoteN is Quote cutting s to n bytes, on a rune boundary.
func QuoteN(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// InspectLocation inspects the message at src: a file, "-" (stdin) or an
// s3:// object.
func InspectLocation(ctx context.Context, src string, stdin io.Reader, s3o S3Options) (*Info, error) {
	l, err := parseLocation(src)
	if err != nil {
		return nil, err
	}
	var r io.ReadCloser
	switch l.kind {
	case locStdio:
		r = io.NopCloser(stdin)
	case locS3:
		s, err := newS3Source(ctx, l, &Options{S3: s3o})
		if err != nil {
			return nil, err
		}
		if r, err = s.open(ctx, item{path: l.key, name: src, bucket: l.bucket}); err != nil {
			return nil, err
		}
	default:
		if r, err = os.Open(l.path); err != nil {
			return nil, err
		}
	}
	defer r.Close()
	return Inspect(r)
}
