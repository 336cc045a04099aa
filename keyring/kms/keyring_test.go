package kms_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

var (
	ctx    = context.Background()
	suites = []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384}
	ec     = map[string]string{"purpose": "test", "record": "lab-7", "unicode-ключ": "значение 🩺"}
)

func client(t *testing.T, kr envelope.Keyring, opts ...envelope.ClientOption) *envelope.Client {
	t.Helper()
	c, err := envelope.New(kr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func strict(t *testing.T, c kms.Client, id string, opts ...kms.Option) *kms.Keyring {
	t.Helper()
	kr, err := kms.New(c, id, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func header(t *testing.T, msg []byte) *envelope.Header {
	t.Helper()
	h, err := envelope.ParseHeader(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func plaintext(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*31 + 7)
	}
	return p
}

// checkNoDecryptionKey requires err to be an ErrNoDecryptionKey.
func checkNoDecryptionKey(t *testing.T, err error) *envelope.NoDecryptionKeyError {
	t.Helper()
	var nd *envelope.NoDecryptionKeyError
	if !errors.Is(err, envelope.ErrNoDecryptionKey) || !errors.As(err, &nd) {
		t.Fatalf("got %v, want ErrNoDecryptionKey", err)
	}
	return nd
}

// checkKMSError requires err to hold a *Error of op and code.
func checkKMSError(t *testing.T, err error, op, code string) *kms.Error {
	t.Helper()
	var ke *kms.Error
	if !errors.As(err, &ke) || ke.Op != op || ke.Code != code {
		t.Fatalf("got %v, want a KMS %s error %s", err, op, code)
	}
	return ke
}

// TestRoundTrip encrypts and decrypts through kmslocal with both writable
// suites and checks the wire: one aws-kms EDK naming the key ARN, and the
// message's whole encryption context sent with every KMS call.
func TestRoundTrip(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	kr := strict(t, env.Client, arn)
	for _, suite := range suites {
		for _, ctxt := range []map[string]string{nil, ec} {
			for _, size := range []int{0, 1, 70000} {
				t.Run(fmt.Sprintf("%s/ec%d/%d", suite, len(ctxt), size), func(t *testing.T) {
					name := fmt.Sprintf("%s/ec%d/%d", suite, len(ctxt), size)
					c := client(t, kr, envelope.WithSuite(suite), envelope.WithFrameLength(4096))
					p := plaintext(size)
					msg, err := c.Encrypt(ctx, p, ctxt)
					if err != nil {
						t.Fatalf("%s: encrypt: %v", name, err)
					}
					enc := env.TakeCalls()
					got, h, err := c.Decrypt(ctx, msg)
					if err != nil || !bytes.Equal(got, p) {
						t.Fatalf("%s: decrypt: %v", name, err)
					}
					dec := env.TakeCalls()

					if len(h.EncryptedDataKeys) != 1 {
						t.Fatalf("%s: %d EDKs", name, len(h.EncryptedDataKeys))
					}
					edk := h.EncryptedDataKeys[0]
					if edk.ProviderID != kms.ProviderID || string(edk.ProviderInfo) != arn || len(edk.Ciphertext) == 0 {
						t.Fatalf("%s: EDK %q %q", name, edk.ProviderID, edk.ProviderInfo)
					}
					if !slices.Equal(ops(enc), []string{"GenerateDataKey"}) || !slices.Equal(ops(dec), []string{"Decrypt"}) {
						t.Fatalf("%s: KMS calls %v then %v", name, ops(enc), ops(dec))
					}
					if enc[0].KeyID != arn || dec[0].KeyID != arn {
						t.Fatalf("%s: KeyIds %q, %q", name, enc[0].KeyID, dec[0].KeyID)
					}
					_, signed := h.EncryptionContext["aws-crypto-public-key"]
					if signed != (suite == envelope.AES256GCMHKDFSHA512CommitP384) {
						t.Fatalf("%s: header context %v", name, h.EncryptionContext)
					}
					for _, c := range []kmstest.Call{enc[0], dec[0]} {
						if !maps.Equal(c.EC, h.EncryptionContext) {
							t.Fatalf("%s: %s sent context %v, message has %v", name, c.Op, c.EC, h.EncryptionContext)
						}
					}
				})
			}
		}
	}
}

// TestStreamingRoundTrip: the streaming writer and reader use the keyring
// as one-shot calls do.
func TestStreamingRoundTrip(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	c := client(t, strict(t, env.Client, env.CreateKey(t)), envelope.WithFrameLength(1024))
	p := plaintext(10000)
	var buf bytes.Buffer
	w, err := c.NewEncryptWriter(ctx, &buf, ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := c.NewDecryptReader(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(r); err != nil || !bytes.Equal(got.Bytes(), p) {
		t.Fatalf("streaming decrypt: %v", err)
	}
}

// TestWrongContext: KMS refuses a data key under another encryption context
// with InvalidCiphertextException, which surfaces as a *Error inside
// ErrNoDecryptionKey.
func TestWrongContext(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	kr := strict(t, env.Client, arn)
	for _, suite := range suites {
		t.Run(suite.String(), func(t *testing.T) {
			msg, err := client(t, kr, envelope.WithSuite(suite)).Encrypt(ctx, plaintext(100), ec)
			if err != nil {
				t.Fatal(err)
			}
			h := header(t, msg)
			for _, wrong := range []map[string]string{
				nil,
				{"purpose": "test"},
				func() map[string]string { m := maps.Clone(h.EncryptionContext); m["record"] = "lab-8"; return m }(),
				func() map[string]string { m := maps.Clone(h.EncryptionContext); m["extra"] = ""; return m }(),
			} {
				m := &envelope.DecryptionMaterials{Suite: suite, EncryptionContext: wrong}
				err := kr.OnDecrypt(ctx, m, h.EncryptedDataKeys)
				checkNoDecryptionKey(t, err)
				ke := checkKMSError(t, err, "Decrypt", "InvalidCiphertextException")
				if ke.KeyID != arn || !strings.Contains(err.Error(), arn) || m.DataKey != nil {
					t.Fatalf("%s: %v (data key set: %v)", suite, err, m.DataKey != nil)
				}
			}
		})
	}
}

// TestWrongRequiredContext drives a wrong context to KMS through a Client:
// a required pair is not in the header, so the caller's value goes to KMS.
func TestWrongRequiredContext(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	kr := strict(t, env.Client, env.CreateKey(t))
	cmm := envelope.NewRequiredContextMaterialsManager(envelope.NewDefaultMaterialsManager(kr), "tenant")
	c, err := envelope.NewWithMaterialsManager(cmm)
	if err != nil {
		t.Fatal(err)
	}
	p := plaintext(300)
	msg, err := c.Encrypt(ctx, p, map[string]string{"tenant": "clinic-7", "record": "lab"})
	if err != nil {
		t.Fatal(err)
	}
	enc := env.TakeCalls()
	if enc[0].EC["tenant"] != "clinic-7" {
		t.Fatalf("GenerateDataKey context %v lacks the required pair", enc[0].EC)
	}
	if _, _, err := c.Decrypt(ctx, msg, envelope.WithExpectedContext(map[string]string{"tenant": "clinic-8"})); err == nil {
		t.Fatal("decrypted with a wrong required pair")
	} else {
		checkNoDecryptionKey(t, err)
		checkKMSError(t, err, "Decrypt", "InvalidCiphertextException")
		checkNoKeyMaterial(t, env, err)
	}
	got, _, err := c.Decrypt(ctx, msg, envelope.WithExpectedContext(map[string]string{"tenant": "clinic-7"}))
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("decrypt with the right required pair: %v", err)
	}
}

// TestWrongKey: a keyring for key B never asks KMS about a message for key A.
func TestWrongKey(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	a, b := env.CreateKey(t), env.CreateKey(t)
	msg, err := client(t, strict(t, env.Client, a)).Encrypt(ctx, plaintext(10), ec)
	if err != nil {
		t.Fatal(err)
	}
	before := env.Server.Counts()["Decrypt"]
	_, _, err = client(t, strict(t, env.Client, b)).Decrypt(ctx, msg)
	nd := checkNoDecryptionKey(t, err)
	if n := env.Server.Counts()["Decrypt"]; n != before {
		t.Fatalf("%d KMS Decrypt calls for a key the keyring does not hold", n-before)
	}
	if !strings.Contains(err.Error(), b) || len(nd.Errs) == 0 {
		t.Fatalf("error %q does not name the keyring's key", err)
	}
	var ke *kms.Error
	if errors.As(err, &ke) {
		t.Fatalf("a KMS error without a KMS call: %v", ke)
	}
}

// TestDisabledKey: KMS's DisabledException names the key, on decrypt and on
// encrypt, and no error text holds a data key.
func TestDisabledKey(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	kr := strict(t, env.Client, arn)
	c := client(t, kr)
	msg, err := c.Encrypt(ctx, plaintext(100), ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Decrypt(ctx, msg)
	checkNoDecryptionKey(t, err)
	checkKMSError(t, err, "Decrypt", "DisabledException")
	if !strings.Contains(err.Error(), arn) || !strings.Contains(err.Error(), "DisabledException") {
		t.Fatalf("error %q names neither the key nor the KMS error", err)
	}
	checkNoKeyMaterial(t, env, err)

	_, err = c.Encrypt(ctx, plaintext(100), ec)
	checkKMSError(t, err, "GenerateDataKey", "DisabledException")
	if !strings.Contains(err.Error(), arn) {
		t.Fatalf("error %q does not name the key", err)
	}
	checkNoKeyMaterial(t, env, err)

	if _, err := env.Client.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Decrypt(ctx, msg); err != nil {
		t.Fatalf("decrypt after EnableKey: %v", err)
	}
}

// TestMissingKey: a generator that KMS does not know fails encrypt with
// NotFoundException.
func TestMissingKey(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	_, err := client(t, strict(t, env.Client, "alias/none")).Encrypt(ctx, plaintext(1), nil)
	checkKMSError(t, err, "GenerateDataKey", "NotFoundException")
}

// TestMultiKeyEncrypt: a generator and an additional key each wrap the same
// data key; a keyring of either key alone decrypts.
func TestMultiKeyEncrypt(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	a, b := env.CreateKey(t), env.CreateKey(t)
	kr := strict(t, env.Client, a, kms.WithAdditionalKeys(b))
	if ids := kr.KeyIDs(); !slices.Equal(ids, []string{a, b}) {
		t.Fatalf("KeyIDs %v", ids)
	}
	p := plaintext(5000)
	msg, err := client(t, kr).Encrypt(ctx, p, ec)
	if err != nil {
		t.Fatal(err)
	}
	calls := env.TakeCalls()
	if !slices.Equal(ops(calls), []string{"GenerateDataKey", "Encrypt"}) || calls[0].KeyID != a || calls[1].KeyID != b {
		t.Fatalf("KMS calls %+v", calls)
	}
	h := header(t, msg)
	if len(h.EncryptedDataKeys) != 2 || string(h.EncryptedDataKeys[0].ProviderInfo) != a || string(h.EncryptedDataKeys[1].ProviderInfo) != b {
		t.Fatalf("EDKs %+v", h.EncryptedDataKeys)
	}
	if !maps.Equal(calls[1].EC, h.EncryptionContext) {
		t.Fatalf("Encrypt sent context %v, message has %v", calls[1].EC, h.EncryptionContext)
	}
	for _, id := range []string{a, b} {
		t.Run(id, func(t *testing.T) {
			got, _, err := client(t, strict(t, env.Client, id)).Decrypt(ctx, msg)
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("decrypt with %s alone: %v", id, err)
			}
			if calls := env.TakeCalls(); len(calls) != 1 || calls[0].KeyID != id {
				t.Fatalf("decrypt with %s: KMS calls %+v", id, calls)
			}
		})
	}
	// The whole keyring decrypts with its generator first, one call.
	if _, _, err := client(t, kr).Decrypt(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if calls := env.TakeCalls(); len(calls) != 1 || calls[0].KeyID != a {
		t.Fatalf("decrypt with both keys: KMS calls %+v", calls)
	}
}

// TestAliasGenerator: an alias generates; the EDK names the key ARN, never
// the alias, so decrypting needs the key ARN.
func TestAliasGenerator(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t, "alias/phi-gen")
	a, _ := kms.ParseARN(arn)
	aliasARN := kms.ARN{Partition: a.Partition, Service: "kms", Region: a.Region, Account: a.Account, ResourceType: "alias", ResourceID: "phi-gen"}.String()
	for _, gen := range []string{"alias/phi-gen", aliasARN} {
		t.Run(gen, func(t *testing.T) {
			env.TakeCalls()
			kr := strict(t, env.Client, gen)
			p := plaintext(64)
			msg, err := client(t, kr).Encrypt(ctx, p, ec)
			if err != nil {
				t.Fatalf("%s: %v", gen, err)
			}
			if calls := env.TakeCalls(); calls[0].KeyID != gen {
				t.Fatalf("GenerateDataKey with KeyId %q, want %q", calls[0].KeyID, gen)
			}
			if info := string(header(t, msg).EncryptedDataKeys[0].ProviderInfo); info != arn {
				t.Fatalf("%s: provider info %q, want the key ARN %q", gen, info, arn)
			}
			_, _, err = client(t, kr).Decrypt(ctx, msg)
			checkNoDecryptionKey(t, err)
			if calls := env.TakeCalls(); len(calls) != 0 {
				t.Fatalf("%s: KMS calls %v for a data key the alias keyring cannot match", gen, ops(calls))
			}
			got, _, err := client(t, strict(t, env.Client, arn)).Decrypt(ctx, msg)
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%s: decrypt with the key ARN: %v", gen, err)
			}
		})
	}
}

// TestGrantTokens: grant tokens go with every KMS call.
func TestGrantTokens(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	a, b := env.CreateKey(t), env.CreateKey(t)
	tokens := []string{"grant-token-1", "grant-token-2"}
	kr := strict(t, env.Client, a, kms.WithAdditionalKeys(b), kms.WithGrantTokens(tokens...))
	msg, err := client(t, kr).Encrypt(ctx, plaintext(10), ec)
	if err != nil {
		t.Fatal(err)
	}
	dkr, err := kms.NewDiscovery(env.Client, nil, kms.WithGrantTokens(tokens...))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []envelope.Keyring{kr, dkr} {
		if _, _, err := client(t, d).Decrypt(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	calls := env.TakeCalls()
	if !slices.Equal(ops(calls), []string{"GenerateDataKey", "Encrypt", "Decrypt", "Decrypt"}) {
		t.Fatalf("KMS calls %v", ops(calls))
	}
	for _, c := range calls {
		if !slices.Equal(c.GrantTokens, tokens) {
			t.Fatalf("%s sent grant tokens %q", c.Op, c.GrantTokens)
		}
	}
	// Without the option no tokens are sent.
	if _, err := client(t, strict(t, env.Client, a)).Encrypt(ctx, plaintext(10), ec); err != nil {
		t.Fatal(err)
	}
	if calls := env.TakeCalls(); calls[0].GrantTokens != nil {
		t.Fatalf("grant tokens %q without WithGrantTokens", calls[0].GrantTokens)
	}
}

// TestDiscovery: a discovery keyring decrypts any data key its filter
// allows, asking KMS with the ARN from the message, and cannot encrypt.
func TestDiscovery(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	p := plaintext(2000)
	msg, err := client(t, strict(t, env.Client, arn)).Encrypt(ctx, p, ec)
	if err != nil {
		t.Fatal(err)
	}
	env.TakeCalls()
	account := env.Server.Account()
	cases := []struct {
		name   string
		filter *kms.DiscoveryFilter
		ok     bool
	}{
		{"no filter", nil, true},
		{"account allowed", &kms.DiscoveryFilter{Partition: "aws", Accounts: []string{account}}, true},
		{"one of two accounts", &kms.DiscoveryFilter{Partition: "aws", Accounts: []string{"444455556666", account}}, true},
		{"other account", &kms.DiscoveryFilter{Partition: "aws", Accounts: []string{"444455556666"}}, false},
		{"other partition", &kms.DiscoveryFilter{Partition: "aws-cn", Accounts: []string{account}}, false},
	}
	for _, c := range cases {
		kr, err := kms.NewDiscovery(env.Client, c.filter)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _, err := client(t, kr).Decrypt(ctx, msg)
		calls := env.TakeCalls()
		if c.ok {
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%s: %v", c.name, err)
			}
			if len(calls) != 1 || calls[0].KeyID != arn || !maps.Equal(calls[0].EC, header(t, msg).EncryptionContext) {
				t.Fatalf("%s: KMS calls %+v", c.name, calls)
			}
			continue
		}
		checkNoDecryptionKey(t, err)
		if len(calls) != 0 {
			t.Fatalf("%s: KMS calls %v for a key the filter denies", c.name, ops(calls))
		}
	}

	kr, _ := kms.NewDiscovery(env.Client, nil)
	if _, err := client(t, kr).Encrypt(ctx, p, ec); err == nil {
		t.Fatal("a discovery keyring encrypted")
	}
	if len(env.TakeCalls()) != 0 {
		t.Fatal("a discovery keyring called KMS on encrypt")
	}
	for _, f := range []*kms.DiscoveryFilter{
		{Partition: "aws"},
		{Accounts: []string{account}},
		{Partition: "aws", Accounts: []string{""}},
	} {
		t.Run(fmt.Sprintf("%+v", *f), func(t *testing.T) {
			if _, err := kms.NewDiscovery(env.Client, f); err == nil {
				t.Errorf("NewDiscovery accepted filter %+v", f)
			}
		})
	}
	if _, err := kms.NewDiscovery(env.Client, nil, kms.WithAdditionalKeys(arn)); err == nil {
		t.Error("NewDiscovery accepted additional keys")
	}
	if _, err := kms.NewDiscovery(nil, nil); err == nil {
		t.Error("NewDiscovery accepted a nil client")
	}
}

// TestDiscoveryFilterIsCopied: changing the caller's filter afterwards does
// not change the keyring.
func TestDiscoveryFilterIsCopied(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	msg, err := client(t, strict(t, env.Client, env.CreateKey(t))).Encrypt(ctx, plaintext(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &kms.DiscoveryFilter{Partition: "aws", Accounts: []string{"444455556666"}}
	kr, err := kms.NewDiscovery(env.Client, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Accounts[0] = env.Server.Account()
	if _, _, err := client(t, kr).Decrypt(ctx, msg); err == nil {
		t.Fatal("the keyring saw a change to the caller's filter")
	}
}

// TestInvalidProviderInfo: an aws-kms EDK whose provider info is not a key
// ARN makes OnDecrypt fail before any KMS call, even beside a good EDK.
func TestInvalidProviderInfo(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	kr := strict(t, env.Client, arn)
	msg, err := client(t, kr).Encrypt(ctx, plaintext(1), ec)
	if err != nil {
		t.Fatal(err)
	}
	h := header(t, msg)
	env.TakeCalls()
	dkr, _ := kms.NewDiscovery(env.Client, nil)
	for _, info := range []string{"alias/phi", "arn:aws:kms:us-east-1:111122223333:alias/phi", "arn:aws:kms:us-east-1::key/k", ""} {
		t.Run(fmt.Sprintf("%q", info), func(t *testing.T) {
			bad := envelope.EncryptedDataKey{ProviderID: kms.ProviderID, ProviderInfo: []byte(info), Ciphertext: []byte{1}}
			for _, k := range []envelope.Keyring{kr, dkr} {
				m := &envelope.DecryptionMaterials{Suite: h.Suite, EncryptionContext: h.EncryptionContext}
				err := k.OnDecrypt(ctx, m, append([]envelope.EncryptedDataKey{bad}, h.EncryptedDataKeys...))
				checkNoDecryptionKey(t, err)
				if !errors.Is(err, kms.ErrInvalidARN) {
					t.Fatalf("%v, provider info %q: %v, want ErrInvalidARN", k, info, err)
				}
			}
		})
	}
	if calls := env.TakeCalls(); len(calls) != 0 {
		t.Fatalf("KMS calls %v despite an invalid provider info", ops(calls))
	}
	// Other providers' EDKs are ignored, not errors.
	other := envelope.EncryptedDataKey{ProviderID: "aws-kms-not", ProviderInfo: []byte("x"), Ciphertext: []byte{1}}
	m := &envelope.DecryptionMaterials{Suite: h.Suite, EncryptionContext: h.EncryptionContext}
	if err := kr.OnDecrypt(ctx, m, append([]envelope.EncryptedDataKey{other}, h.EncryptedDataKeys...)); err != nil || len(m.DataKey) != 32 {
		t.Fatalf("OnDecrypt beside another provider's EDK: %v", err)
	}
}

// TestMRK: a multi-Region key's replica in another region decrypts what
// the primary encrypted, through the MRK-aware strict and discovery
// keyrings; the plain strict keyring does not match a replica ARN.
func TestMRK(t *testing.T) {
	east, west, eastARN, westARN := mrkPair(t)
	if !kms.MRKMatch(eastARN, westARN) || eastARN == westARN {
		t.Fatalf("kmslocal MRK ARNs %q, %q", eastARN, westARN)
	}
	enc, err := kms.NewMRK(east.Client, eastARN)
	if err != nil {
		t.Fatal(err)
	}
	p := plaintext(3000)
	msg, err := client(t, enc).Encrypt(ctx, p, ec)
	if err != nil {
		t.Fatal(err)
	}
	east.TakeCalls()

	mrk, err := kms.NewMRK(west.Client, westARN)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := client(t, mrk).Decrypt(ctx, msg)
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("MRK keyring with the replica: %v", err)
	}
	if calls := west.TakeCalls(); len(calls) != 1 || calls[0].KeyID != westARN {
		t.Fatalf("replica region KMS calls %+v, want one Decrypt with %s", calls, westARN)
	}

	_, _, err = client(t, strict(t, west.Client, westARN)).Decrypt(ctx, msg)
	checkNoDecryptionKey(t, err)
	if calls := west.TakeCalls(); len(calls) != 0 {
		t.Fatalf("strict keyring called KMS %v for a replica ARN", ops(calls))
	}

	disc, err := kms.NewMRKDiscovery(west.Client, "us-west-2", &kms.DiscoveryFilter{Partition: "aws", Accounts: []string{west.Server.Account()}})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err = client(t, disc).Decrypt(ctx, msg)
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("MRK discovery keyring in the replica region: %v", err)
	}
	if calls := west.TakeCalls(); len(calls) != 1 || calls[0].KeyID != westARN {
		t.Fatalf("MRK discovery KMS calls %+v, want one Decrypt with %s", calls, westARN)
	}
	// Plain discovery asks with the ARN in the message, which the replica
	// region does not hold.
	plain, _ := kms.NewDiscovery(west.Client, nil)
	_, _, err = client(t, plain).Decrypt(ctx, msg)
	checkNoDecryptionKey(t, err)

	// MRK discovery takes single-Region keys of its own region only.
	srk := east.CreateKey(t)
	msg2, err := client(t, strict(t, east.Client, srk)).Encrypt(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	west.TakeCalls()
	_, _, err = client(t, disc).Decrypt(ctx, msg2)
	checkNoDecryptionKey(t, err)
	if calls := west.TakeCalls(); len(calls) != 0 {
		t.Fatalf("MRK discovery called KMS %v for a key of another region", ops(calls))
	}
	eastDisc, err := kms.NewMRKDiscovery(east.Client, "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client(t, eastDisc).Decrypt(ctx, msg2); err != nil {
		t.Fatalf("MRK discovery, single-Region key of its region: %v", err)
	}

	if _, err := kms.NewMRKDiscovery(west.Client, "us-east-1", nil); err == nil {
		t.Error("NewMRKDiscovery accepted a client of another region")
	}
	if _, err := kms.NewMRKDiscovery(west.Client, "", nil); err == nil {
		t.Error("NewMRKDiscovery accepted an empty region")
	}
}

// TestNewMulti: keys in two regions, each through its region's client; a
// keyring of either key alone decrypts.
func TestNewMulti(t *testing.T) {
	east := kmstest.Start(t, kmslocal.Options{Region: "us-east-1"})
	west := kmstest.Start(t, kmslocal.Options{Region: "us-west-2"})
	a, b := east.CreateKey(t), west.CreateKey(t)
	clients := map[string]kms.Client{"us-east-1": east.Client, "us-west-2": west.Client}
	multi, err := kms.NewMulti(func(r string) kms.Client { return clients[r] }, a, b)
	if err != nil {
		t.Fatal(err)
	}
	p := plaintext(1000)
	msg, err := client(t, multi).Encrypt(ctx, p, ec)
	if err != nil {
		t.Fatal(err)
	}
	if e, w := ops(east.TakeCalls()), ops(west.TakeCalls()); !slices.Equal(e, []string{"GenerateDataKey"}) || !slices.Equal(w, []string{"Encrypt"}) {
		t.Fatalf("KMS calls: east %v, west %v", e, w)
	}
	if n := len(header(t, msg).EncryptedDataKeys); n != 2 {
		t.Fatalf("%d EDKs", n)
	}
	for _, kr := range []envelope.Keyring{multi, strict(t, east.Client, a), strict(t, west.Client, b)} {
		t.Run(fmt.Sprint(kr), func(t *testing.T) {
			got, _, err := client(t, kr).Decrypt(ctx, msg)
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%v: %v", kr, err)
			}
		})
	}

	if _, err := kms.NewMulti(func(string) kms.Client { return nil }, a); err == nil {
		t.Error("NewMulti accepted a nil client for a region")
	}
	if _, err := kms.NewMulti(nil, a); err == nil {
		t.Error("NewMulti accepted a nil clientFor")
	}
	if _, err := kms.NewMulti(func(string) kms.Client { return east.Client }, a, "alias/"); err == nil {
		t.Error("NewMulti accepted an invalid key identifier")
	}
}

// TestKeyringBesideRawKeyring: a raw AES generator's data key is wrapped
// by KMS Encrypt in a multi-keyring, and either keyring decrypts.
func TestKeyringBesideRawKeyring(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	raw, err := keyring.NewRawAES("phicrypt-test", "aes", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	kr := strict(t, env.Client, arn)
	multi, err := keyring.NewMulti(raw, kr)
	if err != nil {
		t.Fatal(err)
	}
	p := plaintext(100)
	msg, err := client(t, multi).Encrypt(ctx, p, ec)
	if err != nil {
		t.Fatal(err)
	}
	if calls := env.TakeCalls(); !slices.Equal(ops(calls), []string{"Encrypt"}) {
		t.Fatalf("KMS calls %v, want one Encrypt of the raw keyring's data key", ops(calls))
	}
	for _, k := range []envelope.Keyring{raw, kr} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			if got, _, err := client(t, k).Decrypt(ctx, msg); err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%v: %v", k, err)
			}
		})
	}
}

// faultyClient passes calls to KMS and spoils the answers: another KeyId,
// or a data key one byte short.
type faultyClient struct {
	kms.Client
	keyID string
	short bool
}

func (f faultyClient) spoil(keyID **string, pt *[]byte) {
	if f.keyID != "" {
		*keyID = aws.String(f.keyID)
	}
	if f.short && len(*pt) > 0 {
		*pt = (*pt)[1:]
	}
}

func (f faultyClient) GenerateDataKey(ctx context.Context, in *awskms.GenerateDataKeyInput, o ...func(*awskms.Options)) (*awskms.GenerateDataKeyOutput, error) {
	out, err := f.Client.GenerateDataKey(ctx, in, o...)
	if err == nil {
		f.spoil(&out.KeyId, &out.Plaintext)
	}
	return out, err
}

func (f faultyClient) Encrypt(ctx context.Context, in *awskms.EncryptInput, o ...func(*awskms.Options)) (*awskms.EncryptOutput, error) {
	out, err := f.Client.Encrypt(ctx, in, o...)
	if err == nil {
		var none []byte
		f.spoil(&out.KeyId, &none)
	}
	return out, err
}

func (f faultyClient) Decrypt(ctx context.Context, in *awskms.DecryptInput, o ...func(*awskms.Options)) (*awskms.DecryptOutput, error) {
	out, err := f.Client.Decrypt(ctx, in, o...)
	if err == nil {
		f.spoil(&out.KeyId, &out.Plaintext)
	}
	return out, err
}

// TestKMSAnswersChecked: the keyrings refuse a KMS answer for another key
// than asked, an alias instead of a key ARN, or a data key of the wrong
// length, leaving the materials unchanged.
func TestKMSAnswersChecked(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	a, b := env.CreateKey(t), env.CreateKey(t)
	good := strict(t, env.Client, a)
	msg, err := client(t, good).Encrypt(ctx, plaintext(10), ec)
	if err != nil {
		t.Fatal(err)
	}
	h := header(t, msg)
	faults := []struct {
		name string
		f    faultyClient
	}{
		{"another key", faultyClient{keyID: b}},
		{"alias", faultyClient{keyID: "arn:aws:kms:us-east-1:111122223333:alias/x"}},
		{"short data key", faultyClient{short: true}},
	}
	for _, c := range faults {
		c.f.Client = env.Client
		kr := strict(t, c.f, a, kms.WithAdditionalKeys(b))

		m := &envelope.DecryptionMaterials{Suite: h.Suite, EncryptionContext: h.EncryptionContext}
		err := kr.OnDecrypt(ctx, m, h.EncryptedDataKeys)
		checkNoDecryptionKey(t, err)
		if m.DataKey != nil {
			t.Fatalf("%s: decrypt set a data key", c.name)
		}
		checkNoKeyMaterial(t, env, err)

		em := &envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec}
		err = kr.OnEncrypt(ctx, em)
		if err == nil || em.DataKey != nil || len(em.EncryptedDataKeys) != 0 {
			t.Fatalf("%s: encrypt: %v, materials changed: %v", c.name, err, em.DataKey != nil)
		}
		checkNoKeyMaterial(t, env, err)
	}
	// A failing additional key leaves the materials as they were.
	kr := strict(t, env.Client, a, kms.WithAdditionalKeys("alias/none"))
	em := &envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit, EncryptionContext: ec}
	err = kr.OnEncrypt(ctx, em)
	checkKMSError(t, err, "Encrypt", "NotFoundException")
	if em.DataKey != nil || len(em.EncryptedDataKeys) != 0 {
		t.Fatal("a failed OnEncrypt changed the materials")
	}
}
