package batch

import (
	"errors"
	"fmt"

	"github.com/phicrypt/phicrypt/envelope"
)

// maxFrameOption appends the --max-frame-length limit, if set, to opts.
func (o *Options) maxFrameOption(opts []envelope.DecryptOption) []envelope.DecryptOption {
	if o.MaxFrameSize != 0 {
		opts = append(opts, envelope.WithMaxFrameLength(o.MaxFrameSize))
	}
	return opts
}

// frameLimitHint names the flag that raises the frame length limit.
func frameLimitHint(err error) error {
	if errors.Is(err, envelope.ErrFrameTooLong) {
		return fmt.Errorf("%w; --max-frame-length raises the limit", err)
	}
	return err
}

// checkFrameLength refuses, as envelope's streaming decryption does, a
// header whose frames are longer than the --max-frame-length limit (or
// envelope's default): the one-call path must refuse what streaming does.
func (o *Options) checkFrameLength(h *envelope.Header) error {
	limit := int64(envelope.DefaultMaxFrameLength)
	if o.MaxFrameSize != 0 {
		limit = int64(o.MaxFrameSize)
	}
	if int64(h.FrameLength) > limit {
		return frameLimitHint(fmt.Errorf("frame length %d exceeds the limit of %d: %w", h.FrameLength, limit, envelope.ErrFrameTooLong))
	}
	return nil
}
