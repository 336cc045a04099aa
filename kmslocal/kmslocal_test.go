package kmslocal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// newServer serves a new kmslocal with options o (kmstest.Start) and
// returns it and an SDK client for it.
func newServer(t *testing.T, o kmslocal.Options) (*kmslocal.Server, *kms.Client) {
	t.Helper()
	e := kmstest.Start(t, o)
	return e.Server, e.Client
}

func createKey(t *testing.T, c *kms.Client) *types.KeyMetadata {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("test")})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata
}

func wantErr[E error](t *testing.T, err error) {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want %T", err, err, e)
	}
}

// wantCode checks the wire error code, for errors the SDK has no type for.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e interface{ ErrorCode() string }
	if !errors.As(err, &e) || e.ErrorCode() != code {
		t.Fatalf("got error %v, want %s", err, code)
	}
}

var ctx = context.Background()

func TestKeyManagement(t *testing.T) {
	s, c := newServer(t, kmslocal.Options{})
	md := createKey(t, c)
	if md.KeyState != types.KeyStateEnabled || !md.Enabled || md.KeySpec != types.KeySpecSymmetricDefault ||
		md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || aws.ToString(md.Description) != "test" ||
		md.AWSAccountId == nil || *md.AWSAccountId != kmslocal.DefaultAccount || md.CreationDate == nil ||
		aws.ToBool(md.MultiRegion) || md.MultiRegionConfiguration != nil {
		t.Fatalf("metadata %+v", md)
	}
	wantARN := "arn:aws:kms:us-east-1:111122223333:key/" + *md.KeyId
	if *md.Arn != wantARN || s.KeyARN(*md.KeyId) != wantARN {
		t.Fatalf("arn %s", *md.Arn)
	}

	mrk, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if id := *mrk.KeyMetadata.KeyId; !strings.HasPrefix(id, "mrk-") || len(id) != 36 ||
		!aws.ToBool(mrk.KeyMetadata.MultiRegion) ||
		mrk.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypePrimary {
		t.Fatalf("multi-Region key %+v", mrk.KeyMetadata)
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048})
	wantErr[*types.UnsupportedOperationException](t, err)

	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/one"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/one"), TargetKeyId: md.Arn})
	wantErr[*types.AlreadyExistsException](t, err)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/two"), TargetKeyId: aws.String("alias/one")})
	wantCode(t, err, "ValidationException")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/s3"), TargetKeyId: md.KeyId})
	wantErr[*types.InvalidAliasNameException](t, err)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/two"), TargetKeyId: aws.String("nope")})
	wantErr[*types.NotFoundException](t, err)

	// DescribeKey by every kind of identifier.
	for _, ref := range []string{*md.KeyId, *md.Arn, "alias/one", "arn:aws:kms:us-east-1:111122223333:alias/one"} {
		t.Run(ref, func(t *testing.T) {
			out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref), GrantTokens: []string{"tok"}})
			if err != nil {
				t.Fatalf("%s: %v", ref, err)
			}
			if *out.KeyMetadata.KeyId != *md.KeyId {
				t.Fatalf("%s resolved to %s", ref, *out.KeyMetadata.KeyId)
			}
		})
	}
	for _, ref := range []string{"nope", "alias/nope", "arn:aws:kms:eu-west-1:111122223333:key/" + *md.KeyId, "arn:aws:kms:us-east-1:111122223333:thing"} {
		t.Run(ref, func(t *testing.T) {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
			wantErr[*types.NotFoundException](t, err)
		})
	}

	keys, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys) != 2 || keys.Truncated {
		t.Fatalf("ListKeys %+v", keys)
	}
	n := 0
	for p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Keys)
	}
	if n != 2 {
		t.Fatalf("paginated %d keys", n)
	}

	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/mrk"), TargetKeyId: mrk.KeyMetadata.Arn}); err != nil {
		t.Fatal(err)
	}
	al, err := c.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(al.Aliases) != 2 || al.Truncated || *al.Aliases[1].AliasName != "alias/one" || *al.Aliases[1].TargetKeyId != *md.KeyId ||
		*al.Aliases[1].AliasArn != "arn:aws:kms:us-east-1:111122223333:alias/one" || al.Aliases[1].CreationDate == nil {
		t.Fatalf("ListAliases %+v", al.Aliases)
	}
	al, err = c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: md.Arn})
	if err != nil || len(al.Aliases) != 1 || *al.Aliases[0].AliasName != "alias/one" {
		t.Fatalf("ListAliases by key: %v %+v", err, al)
	}

	// Rotation.
	rs, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String("alias/one")})
	if err != nil || rs.KeyRotationEnabled || *rs.KeyId != *md.Arn {
		t.Fatalf("rotation status %v %+v", err, rs)
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId, RotationPeriodInDays: aws.Int32(100)}); err != nil {
		t.Fatal(err)
	}
	rs, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if err != nil || !rs.KeyRotationEnabled || aws.ToInt32(rs.RotationPeriodInDays) != 100 || rs.NextRotationDate == nil {
		t.Fatalf("rotation status %v %+v", err, rs)
	}
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId, RotationPeriodInDays: aws.Int32(10)})
	wantCode(t, err, "ValidationException")
}

