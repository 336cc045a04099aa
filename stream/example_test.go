package stream_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/phicrypt/phicrypt/stream"
)

// exampleConfig returns the Config of one message body: AES-GCM under the
// message key and the header's message ID. Package envelope derives both
// from the data key and header; this package only frames the body.
func exampleConfig(frameLen int) stream.Config {
	key, id := make([]byte, 32), make([]byte, 32)
	rand.Read(key)
	rand.Read(id)
	block, err := aes.NewCipher(key)
	if err != nil {
		log.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		log.Fatal(err)
	}
	return stream.Config{AEAD: aead, MessageID: id, FrameLength: frameLen}
}

// Seal a body in frames of 16 bytes and open it. Each frame adds 32 bytes
// (sequence number, IV and tag; the final frame 8 more), and a flipped bit
// anywhere fails the whole body with ErrAuthentication and no plaintext.
func ExampleSeal() {
	cfg := exampleConfig(16)
	plaintext := []byte("forty bytes of plaintext, in 3 frames...")

	body, err := stream.Seal(nil, plaintext, cfg)
	if err != nil {
		log.Fatal(err)
	}
	n, _ := stream.SealedLength(int64(len(plaintext)), cfg.FrameLength)
	fmt.Println(len(plaintext), len(body), n)

	pt, bodyLen, err := stream.Open(nil, body, cfg)
	fmt.Printf("%s %d %v\n", pt, bodyLen, err)

	body[40] ^= 1
	pt, _, err = stream.Open(nil, body, cfg)
	fmt.Println(len(pt), errors.Is(err, stream.ErrAuthentication))
	// Output:
	// 40 144 144
	// forty bytes of plaintext, in 3 frames... 144 <nil>
	// 0 true
}

// Which bytes of a stored body hold plaintext [100000, 100010)? With 4 KiB
// frames, only frame 25 (plaintext 98304 to 102400) is needed: 4,128 bytes
// fetched and authenticated instead of the whole body.
func ExampleSealedRange() {
	const frameLen = 4096
	bodyLen, err := stream.SealedLength(1_000_000, frameLen)
	if err != nil {
		log.Fatal(err)
	}
	lo, hi, err := stream.SealedRange(100_000, 100_010, bodyLen, frameLen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(bodyLen, lo, hi, hi-lo)
	// Output: 1007848 99072 103200 4128
}
