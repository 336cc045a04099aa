package batch_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/phicrypt/phicrypt/batch"
)

// Encrypt a directory tree into another with a raw AES key file, then
// decrypt it back: what "s3crypt encrypt --key aes:FILE SRC DST" does. A
// KMS key ("arn:aws:kms:…" or "alias/NAME") goes in Specs the same way; an
// s3:// location works as SRC or DST.
func ExampleRun() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "batch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	src, enc, dec := filepath.Join(dir, "src"), filepath.Join(dir, "enc"), filepath.Join(dir, "dec")
	if err := os.MkdirAll(filepath.Join(src, "2026"), 0o700); err != nil {
		log.Fatal(err)
	}
	for name, text := range map[string]string{
		"a.csv":      "patient,value\nP1,5.4\n",
		"b.csv":      "patient,value\nP2,6.1\n",
		"2026/c.txt": "discharge note\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o600); err != nil {
			log.Fatal(err)
		}
	}

	// Keygen writes a new AES-256 key, mode 0600; keep it out of the tree.
	keyFile := filepath.Join(dir, "lab.key")
	if err := batch.Keygen(keyFile); err != nil {
		log.Fatal(err)
	}
	o := batch.Options{
		Keys:    batch.KeyOptions{Specs: []string{"aes:" + keyFile}},
		Context: map[string]string{"dataset": "lab-2026"},
	}
	sum, err := batch.Run(ctx, batch.Encrypt, src, enc, o)
	if err != nil { // batch.ErrFailed if any input failed: see sum.Failures
		log.Fatal(err)
	}
	fmt.Printf("%s: %d files, %d ok, %d failed, %d plaintext bytes\n", sum.Op, sum.Files, sum.OK, sum.Failed, sum.BytesIn)
	outs, _ := filepath.Glob(filepath.Join(enc, "*", "*.enc"))
	fmt.Println(filepath.Base(outs[0]))

	// Decrypting refuses messages that lack the expected context.
	o = batch.Options{
		Keys:          batch.KeyOptions{Specs: []string{"aes:" + keyFile}},
		ExpectContext: map[string]string{"dataset": "lab-2026"},
	}
	sum, err = batch.Run(ctx, batch.Decrypt, enc, dec, o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d files, %d ok, %d failed\n", sum.Op, sum.Files, sum.OK, sum.Failed)
	note, err := os.ReadFile(filepath.Join(dec, "2026", "c.txt"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(note))
	// Output:
	// encrypt: 3 files, 3 ok, 0 failed, 57 plaintext bytes
	// c.txt.enc
	// decrypt: 3 files, 3 ok, 0 failed
	// discharge note
}
