package official

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"maps"
	"strings"
	"sync"
	"testing"
)

const testNamespace = "phicrypt-interop"

func aesKey(t *testing.T, name string, n int) RawAESKey {
	t.Helper()
	k := make([]byte, n)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return RawAESKey{Namespace: testNamespace, Name: name, Key: k}
}

var (
	rsaOnce sync.Once
	rsaPub  []byte
	rsaPriv []byte
	rsaErr  error
)

// rsaPEM returns a fresh 2048-bit key pair (generated once per test binary)
// as PEM SPKI public and PEM PKCS#8 private keys.
func rsaPEM(t *testing.T) (pub, priv []byte) {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			rsaErr = err
			return
		}
		spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			rsaErr = err
			return
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			rsaErr = err
			return
		}
		rsaPub = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
		rsaPriv = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	})
	if rsaErr != nil {
		t.Fatal(rsaErr)
	}
	return rsaPub, rsaPriv
}

func rsaKey(t *testing.T, name, padding string) RawRSAKey {
	pub, priv := rsaPEM(t)
	return RawRSAKey{Namespace: testNamespace, Name: name, PublicPEM: pub, PrivatePEM: priv, Padding: padding}
}

func plaintext(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return p
}

// headerSuite reads the suite ID from a serialized message header.
func headerSuite(t *testing.T, msg []byte) uint16 {
	t.Helper()
	switch {
	case len(msg) >= 3 && msg[0] == 0x02:
		return binary.BigEndian.Uint16(msg[1:3])
	case len(msg) >= 4 && msg[0] == 0x01 && msg[1] == 0x80:
		return binary.BigEndian.Uint16(msg[2:4])
	}
	t.Fatalf("not an ESDK message: % x", msg[:min(len(msg), 8)])
	return 0
}

// checkContext checks that got contains every pair of want (the SDK adds
// aws-crypto-public-key for signing suites).
func checkContext(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("decrypted EC[%q] = %q, want %q (EC %v)", k, got[k], v, got)
		}
	}
}

