package kmslocal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"sort"
)

const (
	blobVersion  = 1
	nonceSize    = 12
	tagSize      = 16
	maxKeyIDLen  = 255
	keyMaterialN = 32
)

// blob is a parsed ciphertext blob; see the package documentation for the layout.
type blob struct {
	keyID  string
	header []byte // version ‖ length ‖ key id: authenticated as AAD
	nonce  []byte
	sealed []byte // AES-GCM ciphertext ‖ tag
}

// parseBlob splits b without decrypting it. It never panics.
func parseBlob(b []byte) (blob, error) {
	if len(b) < 2 || b[0] != blobVersion {
		return blob{}, apiErr(ErrInvalidCiphertext, "unrecognised ciphertext format")
	}
	n := int(b[1])
	if n == 0 || len(b) < 2+n+nonceSize+tagSize {
		return blob{}, apiErr(ErrInvalidCiphertext, "ciphertext is truncated")
	}
	id := string(b[2 : 2+n])
	if !validKeyID(id) {
		return blob{}, apiErr(ErrInvalidCiphertext, "ciphertext names an invalid key id")
	}
	return blob{
		keyID:  id,
		header: b[:2+n],
		nonce:  b[2+n : 2+n+nonceSize],
		sealed: b[2+n+nonceSize:],
	}, nil
}

// sealBlob encrypts plaintext under material for key id, binding ctx.
func sealBlob(id string, material, plaintext []byte, ctx map[string]string) ([]byte, error) {
	if !validKeyID(id) {
		return nil, apiErr(ErrInternal, "invalid key id")
	}
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 2+len(id)+nonceSize+len(plaintext)+tagSize)
	out = append(out, blobVersion, byte(len(id)))
	out = append(out, id...)
	hdr := len(out)
	out = out[:hdr+nonceSize]
	if _, err := rand.Read(out[hdr:]); err != nil {
		return nil, apiErr(ErrInternal, "random: %v", err)
	}
	return aead.Seal(out, out[hdr:], plaintext, aad(out[:hdr], ctx)), nil
}

// open decrypts bl with material, checking ctx.
func (bl blob) open(material []byte, ctx map[string]string) ([]byte, error) {
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, bl.nonce, bl.sealed, aad(bl.header, ctx))
	if err != nil {
		return nil, apiErr(ErrInvalidCiphertext, "ciphertext or encryption context does not authenticate")
	}
	return pt, nil
}

func newGCM(material []byte) (cipher.AEAD, error) {
	if len(material) != keyMaterialN {
		return nil, apiErr(ErrInternal, "key material is not %d bytes", keyMaterialN)
	}
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, apiErr(ErrInternal, "aes: %v", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, apiErr(ErrInternal, "gcm: %v", err)
	}
	return aead, nil
}

// aad returns header ‖ canonical(ctx), where canonical is
// u32 count, then for each pair in ascending key order
// u32 len(key) ‖ key ‖ u32 len(value) ‖ value (big-endian).
// A nil and an empty context serialize identically.
func aad(header []byte, ctx map[string]string) []byte {
	keys := make([]string, 0, len(ctx))
	size := len(header) + 4
	for k, v := range ctx {
		keys = append(keys, k)
		size += 8 + len(k) + len(v)
	}
	sort.Strings(keys)
	out := make([]byte, 0, size)
	out = append(out, header...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(keys)))
	for _, k := range keys {
		out = binary.BigEndian.AppendUint32(out, uint32(len(k)))
		out = append(out, k...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(ctx[k])))
		out = append(out, ctx[k]...)
	}
	return out
}

// validKeyID reports whether id is 1–255 bytes of [A-Za-z0-9_-].
func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
