package keyring_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

const testNamespace = "phicrypt-test"

// testRSAKey is generated once per test binary.
var testRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func aesKeyring(t testing.TB) *keyring.RawAES {
	t.Helper()
	kr, err := keyring.NewRawAES(testNamespace, "aes-256", testWrappingKey(0x42))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func rsaKeyring(t testing.TB, padding keyring.RSAPadding) *keyring.RawRSA {
	t.Helper()
	priv, err := testRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.NewRawRSA(testNamespace, "rsa-2048-"+padding.String(), padding, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// testWrappingKey is a fixed, test-only AES-256 wrapping key.
func testWrappingKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// newClient returns a client of the default suite (0x0578) over kr.
func newClient(t testing.TB, kr envelope.Keyring) *envelope.Client {
	t.Helper()
	c, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
