// Package testkit holds the test keyrings and keyring wrappers that the
// tests of several packages share, and a count of stream pipelines' goroutines. Only tests import it; its keys are
// fixed or generated for tests and protect nothing.
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// Namespace is the raw keyrings' key namespace.
const Namespace = "phicrypt-test"

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// WrappingKey returns a fixed AES-256 wrapping key of 32 bytes b.
func WrappingKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// RSAKey returns a 2048-bit key generated once per test binary:
// generation is the slowest step of a suite.
var RSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// AESKeyring returns the raw AES keyring Namespace/"aes-256" of
// WrappingKey(0x42).
func AESKeyring(t TB) *keyring.RawAES {
	t.Helper()
	kr, err := keyring.NewRawAES(Namespace, "aes-256", WrappingKey(0x42))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// RSAKeyring returns the raw RSA keyring Namespace/"rsa-2048-PADDING" of
// RSAKey, able to decrypt.
func RSAKeyring(t TB, padding keyring.RSAPadding) *keyring.RawRSA {
	t.Helper()
	priv, err := RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.NewRawRSA(Namespace, "rsa-2048-"+padding.String(), padding, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// CountingKeyring counts the OnDecrypt calls that reach its Keyring.
type CountingKeyring struct {
	envelope.Keyring
	Calls atomic.Int64
}

// OnDecrypt counts the call and passes it on.
func (k *CountingKeyring) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	k.Calls.Add(1)
	return k.Keyring.OnDecrypt(ctx, m, edks)
}

// EDKHeader returns the bytes of a version 2, suite 0x0478 message header
// whose n data keys are wrapped, by name, by the raw keys "phicrypt"/name(i)
// (names are public in every header: making one needs no key), with a zero
// commitment and tag and nothing after it.
func EDKHeader(n int, name func(i int) string) []byte {
	b := []byte{2, 0x04, 0x78}
	b = append(b, make([]byte, 32)...) // message ID
	b = append(b, 0, 0)                // empty context
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for i := range n {
		b = append(b, 0, 8)
		b = append(b, "phicrypt"...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(name(i))))
		b = append(b, name(i)...)
		b = append(b, 0, 1, 9)
	}
	b = append(b, 2, 0, 0, 16, 0)            // framed, 4096-byte frames
	return append(b, make([]byte, 32+16)...) // commit key, auth tag
}

// Pipelines counts the goroutines of stream pipelines (a Writer's or
// Reader's workers) alive now.
func Pipelines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "created by github.com/phicrypt/phicrypt/stream.(*pool).submit")
}

// SettlePipelines waits (up to ~0.5 s) until no pipeline goroutine is
// left: those of streams closed or abandoned earlier end soon after, or
// when collected, and none must end while a test counts them.
func SettlePipelines() {
	for i := 0; i < 100 && Pipelines() > 0; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// HeaderFlood returns a raw HTTP/1.1 200 answer with headers (each line
// ending "\r\n") first, then n headers of 64 KiB each, then an empty body
// of Content-Length 0 unless body is set: an endpoint whose headers alone
// are n × 64 KiB.
func HeaderFlood(headers string, n int, body string) []byte {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\n" + headers)
	for i := range n {
		fmt.Fprintf(&b, "X-Amz-Meta-Pad-%d: %s\r\n", i, strings.Repeat("x", 64<<10))
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// ServeRaw is an HTTP handler that writes answer as is on the request's
// connection and closes it, allocating nothing per request.
func ServeRaw(answer []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write(answer)
	})
}
