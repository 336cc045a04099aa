package bench

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// benchSuites are the suites phicrypt writes.
func benchSuites() []envelope.SuiteID {
	return []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384}
}

// eachMessage runs f under mode/suite=…/frame=…/size=…/workers=… for the
// one-shot and streaming APIs.
func eachMessage(b *testing.B, f func(b *testing.B, stream bool, c *envelope.Client, pt []byte)) {
	for _, mode := range []string{"oneshot", "stream"} {
		b.Run(mode, func(b *testing.B) {
			for _, suite := range benchSuites() {
				b.Run(fmt.Sprintf("suite=%04x", uint16(suite)), func(b *testing.B) {
					eachShape(b, true, func(b *testing.B, frame int, pt []byte, workers int) {
						f(b, mode == "stream", newClient(b, suite, frame, workers), pt)
					})
				})
			}
		})
	}
}

func benchContext() map[string]string {
	return map[string]string{"tenant": "clinic-7", "purpose": "bench"}
}

func BenchmarkEncrypt(b *testing.B) {
	eachMessage(b, func(b *testing.B, stream bool, c *envelope.Client, pt []byte) {
		ec := benchContext()
		ctx := b.Context()
		var sink byteSink
		setBytes(b, len(pt))
		for b.Loop() {
			if !stream {
				if _, err := c.Encrypt(ctx, pt, ec); err != nil {
					b.Fatal(err)
				}
				continue
			}
			w, err := c.NewEncryptWriter(ctx, &sink, ec)
			if err != nil {
				b.Fatal(err)
			}
			if err := copyClose(w, pt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecrypt(b *testing.B) {
	eachMessage(b, func(b *testing.B, stream bool, c *envelope.Client, pt []byte) {
		ctx := b.Context()
		ct, err := c.Encrypt(ctx, pt, benchContext())
		if err != nil {
			b.Fatal(err)
		}
		var sink byteSink
		setBytes(b, len(pt))
		for b.Loop() {
			if !stream {
				if _, _, err := c.Decrypt(ctx, ct); err != nil {
					b.Fatal(err)
				}
				continue
			}
			r, err := c.NewDecryptReader(ctx, bytes.NewReader(ct))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(&sink, r); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if stream && sink.N != int64(len(pt))*int64(b.N) {
			b.Fatalf("decrypted %d bytes, want %d", sink.N, int64(len(pt))*int64(b.N))
		}
	})
}
