package envelope

import (
	"fmt"

	"github.com/phicrypt/phicrypt/stream"
)

// footerLength is the length of a signing suite's footer as phicrypt and
// the official SDKs write it: signature length (2) | DER signature padded
// to the curve's fixed size (71 bytes for P-256, 103 for P-384); 0 for
// unsigned suites. Readers accept shorter signatures too, so a length
// derived from it is exact only for such writers.
func footerLength(id SuiteID) int64 {
	switch {
	case !id.Signed():
		return 0
	case id == aes128GCMHKDFSHA256ECDSAP256:
		return 2 + 71
	default:
		return 2 + 103
	}
}

// MessageLength returns the length of the framed message h begins when it
// holds n bytes of plaintext: header, body and footer.
func (h *Header) MessageLength(n int64) (int64, error) {
	if h.FrameLength == 0 {
		return 0, fmt.Errorf("envelope: length of a non-framed message: %w", ErrInvalidOption)
	}
	body, err := stream.SealedLength(n, int(h.FrameLength))
	if err != nil {
		return 0, err
	}
	return int64(h.Len()) + body + footerLength(h.Suite), nil
}

// PlaintextLength returns the plaintext length of the framed message of
// size bytes that h begins, or an error wrapping ErrMalformedBody if no
// layout of h's frame length gives that size. The footer is taken to have
// the fixed length phicrypt and the official SDKs write.
func (h *Header) PlaintextLength(size int64) (int64, error) {
	if h.FrameLength == 0 {
		return 0, fmt.Errorf("envelope: length of a non-framed message: %w", ErrInvalidOption)
	}
	return stream.PlaintextLength(size-int64(h.Len())-footerLength(h.Suite), int(h.FrameLength))
}
