package envelope_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/stream"
)

// TestErrorsNameEnvelope: a damaged body fails every decrypting call with
// an error that reads as envelope's ("envelope: …", no "stream: " inside)
// and still matches the sentinels of both packages.
func TestErrorsNameEnvelope(t *testing.T) {
	c, _, ct := tamperMessage(t, envelope.AES256GCMHKDFSHA512Commit)
	body := h0Len(t, ct)
	flip := func(i int) []byte { b := bytes.Clone(ct); b[i] ^= 1; return b }
	reorder := bytes.Clone(ct)
	binary.BigEndian.PutUint32(reorder[body:], 2)
	for _, tc := range []struct {
		name         string
		msg          []byte
		want, wantAt error // wantAt: the DecryptReaderAt's, if not want
	}{
		{"frame ciphertext", flip(body + 4 + 12), stream.ErrAuthentication, nil},
		{"final tag", flip(len(ct) - 1), envelope.ErrAuthentication, nil},
		{"frame order", reorder, stream.ErrMalformedBody, nil},
		{"cut", ct[:len(ct)-1], stream.ErrTruncated, stream.ErrMalformedBody}, // the layout has no frame to miss
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, oneShot := c.Decrypt(context.Background(), tc.msg)
			_, _, streaming := decryptStream(c, tc.msg, 64)
			for what, err := range map[string]error{"Decrypt": oneShot, "DecryptReader": streaming, "DecryptReaderAt": readAllAt(c, tc.msg)} {
				want := tc.want
				if what == "DecryptReaderAt" && tc.wantAt != nil {
					want = tc.wantAt
				}
				if !errors.Is(err, want) {
					t.Fatalf("%s: %v, want %v", what, err, want)
				}
				if s := err.Error(); !strings.HasPrefix(s, "envelope: ") || strings.Contains(s, "stream: ") {
					t.Errorf("%s: %q does not read as envelope's", what, s)
				}
			}
		})
	}
}

// readAllAt decrypts msg through a DecryptReaderAt and returns the error of
// NewDecryptReaderAt or of one ReadAt of the whole plaintext.
func readAllAt(c *envelope.Client, msg []byte) error {
	d, err := c.NewDecryptReaderAt(context.Background(), bytes.NewReader(msg), int64(len(msg)))
	if err != nil {
		return err
	}
	_, err = d.ReadAt(make([]byte, d.Size()), 0)
	if err == io.EOF {
		return nil
	}
	return err
}
