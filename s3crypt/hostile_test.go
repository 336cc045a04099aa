package s3crypt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/internal/wire"
	"github.com/phicrypt/phicrypt/keyring"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// countingKeyring counts the OnDecrypt calls that reach its keyring.
type countingKeyring = testkit.CountingKeyring

// putManyEDKs stores as key a version 2 header of suite 0x0478 with n
// copies of edk and a final empty frame: what anyone who may write to the
// bucket can make without any key.
func putManyEDKs(t *testing.T, api *s3.Client, key string, n int, edk envelope.EncryptedDataKey) {
	t.Helper()
	b := []byte{2, 0x04, 0x78}
	b = append(b, make([]byte, 32)...) // message ID
	b = append(b, 0, 0)                // empty context
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for range n {
		b = wire.AppendEncryptedDataKey(b, edk.ProviderID, edk.ProviderInfo, edk.Ciphertext)
	}
	b = append(b, 2) // content type: framed
	b = binary.BigEndian.AppendUint32(b, 4096)
	b = append(b, make([]byte, 32+16)...)             // commit key, auth tag
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1) // final frame, sequence number 1
	b = append(b, make([]byte, 12)...)                // IV
	b = append(b, 0, 0, 0, 0)                         // content length 0
	b = append(b, make([]byte, 16)...)                // tag
	if _, err := api.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(b),
	}); err != nil {
		t.Fatal(err)
	}
}

// TestHostileManyEncryptedDataKeys: anyone who may write an object gives it
// 65,535 data keys naming the reader's key (provider IDs and key names are
// public in every header), so that one Get makes 65,535 keyring attempts.
func TestHostileManyEncryptedDataKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	api := fakeS3(t)
	aes, err := keyring.NewRawAES("phicrypt-test", "wrapping-key-1", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	kr := &countingKeyring{Keyring: aes}
	enc, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s3crypt.New(api, enc)
	if err != nil {
		t.Fatal(err)
	}
	putManyEDKs(t, api, "many", 1<<16-1, envelope.EncryptedDataKey{ProviderID: "phicrypt-test", ProviderInfo: []byte("wrapping-key-1"), Ciphertext: []byte{1}})
	if _, err := c.Get(ctx, getIn(testBucket, "many")); !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys) || len(err.Error()) >= 4096 {
		t.Fatalf("Get: %.300v, want ErrTooManyEncryptedDataKeys under 4 KiB", err)
	}
	if _, err := c.Open(ctx, getIn(testBucket, "many")); !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys) {
		t.Fatalf("Open: %.300v, want ErrTooManyEncryptedDataKeys", err)
	}
	if n := kr.Calls.Load(); n != 0 {
		t.Fatalf("%d keyring calls, want none: the limit is checked as the header is parsed", n)
	}

	// The default admits DefaultMaxEncryptedDataKeys keys, and a stricter
	// limit of the envelope.Client stands.
	putManyEDKs(t, api, "at-limit", s3crypt.DefaultMaxEncryptedDataKeys, envelope.EncryptedDataKey{ProviderID: "other", ProviderInfo: []byte("k"), Ciphertext: []byte{1}})
	if _, err := c.Get(ctx, getIn(testBucket, "at-limit")); !errors.Is(err, envelope.ErrNoDecryptionKey) {
		t.Fatalf("Get of %d keys: %v, want ErrNoDecryptionKey", s3crypt.DefaultMaxEncryptedDataKeys, err)
	}
	strict, err := enc.With(envelope.WithMaxEncryptedDataKeys(2))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s3crypt.New(api, strict)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Get(ctx, getIn(testBucket, "at-limit")); !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys) {
		t.Fatalf("Get with an envelope limit of 2: %v, want ErrTooManyEncryptedDataKeys", err)
	}
	// 0 lifts s3crypt's limit: every key reaches the keyring.
	if _, err := c.Get(ctx, getIn(testBucket, "many"), s3crypt.WithMaxEncryptedDataKeys(0)); !errors.Is(err, envelope.ErrNoDecryptionKey) || len(err.Error()) >= 4096 {
		t.Fatalf("Get without a limit: %.300v, want ErrNoDecryptionKey under 4 KiB", err)
	}
}

