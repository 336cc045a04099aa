package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// exampleClient returns a Client over a raw AES keyring with a new random
// wrapping key. A service would use an AWS KMS keyring (keyring/kms)
// instead; everything after envelope.New is the same.
func exampleClient() *envelope.Client {
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.NewRawAES("example", "wrapping-key-1", key)
	if err != nil {
		log.Fatal(err)
	}
	c, err := envelope.New(kr)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// Encrypt a record in memory and decrypt it. The encryption context is
// authenticated with the message but not encrypted: it names what the
// record is, never what it says.
func ExampleClient_Encrypt() {
	ctx := context.Background()
	c := exampleClient()

	ec := map[string]string{"tenant": "clinic-7", "kind": "lab-result"}
	msg, err := c.Encrypt(ctx, []byte(`{"test":"HbA1c","value":5.4}`), ec)
	if err != nil {
		log.Fatal(err)
	}

	pt, h, err := c.Decrypt(ctx, msg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)
	// The header holds the context (with the "aws-crypto-public-key" pair
	// of signed suites); CarriedContext drops the SDK's own pairs.
	fmt.Println(envelope.CarriedContext(h.EncryptionContext))
	fmt.Printf("suite %v, %d encrypted data key\n", h.Suite, len(h.EncryptedDataKeys))
	// Output:
	// {"test":"HbA1c","value":5.4}
	// map[kind:lab-result tenant:clinic-7]
	// suite 0x0578, 1 encrypted data key
}

// Decrypt only what the caller expects: a service reading records on
// behalf of one tenant passes that tenant's pairs, so a record of another
// tenant (or one swapped in by whoever can write the store) is refused
// before any plaintext is returned.
func ExampleWithExpectedContext() {
	ctx := context.Background()
	c := exampleClient()

	msg, err := c.Encrypt(ctx, []byte("lab result"), map[string]string{"tenant": "clinic-7"})
	if err != nil {
		log.Fatal(err)
	}

	pt, _, err := c.Decrypt(ctx, msg, envelope.WithExpectedContext(map[string]string{"tenant": "clinic-7"}))
	fmt.Printf("clinic-7: %q, %v\n", pt, err)

	_, _, err = c.Decrypt(ctx, msg, envelope.WithExpectedContext(map[string]string{"tenant": "clinic-9"}))
	fmt.Println(err)
	fmt.Println(errors.Is(err, envelope.ErrContextMismatch))
	// Output:
	// clinic-7: "lab result", <nil>
	// envelope: context key "tenant" has another value in the message: encryption context mismatch
	// true
}

// Encrypt a stream of unknown length, such as a file or an HTTP body,
// without holding it in memory: the writer seals one frame (64 KiB by
// default) at a time. Close writes the final frame and the signature; a
// message whose writer was not closed does not decrypt.
func ExampleClient_NewEncryptWriter() {
	ctx := context.Background()
	c := exampleClient()

	var msg bytes.Buffer // a file or an upload in practice
	w, err := c.NewEncryptWriter(ctx, &msg, map[string]string{"export": "2026-11"})
	if err != nil {
		log.Fatal(err)
	}
	src := strings.NewReader(strings.Repeat("patient,test,value\n", 10000))
	if _, err := io.Copy(w, src); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r, err := c.NewDecryptReader(ctx, &msg)
	if err != nil {
		log.Fatal(err)
	}
	// Count stands in for the consumer. The reader returns only
	// authenticated frames; read to io.EOF, which comes only once the
	// signature verified, before trusting the whole.
	n, err := io.Copy(io.Discard, r)
	fmt.Println(n, err, r.EncryptionContext()["export"])
	// Output: 190000 <nil> 2026-11
}

// Read a range of a large message without decrypting the rest: only the
// frames holding the range are read and authenticated. Random access needs
// an unsigned suite, since a signature covers the whole message.
func ExampleClient_NewDecryptReaderAt() {
	ctx := context.Background()
	c := exampleClient()

	plaintext := []byte(strings.Repeat("0123456789", 100000)) // 1 MB
	msg, err := c.Encrypt(ctx, plaintext, nil,
		envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), // committing, unsigned
		envelope.WithFrameLength(4096))
	if err != nil {
		log.Fatal(err)
	}

	ra, err := c.NewDecryptReaderAt(ctx, bytes.NewReader(msg), int64(len(msg)))
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 12)
	if _, err := ra.ReadAt(buf, 500_003); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes of plaintext; at 500003: %s\n", ra.Size(), buf)

	// A signed message is refused rather than read unverified.
	signed, err := c.Encrypt(ctx, plaintext, nil)
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.NewDecryptReaderAt(ctx, bytes.NewReader(signed), int64(len(signed)))
	fmt.Println(errors.Is(err, envelope.ErrSignedMessage))
	// Output:
	// 1000000 bytes of plaintext; at 500003: 345678901234
	// true
}
