package bench

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"github.com/phicrypt/phicrypt/stream"
)

func streamConfig(b *testing.B, frame, workers int) stream.Config {
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		b.Fatal(err)
	}
	return stream.Config{AEAD: newGCM(b), MessageID: id, FrameLength: frame, Workers: workers}
}

// BenchmarkStream measures the framed body alone (package stream, no
// header, key derivation or signature): one-shot Seal/Open into a reused
// buffer, and Writer/Reader through io.Copy.
func BenchmarkStream(b *testing.B) {
	b.Run("seal", func(b *testing.B) {
		eachShape(b, true, func(b *testing.B, frame int, pt []byte, workers int) {
			cfg := streamConfig(b, frame, workers)
			var dst []byte
			setBytes(b, len(pt))
			for b.Loop() {
				var err error
				if dst, err = stream.Seal(dst[:0], pt, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("open", func(b *testing.B) {
		eachShape(b, true, func(b *testing.B, frame int, pt []byte, workers int) {
			cfg := streamConfig(b, frame, workers)
			body, err := stream.Seal(nil, pt, cfg)
			if err != nil {
				b.Fatal(err)
			}
			var dst []byte
			setBytes(b, len(pt))
			for b.Loop() {
				if dst, _, err = stream.Open(dst[:0], body, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("writer", func(b *testing.B) {
		eachShape(b, true, func(b *testing.B, frame int, pt []byte, workers int) {
			cfg := streamConfig(b, frame, workers)
			var sink byteSink
			setBytes(b, len(pt))
			for b.Loop() {
				w, err := stream.NewWriter(&sink, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := copyClose(w, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("reader", func(b *testing.B) {
		eachShape(b, true, func(b *testing.B, frame int, pt []byte, workers int) {
			cfg := streamConfig(b, frame, workers)
			body, err := stream.Seal(nil, pt, cfg)
			if err != nil {
				b.Fatal(err)
			}
			var sink byteSink
			setBytes(b, len(pt))
			for b.Loop() {
				r, err := stream.NewReader(bytes.NewReader(body), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(&sink, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
