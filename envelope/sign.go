package envelope

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// compressPublicKey returns the base64 of the SEC 1 compressed point of
// pub, the form the SDKs store under aws-crypto-public-key.
func compressPublicKey(pub *ecdsa.PublicKey) (string, error) {
	u, err := pub.Bytes() // 04 | X | Y
	if err != nil {
		return "", err
	}
	n := (len(u) - 1) / 2
	c := make([]byte, 1+n)
	c[0] = 2 | u[len(u)-1]&1
	copy(c[1:], u[1:1+n])
	return base64.StdEncoding.EncodeToString(c), nil
}

// decompressPublicKey parses the aws-crypto-public-key value.
func decompressPublicKey(curve elliptic.Curve, s string) (*ecdsa.PublicKey, error) {
	c, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("aws-crypto-public-key is not base64")
	}
	x, y := elliptic.UnmarshalCompressed(curve, c)
	if x == nil {
		return nil, errors.New("aws-crypto-public-key is not a compressed point on the suite's curve")
	}
	size := (curve.Params().BitSize + 7) / 8
	u := make([]byte, 1+2*size)
	u[0] = 4
	x.FillBytes(u[1 : 1+size])
	y.FillBytes(u[1+size:])
	return ecdsa.ParseUncompressedPublicKey(curve, u)
}

// signatureLen is the fixed DER length the official SDKs write: one of r
// and s has its top bit set and needs a leading zero byte.
func signatureLen(curve elliptic.Curve) int {
	size := (curve.Params().BitSize + 7) / 8
	return 2 + (2 + size + 1) + (2 + size)
}

// sign returns a DER ECDSA signature of digest of exactly signatureLen
// bytes, choosing between s and n-s (both verify) and signing again in the
// rare case neither fits, as the official SDKs do.
func sign(priv *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	want := signatureLen(priv.Curve)
	n := priv.Curve.Params().N
	for range 64 {
		sig, err := ecdsa.SignASN1(rand.Reader, priv, digest)
		if err != nil {
			return nil, err
		}
		if len(sig) == want {
			return sig, nil
		}
		r, s, ok := parseSig(sig)
		if !ok {
			return nil, errors.New("envelope: ecdsa produced an unparsable signature")
		}
		s2 := new(big.Int).Sub(n, s)
		if alt := marshalSig(r, s2); len(alt) == want {
			return alt, nil
		}
	}
	return nil, errors.New("envelope: could not produce a fixed-length signature")
}

func parseSig(sig []byte) (r, s *big.Int, ok bool) {
	r, s = new(big.Int), new(big.Int)
	in := cryptobyte.String(sig)
	var inner cryptobyte.String
	ok = in.ReadASN1(&inner, asn1.SEQUENCE) && in.Empty() &&
		inner.ReadASN1Integer(r) && inner.ReadASN1Integer(s) && inner.Empty()
	return r, s, ok
}

func marshalSig(r, s *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.BytesOrPanic()
}
