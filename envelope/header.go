package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// EncryptedDataKey is a data key encrypted by one keyring, as the header
// stores it.
type EncryptedDataKey struct {
	ProviderID   string // "aws-kms", or a raw keyring's namespace
	ProviderInfo []byte // a KMS key ARN, or a raw keyring's key name and IV
	Ciphertext   []byte
}

// ContentType says how the body is laid out.
type ContentType byte

const (
	NonFramed ContentType = 1 // legacy: a single GCM block; read, never written
	Framed    ContentType = 2
)

// Header is a parsed message header.
type Header struct {
	Version   byte // 1 or 2
	Suite     SuiteID
	MessageID []byte // 16 bytes (v1) or 32 (v2)

	// EncryptionContext is the context stored in the header. Pairs a
	// required-encryption-context materials manager kept out of the header
	// are not in it.
	EncryptionContext map[string]string
	EncryptedDataKeys []EncryptedDataKey
	ContentType       ContentType
	FrameLength       uint32 // 0 for a non-framed body

	IV        []byte // v1: the header auth IV (12 bytes); nil for v2
	CommitKey []byte // v2: the key commitment (32 bytes); nil for v1
	AuthTag   []byte // 16 bytes

	body []byte // the serialized header body, exactly as read or written
}

// Len returns the length of the serialized header, auth tag included.
func (h *Header) Len() int { return len(h.body) + len(h.IV) + len(h.AuthTag) }

// MaxEncryptedDataKeys is the most encrypted data keys a header can hold.
const MaxEncryptedDataKeys = 1<<16 - 1

const (
	typeCustomerAED = 0x80
	ivLen           = 12
	tagLen          = 16
	commitKeyLen    = 32
)

// ParseHeader reads and parses a message header from r, reading nothing
// past it. It authenticates nothing: use it to describe a message, never
// to trust one.
func ParseHeader(r io.Reader) (*Header, error) { return readHeader(r, 0) }

// headerReader reads header fields and keeps every byte it read.
type headerReader struct {
	r   io.Reader
	raw []byte
}

func (hr *headerReader) next(n int, field string) ([]byte, error) {
	start := len(hr.raw)
	hr.raw = append(hr.raw, make([]byte, n)...)
	if _, err := io.ReadFull(hr.r, hr.raw[start:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = ErrTruncated
		}
		return nil, headerErr(field, err)
	}
	return hr.raw[start:], nil
}

func (hr *headerReader) u16(field string) (int, error) {
	b, err := hr.next(2, field)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(b)), nil
}

func (hr *headerReader) lenBytes(field string) ([]byte, error) {
	n, err := hr.u16(field + " length")
	if err != nil {
		return nil, err
	}
	return hr.next(n, field)
}

