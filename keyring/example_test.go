package keyring_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// A raw AES keyring wraps each message's data key under a key the caller
// holds (a 16, 24 or 32-byte key from a secrets store). The namespace and
// name are written in the message and must match on decrypt, so they name
// the key, not a version of the program.
func ExampleNewRawAES() {
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key) // in practice: loaded from a secrets manager
	kr, err := keyring.NewRawAES("my-org", "records-key-2026", key)
	if err != nil {
		log.Fatal(err)
	}
	c, err := envelope.New(kr)
	if err != nil {
		log.Fatal(err)
	}
	msg, err := c.Encrypt(ctx, []byte("discharge note"), map[string]string{"ward": "4B"})
	if err != nil {
		log.Fatal(err)
	}

	// A keyring with another key name skips the data key: decrypting
	// fails with ErrNoDecryptionKey, not with a wrong plaintext.
	other, err := keyring.NewRawAES("my-org", "records-key-2025", key)
	if err != nil {
		log.Fatal(err)
	}
	oc, err := envelope.New(other)
	if err != nil {
		log.Fatal(err)
	}
	_, _, err = oc.Decrypt(ctx, msg)
	fmt.Println(errors.Is(err, envelope.ErrNoDecryptionKey))

	pt, h, err := c.Decrypt(ctx, msg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (data key wrapped by %s)\n", pt, h.EncryptedDataKeys[0].ProviderID)
	// Output:
	// true
	// discharge note (data key wrapped by my-org)
}

// A multi-keyring wraps each data key under several keys: here the
// service's AES key, and an RSA public key whose private half is held
// offline for recovery. Either can decrypt on its own; the encrypting
// service never holds the recovery private key.
func ExampleNewMulti() {
	ctx := context.Background()
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	service, err := keyring.NewRawAES("my-org", "service-key", aesKey)
	if err != nil {
		log.Fatal(err)
	}
	recoveryKey, err := rsa.GenerateKey(rand.Reader, 2048) // in practice: only the public key is here
	if err != nil {
		log.Fatal(err)
	}
	escrow, err := keyring.NewRawRSA("my-org", "recovery-2026", keyring.OAEPSHA256, &recoveryKey.PublicKey, nil)
	if err != nil {
		log.Fatal(err)
	}
	// The generator (service) makes the data key; every keyring wraps it.
	kr, err := keyring.NewMulti(service, escrow)
	if err != nil {
		log.Fatal(err)
	}
	c, err := envelope.New(kr)
	if err != nil {
		log.Fatal(err)
	}
	msg, err := c.Encrypt(ctx, []byte("lab result"), nil)
	if err != nil {
		log.Fatal(err)
	}

	// Recovery, elsewhere: the RSA private key alone decrypts.
	recovery, err := keyring.NewRawRSA("my-org", "recovery-2026", keyring.OAEPSHA256, nil, recoveryKey)
	if err != nil {
		log.Fatal(err)
	}
	rc, err := envelope.New(recovery)
	if err != nil {
		log.Fatal(err)
	}
	pt, h, err := rc.Decrypt(ctx, msg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s; %d encrypted data keys\n", pt, len(h.EncryptedDataKeys))
	// Output: lab result; 2 encrypted data keys
}
