package envelope

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/phicrypt/phicrypt/internal/wire"
	"golang.org/x/crypto/cryptobyte"
)

// EncryptedDataKey is a data key encrypted by one keyring, as the header
// stores it.
type EncryptedDataKey struct {
	ProviderID   string // "aws-kms", or a raw keyring's namespace
	ProviderInfo []byte // a KMS key ARN, or a raw keyring's key name and IV
	Ciphertext   []byte
}

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

	// FrameLength is the plaintext bytes per frame; 0 for a legacy
	// non-framed body, which phicrypt reads but never writes.
	FrameLength uint32

	iv        []byte // v1: the header auth IV (12 bytes); nil for v2
	commitKey []byte // v2: the key commitment (32 bytes); nil for v1
	authTag   []byte // 16 bytes
	zeroIV    [ivLen]byte

	body []byte // the serialized header body, exactly as read or written
}

// Len returns the length of the serialized header, auth tag included.
func (h *Header) Len() int { return len(h.body) + len(h.iv) + len(h.authTag) }

// maxEncryptedDataKeys is the most encrypted data keys a header can hold.
const maxEncryptedDataKeys = 1<<16 - 1

const (
	contentNonFramed = 1 // legacy: a single GCM block; read, never written
	contentFramed    = 2
	typeCustomerAED  = 0x80
	ivLen            = 12
	tagLen           = 16
	commitKeyLen     = 32
)

// ParseHeader reads and parses a message header from r, reading nothing
// past it. It authenticates nothing: use it to describe a message, never
// to trust one. It limits nothing but what the format does (65535 data
// keys of up to 3 × 64 KiB): bound r, or use Client.ParseHeader, for a
// header from an untrusted source.
func ParseHeader(r io.Reader) (*Header, error) { return readHeader(r, 0) }

// ParseHeader is the package's ParseHeader under c's decrypt limits, with
// opts applied: a header with more encrypted data keys than
// WithMaxEncryptedDataKeys allows fails with ErrTooManyEncryptedDataKeys
// once their count is read, before any key is.
func (c *Client) ParseHeader(r io.Reader, opts ...DecryptOption) (*Header, error) {
	cfg, err := c.decryptConfig(opts, callDecrypt)
	if err != nil {
		return nil, err
	}
	return readHeader(r, cfg.maxEDKs)
}

// readHeader parses a header; maxEDKs > 0 limits the encrypted data keys.
func readHeader(r io.Reader, maxEDKs int) (*Header, error) {
	return readHeaderInto(r, nil, maxEDKs, new(headerStorage))
}

// headerStorage is a header with storage for its first 512 bytes and
// first encrypted data key: a small header costs one allocation, not
// three, or none in storage that is part of a larger allocation.
type headerStorage struct {
	h   Header
	raw [512]byte
	edk [1]EncryptedDataKey
}

// readHeaderInto is readHeader into hs, which the header then holds. With
// r nil it reads from src, a whole message, as from a bytes.Reader.
func readHeaderInto(r io.Reader, src []byte, maxEDKs int, hs *headerStorage) (*Header, error) {
	h := &hs.h
	hr := headerReader{r: r, src: src, raw: hs.raw[:0]}
	if err := hr.readPrefix(h); err != nil {
		return nil, err
	}
	b, err := hr.vector("encryption context")
	if err != nil {
		return nil, err
	}
	if h.EncryptionContext, err = parseContext(b); err != nil {
		return nil, headerErr("encryption context", err)
	}
	if h.EncryptedDataKeys, err = hr.readEDKs(maxEDKs, hs.edk[:0]); err != nil {
		return nil, err
	}
	if err := hr.readBodyEnd(h); err != nil {
		return nil, err
	}
	if err := hr.readAuth(h); err != nil {
		return nil, err
	}
	return h, nil
}

// headerReader reads a header from r one section at a time into raw,
// which keeps every byte read. A section is a run of fields whose length
// is known before it is read, so the reader reads exactly the header's
// bytes and nothing past them; each section is then decoded from raw
// with cryptobyte.
type headerReader struct {
	r   io.Reader
	src []byte // if r is nil: the input not yet read, copied with no Read call
	raw []byte
	err error // the first read error: ErrTruncated if the input ended early
}

// fill reads the next n bytes of the header and returns those that
// arrived: fewer than n only if hr.err is set. raw grows only when full,
// by what it holds (at least 512 bytes), so memory follows the bytes that
// arrived, never a declared length: a 64 KiB length prefix on a 10-byte
// input allocates nothing past the first 512 bytes.
func (hr *headerReader) fill(n int) []byte {
	start := len(hr.raw)
	if hr.r == nil && n <= len(hr.src) && n <= cap(hr.raw)-start {
		// In memory and with room: one append.
		hr.raw = append(hr.raw, hr.src[:n]...)
		hr.src = hr.src[n:]
		return hr.raw[start:len(hr.raw):len(hr.raw)]
	}
	for hr.err == nil && len(hr.raw)-start < n {
		if len(hr.raw) == cap(hr.raw) {
			hr.raw = slices.Grow(hr.raw, max(len(hr.raw), 512))
		}
		end := min(cap(hr.raw), start+n)
		got, err := hr.read(hr.raw[len(hr.raw):end])
		hr.raw = hr.raw[:len(hr.raw)+got]
		hr.err = err
	}
	return hr.raw[start:len(hr.raw):len(hr.raw)]
}

