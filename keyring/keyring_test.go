package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/keyring"
)

// TestRSAPaddings: every padding round-trips, and a keyring of the same key
// name and key pair but another padding cannot unwrap the data key.
func TestRSAPaddings(t *testing.T) {
	ctx := context.Background()
	paddings := []keyring.RSAPadding{keyring.OAEPSHA256, keyring.OAEPSHA1, keyring.OAEPSHA384, keyring.OAEPSHA512, keyring.PKCS1v15}
	priv, err := testkit.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paddings {
		t.Run(p.String(), func(t *testing.T) {
			kr, err := keyring.NewRawRSA(testkit.Namespace, "rsa", p, &priv.PublicKey, priv)
			if err != nil {
				t.Fatal(err)
			}
			c := newClient(t, kr)
			ct, err := c.Encrypt(ctx, []byte("padding"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, _, err := c.Decrypt(ctx, ct); err != nil || string(got) != "padding" {
				t.Fatalf("Decrypt: %q, %v", got, err)
			}
			other, err := keyring.NewRawRSA(testkit.Namespace, "rsa", paddings[(i+1)%len(paddings)], &priv.PublicKey, priv)
			if err != nil {
				t.Fatal(err)
			}
			// PKCS #1 v1.5 unwraps with implicit rejection: a random data
			// key, which the key commitment then refuses.
			want := envelope.ErrNoDecryptionKey
			if paddings[(i+1)%len(paddings)] == keyring.PKCS1v15 {
				want = envelope.ErrCommitmentMismatch
			}
			if _, _, err := newClient(t, other).Decrypt(ctx, ct); !errors.Is(err, want) {
				t.Fatalf("Decrypt with padding %s: %v, want %v", paddings[(i+1)%len(paddings)], err, want)
			}
		})
	}
}

// TestRSAPublicKeyOnly: a keyring holding only the public key encrypts but
// cannot decrypt; the private key's keyring decrypts what it wrote.
func TestRSAPublicKeyOnly(t *testing.T) {
	ctx := context.Background()
	priv, err := testkit.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keyring.NewRawRSA(testkit.Namespace, "rsa-2048-"+keyring.OAEPSHA256.String(), keyring.OAEPSHA256, &priv.PublicKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, pub)
	ct, err := c.Encrypt(ctx, []byte("to the private key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Decrypt(ctx, ct); !errors.Is(err, envelope.ErrNoDecryptionKey) {
		t.Fatalf("public-key-only Decrypt: %v, want ErrNoDecryptionKey", err)
	}
	full := newClient(t, testkit.RSAKeyring(t, keyring.OAEPSHA256))
	if got, _, err := full.Decrypt(ctx, ct); err != nil || string(got) != "to the private key" {
		t.Fatalf("private key Decrypt: %q, %v", got, err)
	}
	if _, err := keyring.NewRawRSA(testkit.Namespace, "rsa", keyring.OAEPSHA256, nil, nil); err == nil {
		t.Fatal("RSA keyring without keys accepted")
	}
}

func TestRawAESKeyringParameters(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		namespace, name string
		keyLen          int
		ok              bool
	}{
		{testkit.Namespace, "k16", 16, true},
		{testkit.Namespace, "k24", 24, true},
		{testkit.Namespace, "k32", 32, true},
		{testkit.Namespace, "k", 0, false},
		{testkit.Namespace, "k", 15, false},
		{testkit.Namespace, "k", 33, false},
		{"aws-kms", "k", 32, false},
		{"", "k", 32, false},
		{testkit.Namespace, "", 32, false},
	} {
		name := fmt.Sprintf("%q/%q/%d", tc.namespace, tc.name, tc.keyLen)
		kr, err := keyring.NewRawAES(tc.namespace, tc.name, bytes.Repeat([]byte{3}, tc.keyLen))
		if (err == nil) != tc.ok {
			t.Fatalf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
		if !tc.ok {
			continue
		}
		c := newClient(t, kr)
		ct, err := c.Encrypt(ctx, []byte("wrapped"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := c.Decrypt(ctx, ct); err != nil || string(got) != "wrapped" {
			t.Fatalf("%s: %q, %v", name, got, err)
		}
	}
}

// TestMultiKeyringDecryptOnly: a multi-keyring without a generator tries
// its children in order and cannot encrypt on its own.
func TestMultiKeyringDecryptOnly(t *testing.T) {
	ctx := context.Background()
	right := testkit.AESKeyring(t)
	wrong, err := keyring.NewRawAES(testkit.Namespace, "aes-256", testkit.WrappingKey(0x13))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := newClient(t, right).Encrypt(ctx, []byte("m"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := keyring.NewMulti(nil, wrong, right)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, dec)
	if got, _, err := c.Decrypt(ctx, ct); err != nil || string(got) != "m" {
		t.Fatalf("Decrypt: %q, %v", got, err)
	}
	if _, err := c.Encrypt(ctx, []byte("m"), nil); err == nil {
		t.Fatal("multi-keyring without a generator encrypted")
	}
	onlyWrong, _ := keyring.NewMulti(nil, wrong, wrong)
	_, _, err = newClient(t, onlyWrong).Decrypt(ctx, ct)
	var nk *envelope.NoDecryptionKeyError
	if !errors.As(err, &nk) || len(nk.Errs) != 2 || nk.EncryptedDataKeys != 1 {
		t.Fatalf("two failing children: %v, want a NoDecryptionKeyError with both failures", err)
	}
	if _, err := keyring.NewMulti(nil); err == nil {
		t.Fatal("empty multi-keyring accepted")
	}
}
