package pemkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// TestParse: both PEM forms of each RSA key parse to the key; a non-RSA
// key, another block type's contents and non-PEM input fail.
func TestParse(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	spki, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	for _, b := range [][]byte{enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(priv)), enc("PRIVATE KEY", pkcs8)} {
		if k, err := ParseRSAPrivate(b); err != nil || !k.Equal(priv) {
			t.Fatalf("ParseRSAPrivate: %v", err)
		}
	}
	for _, b := range [][]byte{enc("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&priv.PublicKey)), enc("PUBLIC KEY", spki)} {
		if k, err := ParseRSAPublic(b); err != nil || !k.Equal(&priv.PublicKey) {
			t.Fatalf("ParseRSAPublic: %v", err)
		}
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if _, err := ParseRSAPrivate(enc("PRIVATE KEY", ec8)); err == nil {
		t.Fatal("ECDSA private key accepted")
	}
	if _, err := ParseRSAPublic(enc("PUBLIC KEY", ecPub)); err == nil {
		t.Fatal("ECDSA public key accepted")
	}
	if _, err := ParseRSAPrivate(enc("PRIVATE KEY", spki)); err == nil {
		t.Fatal("public key accepted as private")
	}
	if _, err := ParseRSAPublic([]byte("not PEM")); err == nil {
		t.Fatal("non-PEM input accepted")
	}
}
