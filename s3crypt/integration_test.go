package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// TestIntegrationVersitygw runs Put, Get, Head and Open against the real
// S3 server scripts/test.sh starts (versitygw over TLS).
func TestIntegrationVersitygw(t *testing.T) {
	api, bucket := realS3(t)
	ctx := context.Background()
	c, err := s3crypt.New(api, rawAESClient(t))
	if err != nil {
		t.Fatal(err)
	}
	unsigned := s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
	big := randomBytes(64*MiB, 64)
	for _, tc := range []struct {
		size    int
		unknown bool
		opts    []s3crypt.PutOption
	}{
		{size: 0},
		{size: 1},
		{size: 1, unknown: true},
		{size: 5*MiB - 1},
		{size: 5 * MiB, opts: []s3crypt.PutOption{unsigned}},
		{size: 5*MiB + 1, opts: []s3crypt.PutOption{s3crypt.WithPartSize(5 * MiB)}},
		{size: 64 * MiB, opts: []s3crypt.PutOption{unsigned}},
		{size: 64*MiB - 3, unknown: true},
	} {
		key := fmt.Sprintf("obj-%d-unknown%v", tc.size, tc.unknown)
		t.Run(key, func(t *testing.T) {
			data := big[:tc.size]
			var r io.Reader = bytes.NewReader(data)
			size := int64(tc.size)
			if tc.unknown {
				r, size = onlyReader{r}, -1
			}
			res, err := c.Put(ctx, putIn(bucket, key, r, size), testContext, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := getAll(t, c, bucket, key)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get: %d bytes, %v; want the %d put", len(got), err, len(data))
			}
			obj, err := c.Head(ctx, headIn(bucket, key))
			if err != nil {
				t.Fatal(err)
			}
			if obj.Size != res.Size || obj.PlaintextLength != size && !tc.unknown || obj.Header.EncryptionContext["tenant"] != "clinic-7" {
				t.Errorf("Head: %+v", obj)
			}
			checkMetadata(t, obj, res.Header.Suite, tc.unknown, tc.size)
		})
	}

	t.Run("ranged reads", func(t *testing.T) {
		ra, err := c.Open(ctx, getIn(bucket, fmt.Sprintf("obj-%d-unknownfalse", 64*MiB)), s3crypt.WithExpectedContext(testContext))
		if err != nil {
			t.Fatal(err)
		}
		for _, rg := range [][2]int64{{0, 1}, {65535, 2}, {10 * MiB, 9 * MiB}, {64*MiB - 100, 100}, {64*MiB - 7, 50}} {
			p := make([]byte, rg[1])
			n, err := ra.ReadAt(p, rg[0])
			want := min(rg[1], 64*MiB-rg[0])
			if int64(n) != want || (err != nil && err != io.EOF) || !bytes.Equal(p[:n], big[rg[0]:rg[0]+want]) {
				t.Errorf("ReadAt(%d, %d) = %d, %v", rg[1], rg[0], n, err)
			}
		}
	})

	t.Run("failure after 20 MiB leaves nothing", func(t *testing.T) {
		_, err := c.Put(ctx, putIn(bucket, "failed", &failingReader{data: big, n: 20 * MiB}, -1), testContext)
		if !errors.Is(err, errInjected) {
			t.Fatalf("Put: %v, want the reader's error", err)
		}
		assertNoUpload(t, api, bucket, "failed")
	})

	t.Run("cancel mid-upload leaves nothing", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		_, err := c.Put(cctx, putIn(bucket, "cancelled", bytes.NewReader(big), int64(len(big))), testContext,
			s3crypt.WithProgress(func(done, _ int64) {
				if done >= 24*MiB {
					cancel()
				}
			}))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put: %v, want context.Canceled", err)
		}
		assertNoUpload(t, api, bucket, "cancelled")
	})

	t.Run("KMS keyring", func(t *testing.T) {
		kc := kmstest.New(t).Client // the kmslocal process of $PHICRYPT_KMS_ENDPOINT, or one in this process
		key, err := kc.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("s3crypt integration")})
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(key.KeyMetadata.Arn)
		kr, err := kms.New(kc, arn)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := envelope.New(kr)
		if err != nil {
			t.Fatal(err)
		}
		kcl, err := s3crypt.New(api, enc)
		if err != nil {
			t.Fatal(err)
		}
		data := big[:9*MiB+5]
		if _, err := kcl.Put(ctx, putIn(bucket, "kms", bytes.NewReader(data), int64(len(data))), testContext); err != nil {
			t.Fatal(err)
		}
		obj, err := kcl.Head(ctx, headIn(bucket, "kms"))
		if err != nil {
			t.Fatal(err)
		}
		if len(obj.Header.EncryptedDataKeys) != 1 || string(obj.Header.EncryptedDataKeys[0].ProviderInfo) != arn {
			t.Errorf("Head: data keys %+v, want one under %s", obj.Header.EncryptedDataKeys, arn)
		}
		got, _, err := getAll(t, kcl, bucket, "kms", s3crypt.WithExpectedContext(map[string]string{"tenant": "clinic-7"}))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get: %d bytes, %v", len(got), err)
		}
		if _, _, err := getAll(t, kcl, bucket, "kms", s3crypt.WithExpectedContext(map[string]string{"tenant": "clinic-8"})); !errors.Is(err, envelope.ErrContextMismatch) {
			t.Errorf("Get under another tenant: %v, want ErrContextMismatch", err)
		}
	})
}
