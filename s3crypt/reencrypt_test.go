package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// newKeyClient returns a Client over api whose raw AES wrapping key is not
// rawAESClient's: the "new key" of the re-encryption tests.
func newKeyClient(t *testing.T, api s3crypt.API, opts ...s3crypt.ClientOption) *s3crypt.Client {
	t.Helper()
	kr, err := keyring.NewRawAES("phicrypt-test", "wrapping-key-2", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s3crypt.New(api, enc, append([]s3crypt.ClientOption{s3crypt.WithPartSize(5 * MiB)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReencryptObject(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	from := newClient(t, api)
	to := newKeyClient(t, api, s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit)))
	data := randomBytes(6*MiB+123, 21) // two parts
	in := putIn(testBucket, "src", bytes.NewReader(data), -1)
	in.ContentType, in.Metadata = aws.String("text/csv"), map[string]string{"owner": "ward-3"}
	if _, err := from.Put(ctx, in, testContext); err != nil {
		t.Fatal(err)
	}
	res, err := from.Reencrypt(ctx, getIn(testBucket, "src"), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("rotated")}, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Put.Parts < 2 || res.Put.PlaintextLength != int64(len(data)) || res.Source.Header.Suite != envelope.AES256GCMHKDFSHA512CommitP384 ||
		res.Put.Header.Suite != envelope.AES256GCMHKDFSHA512Commit || !maps.Equal(res.Context, testContext) {
		t.Errorf("%d parts, %d bytes, suite %s to %s, context %v", res.Put.Parts, res.Put.PlaintextLength, res.Source.Header.Suite, res.Put.Header.Suite, res.Context)
	}
	got, r, err := getAll(t, to, testBucket, "rotated")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get of the new object: %v", err)
	}
	if !maps.Equal(r.Header().EncryptionContext, testContext) {
		t.Errorf("new context %v, want %v", r.Header().EncryptionContext, testContext)
	}
	if _, _, err := getAll(t, from, testBucket, "rotated"); !errors.Is(err, envelope.ErrNoDecryptionKey) {
		t.Errorf("old key on the new object: %v, want ErrNoDecryptionKey", err)
	}
	head, err := api.HeadObject(ctx, headIn(testBucket, "rotated"))
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ContentType) != "text/csv" || head.Metadata["owner"] != "ward-3" || head.Metadata[s3crypt.MetaSuite] != "0x0478" {
		t.Errorf("content type %q, metadata %v", aws.ToString(head.ContentType), head.Metadata)
	}
}

// TestReencryptHostileTamperedSource: a changed, truncated or extended
// source object must fail Reencrypt with its typed error, abort the
// multipart upload already under way, and leave nothing at dst.
func TestReencryptHostileTamperedSource(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	from := newClient(t, api)
	data := randomBytes(6*MiB, 22) // more than a part: part 1 is uploaded before the source fails
	for _, tc := range []struct {
		name  string
		suite envelope.SuiteID
		edit  func([]byte) []byte
		want  error
	}{
		{"0x0478 last frame", envelope.AES256GCMHKDFSHA512Commit, func(b []byte) []byte { b[len(b)-100] ^= 1; return b }, envelope.ErrAuthentication},
		{"0x0578 signature", envelope.AES256GCMHKDFSHA512CommitP384, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, envelope.ErrSignature},
		{"0x0578 truncated", envelope.AES256GCMHKDFSHA512CommitP384, func(b []byte) []byte { return b[:len(b)-1] }, envelope.ErrTruncated},
		{"0x0578 trailing byte", envelope.AES256GCMHKDFSHA512CommitP384, func(b []byte) []byte { return append(b, 0) }, envelope.ErrTrailingData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := "tampered-src/"+tc.name, "tampered-dst/"+tc.name
			if _, err := from.Put(ctx, putIn(testBucket, src, bytes.NewReader(data), int64(len(data))), testContext,
				s3crypt.WithEncryptOptions(envelope.WithSuite(tc.suite))); err != nil {
				t.Fatal(err)
			}
			putRaw(t, api, src, tc.edit(getRaw(t, api, src)))
			counts := &countingAPI{API: api}
			// One frame worker: few frames in flight, so that part 1 is
			// uploaded whatever the CPU count.
			to := newKeyClient(t, counts, s3crypt.WithEncryptOptions(envelope.WithFrameWorkers(1)))
			_, err := from.Reencrypt(ctx, getIn(testBucket, src), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(dst)}, to, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Reencrypt: %v, want %v", err, tc.want)
			}
			counts.mu.Lock()
			parts := len(counts.partSizes)
			counts.mu.Unlock()
			if parts == 0 || counts.aborts.Load() != 1 {
				t.Errorf("%d parts uploaded, %d aborts; want parts and 1 abort", parts, counts.aborts.Load())
			}
			assertNoUpload(t, api, testBucket, dst)
		})
	}
}

// TestReencryptInPlace: on a versioned bucket, dst naming the source adds
// a version under the new key; the old version stays, under the old key.
func TestReencryptInPlace(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	if _, err := api.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(testBucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	from, to := newClient(t, api), newKeyClient(t, api)
	data := randomBytes(MiB, 23)
	old, err := from.Put(ctx, putIn(testBucket, "in-place", bytes.NewReader(data), -1), testContext)
	if err != nil {
		t.Fatal(err)
	}
	res, err := from.Reencrypt(ctx, getIn(testBucket, "in-place"), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("in-place")}, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if old.VersionID == "" || res.Source.VersionID != old.VersionID || res.Put.VersionID == old.VersionID {
		t.Fatalf("versions: put %q, source %q, new %q", old.VersionID, res.Source.VersionID, res.Put.VersionID)
	}
	if got, _, err := getAll(t, to, testBucket, "in-place"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("new version: %v", err)
	}
	in := getIn(testBucket, "in-place")
	in.VersionId = aws.String(old.VersionID)
	r, err := from.Get(ctx, in)
	if err != nil {
		t.Fatalf("old version: %v", err)
	}
	r.Close()
}

func TestReencryptRefusesInput(t *testing.T) {
	api := fakeS3(t)
	from := newClient(t, api)
	dst := &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("x")}
	withBody := *dst
	withBody.Body = bytes.NewReader(nil)
	for name, call := range map[string]func() error{
		"nil destination client": func() error {
			_, err := from.Reencrypt(context.Background(), getIn(testBucket, "x"), dst, nil, nil)
			return err
		},
		"body set": func() error {
			_, err := from.Reencrypt(context.Background(), getIn(testBucket, "x"), &withBody, from, nil)
			return err
		},
		"nil input": func() error {
			_, err := from.Reencrypt(context.Background(), getIn(testBucket, "x"), nil, from, nil)
			return err
		},
	} {
		if err := call(); !errors.Is(err, envelope.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}