// read fills p from the input, or fails with ErrTruncated if it ends
// first or with the reader's error.
func (hr *headerReader) read(p []byte) (int, error) {
	if hr.r == nil {
		n := copy(p, hr.src)
		hr.src = hr.src[n:]
		if n < len(p) {
			return n, ErrTruncated
		}
		return n, nil
	}
	n, err := io.ReadFull(hr.r, p)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = ErrTruncated
	}
	return n, err
}

// cut returns the error for field, whose bytes did not all arrive.
func (hr *headerReader) cut(field string) error { return headerErr(field, hr.err) }

// vector reads a field prefixed by its u16 length.
func (hr *headerReader) vector(field string) ([]byte, error) {
	if hr.r == nil && len(hr.src) >= 2 {
		// In memory: the length is there, so length and field in one fill.
		n := int(binary.BigEndian.Uint16(hr.src))
		if b := hr.fill(2 + n); len(b) == 2+n {
			return b[2:], nil
		}
		return nil, hr.cut(field)
	}
	var n uint16
	if s := cryptobyte.String(hr.fill(2)); !s.ReadUint16(&n) {
		return nil, hr.cut(field + " length")
	}
	b := hr.fill(int(n))
	if len(b) < int(n) {
		return nil, hr.cut(field)
	}
	return b, nil
}

// readPrefix reads the fields before the encryption context:
//
//	version (1) | v1: type (1) | suite ID (2) | message ID (16 or 32)
func (hr *headerReader) readPrefix(h *Header) error {
	s := cryptobyte.String(hr.fill(1))
	if !s.ReadUint8(&h.Version) {
		return hr.cut("version")
	}
	switch h.Version {
	case 1, 2:
	case 'A':
		return headerErr("version", errors.New("0x41: the message looks base64-encoded; decode it first"))
	default:
		return headerErrf("version", "unsupported version 0x%02X", h.Version)
	}
	idLen := 16 * int(h.Version)
	n := 2 + idLen
	if h.Version == 1 {
		n++ // type
	}
	s = cryptobyte.String(hr.fill(n))
	if h.Version == 1 {
		var typ uint8
		if !s.ReadUint8(&typ) {
			return hr.cut("type")
		}
		if typ != typeCustomerAED {
			return headerErrf("type", "0x%02X, want 0x80", typ)
		}
	}
	var id uint16
	if !s.ReadUint16(&id) {
		return hr.cut("algorithm suite ID")
	}
	h.Suite = SuiteID(id)
	if err := checkSuite(h.Suite, h.Version); err != nil {
		return err
	}
	if !s.ReadBytes(&h.MessageID, idLen) {
		return hr.cut("message ID")
	}
	return nil
}

// checkSuite checks that id is a known suite of message version v.
func checkSuite(id SuiteID, v byte) error {
	s, ok := lookupSuite(id)
	if !ok {
		return headerErr("algorithm suite ID", fmt.Errorf("%s: %w", id, ErrUnsupportedSuite))
	}
	if s.version != v {
		return headerErrf("algorithm suite ID", "suite %s in a version %d message", id, v)
	}
	return nil
}

// readEDKs reads the encrypted data key count, refuses a count above
// maxEDKs (if > 0) before reading any key, then reads the keys.
func (hr *headerReader) readEDKs(maxEDKs int, edks []EncryptedDataKey) ([]EncryptedDataKey, error) {
	var count uint16
	if s := cryptobyte.String(hr.fill(2)); !s.ReadUint16(&count) {
		return nil, hr.cut("encrypted data key count")
	}
	n := int(count)
	if n == 0 {
		return nil, headerErr("encrypted data key count", errors.New("zero encrypted data keys"))
	}
	if maxEDKs > 0 && n > maxEDKs {
		return nil, fmt.Errorf("envelope: %d encrypted data keys, at most %d allowed: %w", n, maxEDKs, ErrTooManyEncryptedDataKeys)
	}
	if n > cap(edks) {
		edks = make([]EncryptedDataKey, 0, min(n, 64))
	}
	for i := range n {
		k, err := hr.readEDK()
		if err != nil {
			var he *headerError
			if errors.As(err, &he) {
				he.field = fmt.Sprintf("encrypted data key %d %s", i, he.field)
			}
			return nil, err
		}
		edks = append(edks, k)
	}
	return edks, nil
}

// readEDK reads one encrypted data key, naming its fields without the
// key's index:
//
//	len (2) | provider ID | len (2) | provider info | len (2) | ciphertext
func (hr *headerReader) readEDK() (EncryptedDataKey, error) {
	b, err := hr.vector("provider ID")
	if err != nil {
		return EncryptedDataKey{}, err
	}
	id := providerID(b)
	if !wire.ValidUTF8(id) {
		return EncryptedDataKey{}, headerErr("provider ID", errors.New("not UTF-8"))
	}
	info, err := hr.vector("provider info")
	if err != nil {
		return EncryptedDataKey{}, err
	}
	ct, err := hr.vector("ciphertext")
	if err != nil {
		return EncryptedDataKey{}, err
	}
	return EncryptedDataKey{id, info, ct}, nil
}