// readHeader parses a header; maxEDKs > 0 limits the encrypted data keys.
func readHeader(r io.Reader, maxEDKs int) (*Header, error) {
	hr := &headerReader{r: r, raw: make([]byte, 0, 512)}
	b, err := hr.next(1, "version")
	if err != nil {
		return nil, err
	}
	h := &Header{Version: b[0]}
	switch h.Version {
	case 1:
		if b, err = hr.next(1, "type"); err != nil {
			return nil, err
		}
		if b[0] != typeCustomerAED {
			return nil, headerErrf("type", "0x%02X, want 0x80", b[0])
		}
	case 2:
	case 'A':
		return nil, headerErr("version", errors.New("0x41: the message looks base64-encoded; decode it first"))
	default:
		return nil, headerErrf("version", "unsupported version 0x%02X", h.Version)
	}
	if b, err = hr.next(2, "algorithm suite ID"); err != nil {
		return nil, err
	}
	h.Suite = SuiteID(binary.BigEndian.Uint16(b))
	s, ok := lookupSuite(h.Suite)
	if !ok {
		return nil, headerErr("algorithm suite ID", fmt.Errorf("%s: %w", h.Suite, ErrUnsupportedSuite))
	}
	if s.version != h.Version {
		return nil, headerErrf("algorithm suite ID", "suite %s in a version %d message", h.Suite, h.Version)
	}
	idLen := 16
	if h.Version == 2 {
		idLen = 32
	}
	if b, err = hr.next(idLen, "message ID"); err != nil {
		return nil, err
	}
	h.MessageID = b
	if b, err = hr.lenBytes("encryption context"); err != nil {
		return nil, err
	}
	if h.EncryptionContext, err = parseContext(b); err != nil {
		return nil, headerErr("encryption context", err)
	}
	count, err := hr.u16("encrypted data key count")
	if err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, headerErr("encrypted data key count", errors.New("zero encrypted data keys"))
	}
	if maxEDKs > 0 && count > maxEDKs {
		return nil, fmt.Errorf("envelope: %d encrypted data keys, at most %d allowed: %w", count, maxEDKs, ErrTooManyEncryptedDataKeys)
	}
	h.EncryptedDataKeys = make([]EncryptedDataKey, 0, min(count, 64))
	for i := range count {
		field := fmt.Sprintf("encrypted data key %d", i)
		id, err := hr.lenBytes(field + " provider ID")
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(id) {
			return nil, headerErr(field+" provider ID", errors.New("not UTF-8"))
		}
		info, err := hr.lenBytes(field + " provider info")
		if err != nil {
			return nil, err
		}
		ct, err := hr.lenBytes(field + " ciphertext")
		if err != nil {
			return nil, err
		}
		h.EncryptedDataKeys = append(h.EncryptedDataKeys, EncryptedDataKey{string(id), info, ct})
	}
	if b, err = hr.next(1, "content type"); err != nil {
		return nil, err
	}
	h.ContentType = ContentType(b[0])
	if h.ContentType != Framed && (h.ContentType != NonFramed || h.Version != 1) {
		return nil, headerErrf("content type", "0x%02X", b[0])
	}
	if h.Version == 1 {
		if b, err = hr.next(4, "reserved"); err != nil {
			return nil, err
		}
		if binary.BigEndian.Uint32(b) != 0 {
			return nil, headerErrf("reserved", "0x%X, want zero", b)
		}
		if b, err = hr.next(1, "IV length"); err != nil {
			return nil, err
		}
		if b[0] != ivLen {
			return nil, headerErrf("IV length", "%d, want %d", b[0], ivLen)
		}
	}
	if b, err = hr.next(4, "frame length"); err != nil {
		return nil, err
	}
	h.FrameLength = binary.BigEndian.Uint32(b)
	if (h.ContentType == Framed) != (h.FrameLength > 0) {
		return nil, headerErrf("frame length", "%d for content type %d", h.FrameLength, h.ContentType)
	}
	if h.Version == 2 {
		if b, err = hr.next(commitKeyLen, "algorithm suite data"); err != nil {
			return nil, err
		}
		h.CommitKey = b
	}
	bodyLen := len(hr.raw)
	if h.Version == 1 {
		if b, err = hr.next(ivLen, "header IV"); err != nil {
			return nil, err
		}
		h.IV = b
	}
	if b, err = hr.next(tagLen, "header auth tag"); err != nil {
		return nil, err
	}
	h.AuthTag = b
	h.body = hr.raw[:bodyLen:bodyLen]
	return h, nil
}

// marshalBody serializes the header body of h, which must be a v2 or v1
// framed header, into h.body. EncryptionContext is what the header stores.
func (h *Header) marshalBody() error {
	b := make([]byte, 0, 256)
	b = append(b, h.Version)
	if h.Version == 1 {
		b = append(b, typeCustomerAED)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(h.Suite))
	b = append(b, h.MessageID...)
	lenAt := len(b)
	b = append(b, 0, 0)
	b, err := serializeContext(b, h.EncryptionContext)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint16(b[lenAt:], uint16(len(b)-lenAt-2))
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.EncryptedDataKeys)))
	for _, k := range h.EncryptedDataKeys {
		if max(len(k.ProviderID), len(k.ProviderInfo), len(k.Ciphertext)) > 1<<16-1 {
			return fmt.Errorf("envelope: encrypted data key field longer than 65535 bytes: %w", ErrInvalidMaterials)
		}
		b = AppendEncryptedDataKey(b, k)
	}
	b = append(b, byte(h.ContentType))
	if h.Version == 1 {
		b = append(b, 0, 0, 0, 0, ivLen)
	}
	b = binary.BigEndian.AppendUint32(b, h.FrameLength)
	if h.Version == 2 {
		b = append(b, h.CommitKey...)
	}
	h.body = b
	return nil
}

// appendTo appends the whole serialized header to b.
func (h *Header) appendTo(b []byte) []byte {
	b = append(b, h.body...)
	b = append(b, h.IV...)
	return append(b, h.AuthTag...)
}

// AppendEncryptedDataKey appends the header serialization of k to b:
// len (2) | provider ID | len (2) | provider info | len (2) | ciphertext.
func AppendEncryptedDataKey(b []byte, k EncryptedDataKey) []byte {
	for _, f := range [][]byte{[]byte(k.ProviderID), k.ProviderInfo, k.Ciphertext} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}