// TestHostileManyEncryptedDataKeysKMS: the same object against a KMS
// keyring, where each data key is a KMS Decrypt call; at most the limit's
// number of calls may be made.
func TestHostileManyEncryptedDataKeysKMS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	api := fakeS3(t)
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	kr, err := kms.New(env.Client, arn)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s3crypt.New(api, enc)
	if err != nil {
		t.Fatal(err)
	}
	edk := envelope.EncryptedDataKey{ProviderID: kms.ProviderID, ProviderInfo: []byte(arn), Ciphertext: bytes.Repeat([]byte{9}, 160)}
	putManyEDKs(t, api, "many", 1<<16-1, edk)
	putManyEDKs(t, api, "at-limit", s3crypt.DefaultMaxEncryptedDataKeys, edk)
	if _, err := c.Get(ctx, getIn(testBucket, "many")); !errors.Is(err, envelope.ErrTooManyEncryptedDataKeys) || len(err.Error()) >= 4096 {
		t.Fatalf("Get: %.300v, want ErrTooManyEncryptedDataKeys under 4 KiB", err)
	}
	if n := env.Counts(t)["Decrypt"]; n != 0 {
		t.Fatalf("%d KMS Decrypt calls for a message over the limit, want 0", n)
	}
	_, err = c.Get(ctx, getIn(testBucket, "at-limit"))
	if !errors.Is(err, envelope.ErrNoDecryptionKey) || len(err.Error()) >= 4096 {
		t.Fatalf("Get: %.300v, want ErrNoDecryptionKey under 4 KiB", err)
	}
	if n := env.Counts(t)["Decrypt"]; n > s3crypt.DefaultMaxEncryptedDataKeys {
		t.Fatalf("%d KMS Decrypt calls, want at most %d", n, s3crypt.DefaultMaxEncryptedDataKeys)
	}
}

// The option types admit an option only to the calls it applies to:
// c.Get(ctx, getIn(b, k), s3crypt.WithEncryptOptions(…)) and c.Put(…,
// s3crypt.WithExpectedContext(ec)) do not compile. These lines compile.
var (
	_ s3crypt.PutOption    = s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
	_ s3crypt.GetOption    = s3crypt.WithDecryptOptions(envelope.WithUnsignedOnly())
	_ s3crypt.GetOption    = s3crypt.WithExpectedContext(nil)
	_ s3crypt.CommonOption = s3crypt.WithPartConcurrency(1)
)

// TestHostileOptionMisapplied: an option given to a call it does not apply
// to fails the call rather than being silently ignored (or, across
// directions, does not compile); given to New it is a default of the calls
// it applies to.
func TestHostileOptionMisapplied(t *testing.T) {
	ctx := context.Background()
	api := fakeS3(t)
	c, err := s3crypt.New(api, rawAESClient(t),
		s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit)),
		s3crypt.WithDecryptOptions(envelope.WithUnsignedOnly()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Put(ctx, putIn(testBucket, "k", bytes.NewReader([]byte("x")), 1), testContext)
	if err != nil {
		t.Fatalf("Put with New's envelope options: %v", err)
	}
	if res.Header.Suite != envelope.AES256GCMHKDFSHA512Commit {
		t.Fatalf("suite %s, want New's", res.Header.Suite)
	}
	if got, _, err := getAll(t, c, testBucket, "k", s3crypt.WithReadAhead(2), s3crypt.WithProgress(func(_, _ int64) {})); err != nil || string(got) != "x" {
		t.Fatalf("Get with New's envelope options: %q, %v", got, err)
	}
	if _, ok := any(s3crypt.WithEncryptOptions()).(s3crypt.GetOption); ok {
		t.Error("WithEncryptOptions is a GetOption")
	}
	if _, ok := any(s3crypt.WithDecryptOptions()).(s3crypt.PutOption); ok {
		t.Error("WithDecryptOptions is a PutOption")
	}
	for name, o := range map[string]s3crypt.GetOption{
		"WithReadAhead":          s3crypt.WithReadAhead(2),
		"WithProgress":           s3crypt.WithProgress(func(_, _ int64) {}),
		"WithMaxNonFramedLength": s3crypt.WithDecryptOptions(envelope.WithMaxNonFramedLength(1 << 20)),
	} {
		if _, err := c.Open(ctx, getIn(testBucket, "k"), o); !errors.Is(err, envelope.ErrInvalidOption) || !strings.Contains(err.Error(), name) {
			t.Errorf("Open with %s: %v, want ErrInvalidOption naming it", name, err)
		}
	}
	if _, err := c.Open(ctx, getIn(testBucket, "k")); err != nil {
		t.Errorf("Open: %v", err)
	}
}
