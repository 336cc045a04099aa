package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// TestErrorsNameS3crypt: Get, Open and Head fail on damaged, foreign and
// missing objects with errors that read as this package's, "s3crypt: "
// once and no lower layer's prefix, and that keep their sentinels.
func TestErrorsNameS3crypt(t *testing.T) {
	ctx := context.Background()
	api := fakeS3(t)
	enc := rawAESClient(t, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(64))
	c, err := s3crypt.New(api, enc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, putIn(testBucket, "good", bytes.NewReader(randomBytes(1000, 1)), 1000), nil); err != nil {
		t.Fatal(err)
	}
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("good")})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, b []byte) {
		if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := envelope.ParseHeader(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Clone(msg)
	body[h.Len()+40] ^= 1 // in the first frame's ciphertext
	put("body", body)
	header := bytes.Clone(msg)
	header[h.Len()-1] ^= 1 // the header auth tag
	put("header", header)
	put("plain", []byte("plain text, not a message"))

	for _, tc := range []struct {
		key  string
		want error
	}{
		{"body", envelope.ErrAuthentication},
		{"header", envelope.ErrAuthentication},
		{"plain", s3crypt.ErrNotEncrypted},
		{"missing", s3crypt.ErrNotFound},
	} {
		t.Run(tc.key, func(t *testing.T) {
			errs := map[string]error{"Get": readWhole(c, tc.key), "Open": openWhole(c, tc.key)}
			if tc.key != "body" && tc.key != "header" {
				_, errs["Head"] = c.Head(ctx, headIn(testBucket, tc.key))
			}
			for what, err := range errs {
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: %v, want %v", what, err, tc.want)
				}
				s := err.Error()
				if !strings.HasPrefix(s, "s3crypt: ") || strings.Count(s, "s3crypt: ") != 1 ||
					strings.Contains(s, "envelope: ") || strings.Contains(s, "stream: ") {
					t.Errorf("%s: %q does not read as s3crypt's", what, s)
				}
			}
		})
	}
}

// readWhole reads key whole through Get and returns the first error.
func readWhole(c *s3crypt.Client, key string) error {
	r, err := c.Get(context.Background(), getIn(testBucket, key))
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	return err
}

// openWhole reads key whole through Open and ReadAt and returns the first
// error.
func openWhole(c *s3crypt.Client, key string) error {
	r, err := c.Open(context.Background(), getIn(testBucket, key))
	if err != nil {
		return err
	}
	if _, err = r.ReadAt(make([]byte, r.Size()), 0); err == io.EOF {
		err = nil
	}
	return err
}
