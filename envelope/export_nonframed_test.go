package envelope

import (
	"context"
	"encoding/binary"
)

// SealNonFramed writes pt as a legacy non-framed message (content type 1),
// which phicrypt reads but never writes, under c's materials manager, the
// v1 suite id and the context ec:
//
//	header | IV (12) | content length (8) | ciphertext | tag | footer
func SealNonFramed(ctx context.Context, c *Client, id SuiteID, pt []byte, ec map[string]string) ([]byte, error) {
	cfg := c.cfg
	cfg.suite, cfg.policy = id, ForbidEncryptAllowDecrypt
	sl := new(sealer)
	if err := c.begin(ctx, ec, &cfg, false, sl); err != nil {
		return nil, err
	}
	// The v1 body ends content type (1) | reserved (4) | IV length (1) |
	// frame length (4): make it content type 1, frame length 0, and
	// authenticate it again.
	h := sl.header
	b := h.body
	b[len(b)-10] = contentNonFramed
	binary.BigEndian.PutUint32(b[len(b)-4:], 0)
	h.FrameLength = 0
	h.authTag = sl.aead.Seal(sl.tag[:0], h.iv, nil, b)
	out := h.appendTo(nil)
	var iv [ivLen]byte
	iv[ivLen-1] = 1
	out = append(out, iv[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(pt)))
	aad := append([]byte(nil), h.MessageID...)
	aad = append(aad, "AWSKMSEncryptionClient Single Block"...)
	aad = binary.BigEndian.AppendUint32(aad, 1)
	aad = binary.BigEndian.AppendUint64(aad, uint64(len(pt)))
	out = sl.aead.Seal(out, iv[:], pt, aad)
	if sl.signKey != nil {
		hh := sl.suite.signHash()()
		hh.Write(out)
		return appendFooter(out, sl.signKey, hh)
	}
	return out, nil
}
