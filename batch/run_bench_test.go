package batch

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// BenchmarkRunSmallFiles: a run encrypting 100 files of 100 KiB (the
// bench-cli.sh case, scaled down) and decrypting them, each output
// durable; allocs/op and B/op are per run of 100 files.
func BenchmarkRunSmallFiles(b *testing.B) {
	for _, suite := range []envelope.SuiteID{0x0478, 0x0578} {
		b.Run(suite.String(), func(b *testing.B) {
			dir := b.TempDir()
			src := filepath.Join(dir, "src")
			os.Mkdir(src, 0o700)
			buf := make([]byte, 100<<10)
			for i := range 100 {
				rand.Read(buf)
				os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), buf, 0o600)
			}
			p := filepath.Join(dir, "k.key")
			if err := Keygen(p); err != nil {
				b.Fatal(err)
			}
			o := Options{Keys: KeyOptions{Specs: []string{"aes:" + p}}, Suite: suite}
			ctx := context.Background()
			b.SetBytes(100 * int64(len(buf)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				enc, dec := filepath.Join(dir, fmt.Sprintf("enc%d", i)), filepath.Join(dir, fmt.Sprintf("dec%d", i))
				if _, err := Run(ctx, Encrypt, src, enc, o); err != nil {
					b.Fatal(err)
				}
				if _, err := Run(ctx, Decrypt, enc, dec, Options{Keys: o.Keys}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
