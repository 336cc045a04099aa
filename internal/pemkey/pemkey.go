// Package pemkey parses the PEM-encoded RSA keys that the CLI, the test
// vectors and the interop tests load for raw RSA keyrings.
package pemkey

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseRSAPublic parses a PEM "PUBLIC KEY" (X.509 SubjectPublicKeyInfo)
// or "RSA PUBLIC KEY" (PKCS #1) block.
func ParseRSAPublic(data []byte) (*rsa.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("pemkey: no PEM block in RSA public key")
	}
	if b.Type == "RSA PUBLIC KEY" {
		return x509.ParsePKCS1PublicKey(b.Bytes)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pemkey: RSA public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("pemkey: public key is not RSA")
	}
	return pub, nil
}

// ParseRSAPrivate parses a PEM "PRIVATE KEY" (PKCS #8) or
// "RSA PRIVATE KEY" (PKCS #1) block.
func ParseRSAPrivate(data []byte) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("pemkey: no PEM block in RSA private key")
	}
	if b.Type == "RSA PRIVATE KEY" {
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, errors.New("pemkey: RSA private key: not PKCS #8 or PKCS #1")
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("pemkey: private key is not RSA")
	}
	return priv, nil
}
