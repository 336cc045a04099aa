package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// TestHostileFrameLengthObject: an object declaring 4 GiB frames, which a
// reader would buffer whole, is refused by Get and Open unless the limit
// is raised.
func TestHostileFrameLengthObject(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	pt := []byte("plaintext")
	ct, err := rawAESClient(t, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(math.MaxUint32)).Encrypt(ctx, pt, testContext)
	if err != nil {
		t.Fatal(err)
	}
	putRaw(t, api, "huge-frames", ct)
	c := newClient(t, api)
	if _, err := c.Get(ctx, getIn(testBucket, "huge-frames")); !errors.Is(err, envelope.ErrFrameTooLong) {
		t.Fatalf("Get: %v, want ErrFrameTooLong", err)
	}
	if _, err := c.Open(ctx, getIn(testBucket, "huge-frames")); !errors.Is(err, envelope.ErrFrameTooLong) {
		t.Fatalf("Open: %v, want ErrFrameTooLong", err)
	}
	raised := s3crypt.WithMaxFrameLength(math.MaxUint32)
	if got, _, err := getAll(t, c, testBucket, "huge-frames", raised); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Get, limit raised: %v", err)
	}
	ra, err := c.Open(ctx, getIn(testBucket, "huge-frames"), raised)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(pt)+1)
	if n, err := ra.ReadAt(got, 0); err != io.EOF || !bytes.Equal(got[:n], pt) {
		t.Fatalf("ReadAt, limit raised: %d bytes, %v", n, err)
	}
}