func TestRoundTripSuites(t *testing.T) {
	ctx := context.Background()
	key := aesKey(t, "aes-256", 32)
	ec := map[string]string{"purpose": "interop", "unicode-ключ": "значение", "emoji": "\U0001F510 astral"}
	cases := []struct {
		name   string
		suite  uint16
		policy string
		want   uint16
	}{
		{"default", 0, "", 0x0578},
		{"0478", 0x0478, "", 0x0478},
		{"0578", 0x0578, PolicyRequireEncryptRequireDecrypt, 0x0578},
		{"0178-forbid", 0x0178, PolicyForbidEncryptAllowDecrypt, 0x0178},
		{"0378-forbid", 0x0378, PolicyForbidEncryptAllowDecrypt, 0x0378},
		{"0014-forbid", 0x0014, PolicyForbidEncryptAllowDecrypt, 0x0014},
		{"forbid-default", 0, PolicyForbidEncryptAllowDecrypt, 0x0378},
	}
	for _, tc := range cases {
		for _, size := range []int{0, 1, 100, 4096, 10000} {
			t.Run(tc.name+"/"+itoa(size), func(t *testing.T) {
				pt := plaintext(size)
				ct, err := Encrypt(ctx, EncryptInput{
					AES: []RawAESKey{key}, Suite: tc.suite, FrameLength: 0,
					Context: ec, CommitmentPolicy: tc.policy, Plaintext: pt,
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := headerSuite(t, ct); got != tc.want {
					t.Fatalf("header suite 0x%04x, want 0x%04x", got, tc.want)
				}
				out, gotEC, suite, err := Decrypt(ctx, DecryptInput{
					AES: []RawAESKey{key}, Context: ec, CommitmentPolicy: tc.policy, Ciphertext: ct,
				})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, pt) {
					t.Fatal("plaintext mismatch")
				}
				if suite != tc.want {
					t.Fatalf("suite 0x%04x, want 0x%04x", suite, tc.want)
				}
				checkContext(t, gotEC, ec)
				_, hasPub := gotEC["aws-crypto-public-key"]
				if signing := tc.want == 0x0578 || tc.want == 0x0378; hasPub != signing {
					t.Errorf("aws-crypto-public-key present = %v for suite 0x%04x", hasPub, tc.want)
				}
			})
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func TestCommitmentPolicy(t *testing.T) {
	ctx := context.Background()
	key := aesKey(t, "aes-128", 16)
	ct, err := Encrypt(ctx, EncryptInput{
		AES: []RawAESKey{key}, Suite: 0x0178, CommitmentPolicy: PolicyForbidEncryptAllowDecrypt,
		Plaintext: []byte("legacy"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The default policy (require-encrypt-require-decrypt) must refuse a
	// non-committing message; require-encrypt-allow-decrypt accepts it.
	if _, _, _, err := Decrypt(ctx, DecryptInput{AES: []RawAESKey{key}, Ciphertext: ct}); err == nil {
		t.Error("default policy decrypted a 0x0178 message")
	} else {
		t.Logf("default policy on 0x0178: %T: %v", unwrapAll(err), err)
	}
	if _, _, suite, err := Decrypt(ctx, DecryptInput{
		AES: []RawAESKey{key}, CommitmentPolicy: PolicyRequireEncryptAllowDecrypt, Ciphertext: ct,
	}); err != nil || suite != 0x0178 {
		t.Errorf("require-encrypt-allow-decrypt: suite 0x%04x, err %v", suite, err)
	}
	// Encrypting a non-committing suite under a require-encrypt policy fails.
	if _, err := Encrypt(ctx, EncryptInput{AES: []RawAESKey{key}, Suite: 0x0178, Plaintext: []byte("x")}); err == nil {
		t.Error("default policy encrypted with 0x0178")
	}
	// And a committing suite under forbid-encrypt fails.
	if _, err := Encrypt(ctx, EncryptInput{
		AES: []RawAESKey{key}, Suite: 0x0478, CommitmentPolicy: PolicyForbidEncryptAllowDecrypt, Plaintext: []byte("x"),
	}); err == nil {
		t.Error("forbid-encrypt policy encrypted with 0x0478")
	}
}

func unwrapAll(err error) error {
	for {
		type unwrapper interface{ Unwrap() error }
		u, ok := err.(unwrapper)
		if !ok {
			return err
		}
		next := u.Unwrap()
		if next == nil {
			return err
		}
		err = next
	}
}

func TestFrameLength(t *testing.T) {
	ctx := context.Background()
	key := aesKey(t, "aes-256", 32)
	for _, fl := range []int64{1, 17, 1024} {
		for _, size := range []int{0, 16, 17, 1024, 3000} {
			pt := plaintext(size)
			ct, err := Encrypt(ctx, EncryptInput{AES: []RawAESKey{key}, Suite: 0x0478, FrameLength: fl, Plaintext: pt})
			if err != nil {
				t.Fatalf("frame %d size %d: %v", fl, size, err)
			}
			out, _, _, err := Decrypt(ctx, DecryptInput{AES: []RawAESKey{key}, Ciphertext: ct})
			if err != nil || !bytes.Equal(out, pt) {
				t.Fatalf("frame %d size %d: err %v, equal %v", fl, size, err, bytes.Equal(out, pt))
			}
		}
	}
	if _, err := Encrypt(ctx, EncryptInput{AES: []RawAESKey{key}, FrameLength: -1, Plaintext: []byte("x")}); err == nil {
		t.Error("frame length -1 accepted")
	}
}

func TestRawRSA(t *testing.T) {
	ctx := context.Background()
	for _, pad := range []string{PaddingOAEPSHA256, PaddingPKCS1, PaddingOAEPSHA1, PaddingOAEPSHA384, PaddingOAEPSHA512} {
		t.Run(pad, func(t *testing.T) {
			key := rsaKey(t, "rsa-2048", pad)
			pt := plaintext(5000)
			ec := map[string]string{"k": "v"}
			for _, suite := range []uint16{0x0478, 0x0578} {
				ct, err := Encrypt(ctx, EncryptInput{RSA: []RawRSAKey{key}, Suite: suite, Context: ec, Plaintext: pt})
				if err != nil {
					t.Fatal(err)
				}
				// Decrypt needs only the private key.
				dk := key
				dk.PublicPEM = nil
				out, gotEC, got, err := Decrypt(ctx, DecryptInput{RSA: []RawRSAKey{dk}, Ciphertext: ct})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, pt) || got != suite {
					t.Fatalf("suite 0x%04x: plaintext equal %v, suite 0x%04x", suite, bytes.Equal(out, pt), got)
				}
				checkContext(t, gotEC, ec)
			}
		})
	}
	// A different padding must not decrypt.
	enc := rsaKey(t, "rsa-2048", PaddingOAEPSHA256)
	ct, err := Encrypt(ctx, EncryptInput{RSA: []RawRSAKey{enc}, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	dec := rsaKey(t, "rsa-2048", PaddingOAEPSHA1)
	if _, _, _, err := Decrypt(ctx, DecryptInput{RSA: []RawRSAKey{dec}, Ciphertext: ct}); err == nil {
		t.Error("OAEP-SHA256 message decrypted with an OAEP-SHA1 keyring")
	}
}

func TestMultiKey(t *testing.T) {
	ctx := context.Background()
	a1 := aesKey(t, "aes-a", 32)
	a2 := aesKey(t, "aes-b", 24)
	r := rsaKey(t, "rsa", PaddingOAEPSHA256)
	pt := plaintext(9000)
	ct, err := Encrypt(ctx, EncryptInput{AES: []RawAESKey{a1, a2}, RSA: []RawRSAKey{r}, Plaintext: pt})
	if err != nil {
		t.Fatal(err)
	}
	// Three EDKs: v2 header, EC (public key) then EDK count.
	for name, in := range map[string]DecryptInput{
		"first-aes":  {AES: []RawAESKey{a1}},
		"second-aes": {AES: []RawAESKey{a2}},
		"rsa":        {RSA: []RawRSAKey{r}},
		"all":        {AES: []RawAESKey{a2, a1}, RSA: []RawRSAKey{r}},
	} {
		in.Ciphertext = ct
		out, _, _, err := Decrypt(ctx, in)
		if err != nil || !bytes.Equal(out, pt) {
			t.Errorf("%s: err %v, equal %v", name, err, bytes.Equal(out, pt))
		}
	}
	other := aesKey(t, "aes-a", 32) // same name, other key material
	_, _, _, err = Decrypt(ctx, DecryptInput{AES: []RawAESKey{other}, Ciphertext: ct})
	if err == nil {
		t.Fatal("decrypted with the wrong key")
	}
	t.Logf("wrong AES key: %T: %v", unwrapAll(err), err)
}

func TestRequiredContextKeys(t *testing.T) {
	ctx := context.Background()
	key := aesKey(t, "aes-256", 32)
	ec := map[string]string{"stored": "in-header", "secret-tenant": "tenant-\U0001F600-42"}
	pt := []byte("required encryption context")
	for _, suite := range []uint16{0x0478, 0x0578} {
		ct, err := Encrypt(ctx, EncryptInput{
			AES: []RawAESKey{key}, Suite: suite, Context: ec,
			RequiredContextKeys: []string{"secret-tenant"}, Plaintext: pt,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(ct, []byte("in-header")) {
			t.Error("non-required pair missing from the header")
		}
		if bytes.Contains(ct, []byte("secret-tenant")) || bytes.Contains(ct, []byte("tenant-\U0001F600-42")) {
			t.Error("required pair stored in the message")
		}
		// Without the reproduced pair: fails.
		if _, _, _, err := Decrypt(ctx, DecryptInput{AES: []RawAESKey{key}, Ciphertext: ct}); err == nil {
			t.Error("decrypted without the required context")
		} else {
			t.Logf("missing required EC: %T: %v", unwrapAll(err), err)
		}
		// Wrong value: fails.
		bad := map[string]string{"secret-tenant": "other"}
		if _, _, _, err := Decrypt(ctx, DecryptInput{AES: []RawAESKey{key}, Context: bad, Ciphertext: ct}); err == nil {
			t.Error("decrypted with a wrong required value")
		}
		// With only the required pair reproduced (default CMM path).
		repro := map[string]string{"secret-tenant": ec["secret-tenant"]}
		out, gotEC, _, err := Decrypt(ctx, DecryptInput{AES: []RawAESKey{key}, Context: repro, Ciphertext: ct})
		if err != nil || !bytes.Equal(out, pt) {
			t.Fatalf("reproduced EC: err %v", err)
		}
		checkContext(t, gotEC, ec)
		// With the required-EC CMM on decrypt too, and the full EC.
		out, _, _, err = Decrypt(ctx, DecryptInput{
			AES: []RawAESKey{key}, Context: maps.Clone(ec), RequiredContextKeys: []string{"secret-tenant"}, Ciphertext: ct,
		})
		if err != nil || !bytes.Equal(out, pt) {
			t.Fatalf("required CMM decrypt: err %v", err)
		}
	}
	// Encrypt fails when a required key is absent from the EC.
	if _, err := Encrypt(ctx, EncryptInput{
		AES: []RawAESKey{key}, Context: map[string]string{"a": "b"}, RequiredContextKeys: []string{"missing"}, Plaintext: pt,
	}); err == nil {
		t.Error("encrypt succeeded without the required key in the EC")
	}
}

func TestContextMismatch(t *testing.T) {
	ctx := context.Background()
	key := aesKey(t, "aes-256", 32)
	ct, err := Encrypt(ctx, EncryptInput{AES: []RawAESKey{key}, Context: map[string]string{"a": "1"}, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Decrypt(ctx, DecryptInput{AES: []RawAESKey{key}, Context: map[string]string{"a": "2"}, Ciphertext: ct}); err == nil {
		t.Error("decrypted with a conflicting reproduced EC")
	}
	// Reserved prefix on encrypt.
	if _, err := Encrypt(ctx, EncryptInput{
		AES: []RawAESKey{key}, Context: map[string]string{"aws-crypto-x": "1"}, Plaintext: []byte("x"),
	}); err == nil {
		t.Error("encrypt accepted a reserved aws-crypto- key")
	}
	// Tampering is detected.
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-200] ^= 1
	if _, _, _, err := Decrypt(ctx, DecryptInput{AES: []RawAESKey{key}, Ciphertext: tampered}); err == nil {
		t.Error("decrypted a tampered message")
	}
}

func TestMappings(t *testing.T) {
	for _, s := range []uint16{0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578} {
		id, err := SuiteID(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSuite(string(id))
		if err != nil || back != s {
			t.Fatalf("0x%04x -> %q -> 0x%04x (%v)", s, id, back, err)
		}
	}
	if _, err := SuiteID(0x1234); err == nil {
		t.Error("unknown suite accepted")
	}
	for _, p := range []string{"pkcs1", "oaep-sha1", "oaep-sha256", "oaep-sha384", "oaep-sha512", "OAEP_SHA256_MGF1"} {
		if _, err := PaddingScheme(p); err != nil {
			t.Error(err)
		}
	}
	if _, err := PaddingScheme("oaep"); err == nil {
		t.Error("bad padding accepted")
	}
	for _, p := range []string{"forbid-encrypt-allow-decrypt", "require-encrypt-allow-decrypt",
		"require-encrypt-require-decrypt", "REQUIRE_ENCRYPT_REQUIRE_DECRYPT"} {
		if v, err := CommitmentPolicy(p); err != nil || v == nil || !strings.EqualFold(strings.ReplaceAll(p, "-", "_"), string(*v)) {
			t.Errorf("%s: %v %v", p, v, err)
		}
	}
	if v, err := CommitmentPolicy(""); v != nil || err != nil {
		t.Error("empty policy")
	}
	if _, err := CommitmentPolicy("allow-all"); err == nil {
		t.Error("bad policy accepted")
	}
}

// TestKMSKeyringBuilds only checks that the KMS keyring can be constructed;
// no KMS server is contacted.
func TestKMSKeyringBuilds(t *testing.T) {
	c := NewKMSClient("http://127.0.0.1:1", "us-east-1")
	if c == nil {
		t.Fatal("nil client")
	}
	if _, err := Encrypt(context.Background(), EncryptInput{
		KMS:       []KMSKey{{KeyID: "not-an-arn", Endpoint: "http://127.0.0.1:1", Region: "us-east-1"}},
		Plaintext: []byte("x"),
	}); err == nil {
		t.Error("KMS encrypt with an unreachable endpoint succeeded")
	}
}
