package s3crypt

import "github.com/phicrypt/phicrypt/envelope"

// WithMaxFrameLength sets the largest frame length Get and Open accept
// (default envelope.DefaultMaxFrameLength, 16 MiB); an object with longer
// frames fails with envelope.ErrFrameTooLong before any frame is fetched.
// Each frame is buffered whole to be authenticated. It is
// envelope.WithMaxFrameLength.
func WithMaxFrameLength(n int) GetOption { return WithDecryptOptions(envelope.WithMaxFrameLength(n)) }