// kmsProviderID is the provider ID of AWS KMS data keys.
const kmsProviderID = "aws-kms"

// providerID returns id as a string; AWS KMS's, the most common, without
// an allocation.
func providerID(id []byte) string {
	if string(id) == kmsProviderID {
		return kmsProviderID
	}
	return string(id)
}

// readBodyEnd reads the rest of the header body:
//
//	content type (1) | v1: reserved (4) | v1: IV length (1) |
//	frame length (4) | v2: commit key (32)
func (hr *headerReader) readBodyEnd(h *Header) error {
	n := 1 + 4 + 1 + 4
	if h.Version == 2 {
		n = 1 + 4 + commitKeyLen
	}
	s := cryptobyte.String(hr.fill(n))
	var ct uint8
	if !s.ReadUint8(&ct) {
		return hr.cut("content type")
	}
	if ct != contentFramed && (ct != contentNonFramed || h.Version != 1) {
		return headerErrf("content type", "0x%02X", ct)
	}
	if h.Version == 1 {
		if err := hr.readV1Fields(&s); err != nil {
			return err
		}
	}
	if !s.ReadUint32(&h.FrameLength) {
		return hr.cut("frame length")
	}
	if (ct == contentFramed) != (h.FrameLength > 0) {
		return headerErrf("frame length", "%d for content type %d", h.FrameLength, ct)
	}
	if h.Version == 2 && !s.ReadBytes(&h.commitKey, commitKeyLen) {
		return hr.cut("algorithm suite data")
	}
	return nil
}

// readV1Fields reads a version 1 header's reserved field, which must be
// zero, and its IV length, which must be 12.
func (hr *headerReader) readV1Fields(s *cryptobyte.String) error {
	var reserved uint32
	if !s.ReadUint32(&reserved) {
		return hr.cut("reserved")
	}
	if reserved != 0 {
		return headerErrf("reserved", "0x%08X, want zero", reserved)
	}
	var n uint8
	if !s.ReadUint8(&n) {
		return hr.cut("IV length")
	}
	if n != ivLen {
		return headerErrf("IV length", "%d, want %d", n, ivLen)
	}
	return nil
}

// readAuth ends the header body and reads what authenticates it:
//
//	v1: IV (12) | auth tag (16)
func (hr *headerReader) readAuth(h *Header) error {
	bodyLen := len(hr.raw)
	n := tagLen
	if h.Version == 1 {
		n += ivLen
	}
	s := cryptobyte.String(hr.fill(n))
	if h.Version == 1 && !s.ReadBytes(&h.iv, ivLen) {
		return hr.cut("header IV")
	}
	if !s.ReadBytes(&h.authTag, tagLen) {
		return hr.cut("header auth tag")
	}
	h.iv = slices.Clip(h.iv)
	h.body = hr.raw[:bodyLen:bodyLen]
	return nil
}

// marshalBody serializes the header body of h, which must be a v2 or v1
// framed header, into h.body, appending to b (grown if too small).
// EncryptionContext is what the header stores; pairs, if not nil, are its
// pairs sorted (SortedPairs), serialized without going over the map.
func (h *Header) marshalBody(b []byte, pairs []wire.Pair) error {
	b = append(b, h.Version)
	if h.Version == 1 {
		b = append(b, typeCustomerAED)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(h.Suite))
	b = append(b, h.MessageID...)
	lenAt := len(b)
	b = append(b, 0, 0)
	if pairs != nil {
		b = wire.AppendPairs(b, pairs)
	} else {
		var err error
		if b, err = wire.AppendContext(b, h.EncryptionContext); err != nil {
			return err
		}
	}
	binary.BigEndian.PutUint16(b[lenAt:], uint16(len(b)-lenAt-2))
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.EncryptedDataKeys)))
	for _, k := range h.EncryptedDataKeys {
		if max(len(k.ProviderID), len(k.ProviderInfo), len(k.Ciphertext)) > 1<<16-1 {
			return fmt.Errorf("envelope: encrypted data key field longer than 65535 bytes: %w", ErrInvalidMaterials)
		}
		b = wire.AppendEncryptedDataKey(b, k.ProviderID, k.ProviderInfo, k.Ciphertext)
	}
	b = append(b, contentFramed)
	if h.Version == 1 {
		b = append(b, 0, 0, 0, 0, ivLen)
	}
	b = binary.BigEndian.AppendUint32(b, h.FrameLength)
	if h.Version == 2 {
		b = append(b, h.commitKey...)
	}
	h.body = b
	return nil
}

// appendTo appends the whole serialized header to b.
func (h *Header) appendTo(b []byte) []byte {
	b = append(b, h.body...)
	b = append(b, h.iv...)
	return append(b, h.authTag...)
}