func TestCrypto(t *testing.T) {
	_, c := newServer(t, kmslocal.Options{Region: "eu-central-1", Account: "444455556666"})
	k1, k2 := createKey(t, c), createKey(t, c)
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/k1"), TargetKeyId: k1.KeyId}); err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"purpose": "test", "bucket": "b"}

	gdk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/k1"), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec, GrantTokens: []string{"g"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gdk.Plaintext) != 32 || *gdk.KeyId != *k1.Arn || !strings.HasPrefix(*gdk.KeyId, "arn:aws:kms:eu-central-1:444455556666:key/") {
		t.Fatalf("GenerateDataKey %+v", gdk)
	}
	// Decrypt without KeyId, and with each form of the right KeyId.
	for _, ref := range []string{"", *k1.KeyId, *k1.Arn, "alias/k1"} {
		t.Run(fmt.Sprintf("ref=%q", ref), func(t *testing.T) {
			in := &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: map[string]string{"bucket": "b", "purpose": "test"}}
			if ref != "" {
				in.KeyId = aws.String(ref)
			}
			dec, err := c.Decrypt(ctx, in)
			if err != nil {
				t.Fatalf("%q: %v", ref, err)
			}
			if !bytes.Equal(dec.Plaintext, gdk.Plaintext) || *dec.KeyId != *k1.Arn || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
				t.Fatalf("Decrypt %+v", dec)
			}
		})
	}
	for _, bad := range []map[string]string{nil, {"purpose": "test"}, {"purpose": "test", "bucket": "c"}, {"purpose": "test", "bucket": "b", "x": ""}} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: bad})
			wantErr[*types.InvalidCiphertextException](t, err)
		})
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec, KeyId: k2.KeyId})
	wantErr[*types.IncorrectKeyException](t, err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String("missing")})
	wantErr[*types.NotFoundException](t, err)
	for i, garbled := range [][]byte{
		gdk.CiphertextBlob[:len(gdk.CiphertextBlob)-1],
		gdk.CiphertextBlob[:10],
		append([]byte{2}, gdk.CiphertextBlob[1:]...),
		flip(gdk.CiphertextBlob, len(gdk.CiphertextBlob)-20),
		flip(gdk.CiphertextBlob, 5),
		[]byte("not a ciphertext at all, really not"),
	} {
		t.Run(fmt.Sprint("garbled ", i), func(t *testing.T) {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: garbled, EncryptionContext: ec})
			wantErr[*types.InvalidCiphertextException](t, err)
		})
	}

	// NumberOfBytes and GenerateDataKeyWithoutPlaintext.
	gdk16, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k1.KeyId, NumberOfBytes: aws.Int32(7)})
	if err != nil || len(gdk16.Plaintext) != 7 {
		t.Fatalf("NumberOfBytes: %v", err)
	}
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k1.KeyId})
	wantCode(t, err, "ValidationException")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k1.KeyId, NumberOfBytes: aws.Int32(2000)})
	wantCode(t, err, "ValidationException")
	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: k2.Arn, KeySpec: types.DataKeySpecAes128, EncryptionContext: ec})
	if err != nil || *wp.KeyId != *k2.Arn {
		t.Fatalf("GenerateDataKeyWithoutPlaintext: %v", err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob, EncryptionContext: ec})
	if err != nil || len(dec.Plaintext) != 16 {
		t.Fatalf("decrypt without-plaintext key: %v", err)
	}

	// Encrypt / ReEncrypt.
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.Arn, Plaintext: []byte("hello"), EncryptionContext: ec})
	if err != nil || *enc.KeyId != *k1.Arn || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("Encrypt: %v %+v", err, enc)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.Arn, Plaintext: make([]byte, 4097)})
	wantCode(t, err, "ValidationException")
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.Arn, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantErr[*types.InvalidKeyUsageException](t, err)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.Arn, Plaintext: []byte("x"), DryRun: aws.Bool(true)})
	wantErr[*types.DryRunOperationException](t, err)
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec, SourceKeyId: aws.String("alias/k1"),
		DestinationKeyId: k2.KeyId, DestinationEncryptionContext: map[string]string{"new": "ctx"},
	})
	if err != nil || *re.KeyId != *k2.Arn || *re.SourceKeyId != *k1.Arn {
		t.Fatalf("ReEncrypt: %v %+v", err, re)
	}
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec, SourceKeyId: k2.KeyId, DestinationKeyId: k2.KeyId})
	wantErr[*types.IncorrectKeyException](t, err)
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: k2.KeyId})
	wantErr[*types.InvalidCiphertextException](t, err)
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"new": "ctx"}, KeyId: k2.KeyId})
	if err != nil || string(dec.Plaintext) != "hello" {
		t.Fatalf("decrypt re-encrypted: %v", err)
	}

	// Disabled keys refuse crypto, but can be described and re-enabled.
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String("alias/k1")}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k1.KeyId})
	if err != nil || d.KeyMetadata.Enabled || d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("describe disabled: %v %+v", err, d)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: k1.KeyId, Plaintext: []byte("x")})
	wantErr[*types.DisabledException](t, err)
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k1.KeyId, KeySpec: types.DataKeySpecAes256})
	wantErr[*types.DisabledException](t, err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec})
	wantErr[*types.DisabledException](t, err)
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: wp.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyId: k1.KeyId})
	wantErr[*types.DisabledException](t, err)
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k1.KeyId})
	wantErr[*types.DisabledException](t, err)
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: k1.Arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec}); err != nil {
		t.Fatal(err)
	}

	// Unknown keys.
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/missing"), Plaintext: []byte("x")})
	wantErr[*types.NotFoundException](t, err)
	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String("00000000-0000-0000-0000-000000000000")})
	wantErr[*types.NotFoundException](t, err)
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestUnsupportedAndMalformed(t *testing.T) {
	e := kmstest.Start(t, kmslocal.Options{})
	_, err := e.Client.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(8)})
	wantErr[*types.UnsupportedOperationException](t, err)

	post := func(target, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, e.Endpoint, strings.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	for _, tc := range []struct{ target, body, want string }{
		{"TrentService.Decrypt", "{", "SerializationException"},
		{"TrentService.Decrypt", `{"CiphertextBlob":"!!"}`, "SerializationException"},
		{"TrentService.Decrypt", `{}`, "ValidationException"},
		{"TrentService.Decrypt", `{"CiphertextBlob":"AQ=="}`, "InvalidCiphertextException"},
		{"TrentService.Encrypt", ``, "ValidationException"},
		{"TrentService.Nope", `{}`, "UnsupportedOperationException"},
		{"", `{}`, "UnsupportedOperationException"},
	} {
		t.Run(tc.target+" "+tc.body, func(t *testing.T) {
			code, m := post(tc.target, tc.body)
			if code != 400 || m["__type"] != tc.want {
				t.Errorf("%s %q: %d %v, want %s", tc.target, tc.body, code, m, tc.want)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	e := kmstest.Start(t, kmslocal.Options{})
	s, c := e.Server, e.Client
	k := createKey(t, c)
	c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("missing"), Plaintext: []byte("x")})
	c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(8)})
	want := map[string]int64{"CreateKey": 1, "Encrypt": 2, "_unknown": 1}
	if got := s.Counts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Counts = %v, want %v", got, want)
	}
	resp, err := http.Get(e.Endpoint + kmslocal.CountsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("GET counts = %v, %v", got, err)
	}
	s.ResetCounts()
	if got := s.Counts(); len(got) != 0 {
		t.Fatalf("after reset %v", got)
	}
}

