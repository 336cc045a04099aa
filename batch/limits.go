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
