package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

func TestDecryptReaderAt(t *testing.T) {
	kr, err := keyring.NewRawAES("ns", "k", bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := envelope.New(kr, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(1000))
	pt := make([]byte, 25_500)
	for i := range pt {
		pt[i] = byte(i / 7)
	}
	ec := map[string]string{"k": "v"}
	ct, err := c.Encrypt(context.Background(), pt, ec)
	if err != nil {
		t.Fatal(err)
	}
	ra, err := c.NewDecryptReaderAt(context.Background(), bytes.NewReader(ct), int64(len(ct)), envelope.WithExpectedContext(ec))
	if err != nil {
		t.Fatal(err)
	}
	if ra.Size() != int64(len(pt)) {
		t.Fatalf("Size %d, want %d", ra.Size(), len(pt))
	}
	for _, rg := range [][2]int{{0, 10}, {999, 1001}, {12_345, 20_000}, {25_000, 25_500}} {
		p := make([]byte, rg[1]-rg[0])
		if _, err := ra.ReadAt(p, int64(rg[0])); err != nil || !bytes.Equal(p, pt[rg[0]:rg[1]]) {
			t.Fatalf("range %v: %v", rg, err)
		}
	}
	signed, _ := envelope.New(kr)
	sct, _ := signed.Encrypt(context.Background(), pt, ec)
	if _, err := signed.NewDecryptReaderAt(context.Background(), bytes.NewReader(sct), int64(len(sct))); !errors.Is(err, envelope.ErrSignedMessage) {
		t.Fatalf("signed message: %v, want ErrSignedMessage", err)
	}
}