func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, c1 := newServer(t, kmslocal.Options{DataDir: dir})
	k := createKey(t, c1)
	if _, err := c1.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/p"), TargetKeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	enc, err := c1.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/p"), Plaintext: []byte("persist"), EncryptionContext: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.DisableKey(ctx, &kms.DisableKeyInput{KeyId: k.KeyId}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "kmslocal-state.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	_ = s1

	_, c2 := newServer(t, kmslocal.Options{DataDir: dir})
	_, err = c2.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}})
	wantErr[*types.DisabledException](t, err)
	if _, err := c2.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String("alias/p")}); err != nil {
		t.Fatal(err)
	}
	dec, err := c2.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}})
	if err != nil || string(dec.Plaintext) != "persist" {
		t.Fatalf("decrypt after restart: %v", err)
	}
	rs, err := c2.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.Arn})
	if err != nil || !rs.KeyRotationEnabled {
		t.Fatalf("rotation after restart: %v %+v", err, rs)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir has leftovers: %v", entries)
	}
}

func writeSeed(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSeed(t *testing.T) {
	material := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	seed := writeSeed(t, map[string]any{
		"region": "us-west-2", "account": "123456789012",
		"keys": []map[string]any{
			{"id": "1234abcd-12ab-34cd-56ef-1234567890ab", "material": material, "aliases": []string{"alias/phicrypt-test"}, "enabled": true},
			{"id": "mrk-00112233445566778899aabbccddeeff", "material": material, "multiRegion": true, "enabled": false},
		},
	})
	s1, c1 := newServer(t, kmslocal.Options{SeedFile: seed})
	if s1.Region() != "us-west-2" || s1.Account() != "123456789012" {
		t.Fatalf("region/account %s %s", s1.Region(), s1.Account())
	}
	ec := map[string]string{"fixture": "1"}
	gdk, err := c1.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/phicrypt-test"), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if *gdk.KeyId != "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" {
		t.Fatalf("KeyId %s", *gdk.KeyId)
	}
	d, err := c1.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("mrk-00112233445566778899aabbccddeeff")})
	if err != nil || d.KeyMetadata.Enabled || !aws.ToBool(d.KeyMetadata.MultiRegion) {
		t.Fatalf("seeded mrk: %v %+v", err, d)
	}

	// A fresh instance from the same seed (no shared state) decrypts it.
	_, c2 := newServer(t, kmslocal.Options{SeedFile: seed, DataDir: t.TempDir()})
	dec, err := c2.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String("arn:aws:kms:us-west-2:123456789012:alias/phicrypt-test")})
	if err != nil || !bytes.Equal(dec.Plaintext, gdk.Plaintext) {
		t.Fatalf("decrypt with seeded key: %v", err)
	}

	// Options override the seed's region.
	s3, err := kmslocal.New(kmslocal.Options{SeedFile: seed, Region: "eu-west-1"})
	if err != nil || s3.Region() != "eu-west-1" || s3.Account() != "123456789012" {
		t.Fatalf("override: %v", err)
	}

	for name, bad := range map[string]any{
		"short material": map[string]any{"keys": []map[string]any{{"id": "k", "material": "AAAA"}}},
		"bad id":         map[string]any{"keys": []map[string]any{{"id": "a b", "material": material}}},
		"mrk flag":       map[string]any{"keys": []map[string]any{{"id": "k", "material": material, "multiRegion": true}}},
		"bad alias":      map[string]any{"keys": []map[string]any{{"id": "k", "material": material, "aliases": []string{"x"}}}},
		"unknown field":  map[string]any{"keys": []map[string]any{{"id": "k", "material": material, "colour": "red"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := kmslocal.New(kmslocal.Options{SeedFile: writeSeed(t, bad)}); err == nil {
				t.Errorf("%s: New succeeded", name)
			}
		})
	}
	if _, err := kmslocal.New(kmslocal.Options{SeedFile: filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Error("missing seed file accepted")
	}
}

// A seed key already persisted with different material is a conflict.
func TestSeedConflict(t *testing.T) {
	dir := t.TempDir()
	seedA := writeSeed(t, map[string]any{"keys": []map[string]any{{"id": "k1", "material": base64.StdEncoding.EncodeToString(make([]byte, 32))}}})
	if _, err := kmslocal.New(kmslocal.Options{SeedFile: seedA, DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := kmslocal.New(kmslocal.Options{SeedFile: seedA, DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	seedB := writeSeed(t, map[string]any{"keys": []map[string]any{{"id": "k1", "material": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))}}})
	if _, err := kmslocal.New(kmslocal.Options{SeedFile: seedB, DataDir: dir}); err == nil {
		t.Fatal("conflicting seed accepted")
	}
}

func TestCreateKeyHelper(t *testing.T) {
	s, c := newServer(t, kmslocal.Options{})
	k, err := s.CreateKey(ctx, kmslocal.KeyOptions{Material: bytes.Repeat([]byte{9}, 32), Aliases: []string{"alias/h"}, MultiRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.ID, "mrk-") || k.ARN != s.KeyARN(k.ID) || len(s.Keys()) != 1 {
		t.Fatalf("key %+v", k)
	}
	if _, err := s.CreateKey(ctx, kmslocal.KeyOptions{Aliases: []string{"alias/h"}}); !errors.Is(err, kmslocal.ErrAlreadyExists) {
		t.Fatalf("duplicate alias: %v", err)
	}
	if _, err := s.CreateKey(ctx, kmslocal.KeyOptions{Material: []byte("short")}); !errors.Is(err, kmslocal.ErrValidation) {
		t.Fatalf("short material: %v", err)
	}
	if len(s.Keys()) != 1 {
		t.Fatal("failed CreateKey left a key behind")
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/h")})
	if err != nil || *d.KeyMetadata.Arn != k.ARN {
		t.Fatalf("describe: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	s, c := newServer(t, kmslocal.Options{DataDir: dir})
	k := createKey(t, c)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ec := map[string]string{"i": fmt.Sprint(i)}
			for range 10 {
				gdk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: k.KeyId, NumberOfBytes: aws.Int32(32), EncryptionContext: ec})
				if err != nil {
					errs <- err
					return
				}
				dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec})
				if err != nil || !bytes.Equal(dec.Plaintext, gdk.Plaintext) {
					errs <- fmt.Errorf("decrypt: %v", err)
					return
				}
			}
			if i%4 == 0 {
				if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
					errs <- err
				}
				if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/c%d", i)), TargetKeyId: k.Arn}); err != nil {
					errs <- err
				}
				if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: k.Arn}); err != nil {
					errs <- err
				}
			}
			s.Counts()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.Counts(); got["GenerateDataKey"] != 160 || got["Decrypt"] != 160 || got["CreateKey"] != 5 {
		t.Fatalf("counts %v", got)
	}
	s2, err := kmslocal.New(kmslocal.Options{DataDir: dir})
	if err != nil || len(s2.Keys()) != 5 {
		t.Fatalf("reload: %v", err)
	}
}

// Requests with huge bodies are refused without reading them all.
func TestBodyLimit(t *testing.T) {
	e := kmstest.Start(t, kmslocal.Options{})
	req, _ := http.NewRequest(http.MethodPost, e.Endpoint, io.LimitReader(zeros{}, 2<<20))
	req.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
