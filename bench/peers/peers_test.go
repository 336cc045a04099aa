package peers

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"runtime"
	"testing"

	"filippo.io/age"
	mpl "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdk "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
	"github.com/minio/sio"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/streamingaead"

	"github.com/phicrypt/phicrypt/bench/internal/benchutil"
	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

const frame = 64 * benchutil.KiB

// A codec is one library set up with one key: enc writes the message of pt
// to w, dec writes the plaintext of the message ct to w.
type codec struct {
	enc func(ctx context.Context, w io.Writer, pt []byte) error
	dec func(ctx context.Context, w io.Writer, ct []byte) error
}

// A peer names a library configuration and sets up a codec under a fresh
// key.
type peer struct {
	name string
	new  func(tb testing.TB) codec
}

func peers() []peer {
	ps := []peer{
		{"phicrypt-stream-0478-w1", phicryptStream(1)},
	}
	if n := runtime.NumCPU(); n > 1 {
		ps = append(ps, peer{fmt.Sprintf("phicrypt-stream-0478-w%d", n), phicryptStream(n)})
	}
	return append(ps,
		peer{"phicrypt-oneshot-0578", phicryptOneShot},
		peer{"esdk-go-0478", officialESDK(0x0478)},
		peer{"esdk-go-0578", officialESDK(0x0578)},
		peer{"sio-dare2", sioDARE},
		peer{"age-x25519", ageX25519},
		peer{"tink-gcmhkdf-1mb", tinkStreaming},
	)
}

func benchContext() map[string]string {
	return map[string]string{"tenant": "clinic-7", "purpose": "bench"}
}

func phicryptClient(tb testing.TB, opts ...envelope.ClientOption) *envelope.Client {
	kr, err := keyring.NewRawAES("bench", "key-1", benchutil.Key(tb))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := envelope.New(kr, append([]envelope.ClientOption{envelope.WithFrameLength(frame)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func phicryptOneShot(tb testing.TB) codec {
	c := phicryptClient(tb)
	return oneShot(
		func(ctx context.Context, pt []byte) ([]byte, error) { return c.Encrypt(ctx, pt, benchContext()) },
		func(ctx context.Context, ct []byte) ([]byte, error) {
			pt, _, err := c.Decrypt(ctx, ct)
			return pt, err
		})
}

// oneShot makes a codec of one-shot encrypt and decrypt functions.
func oneShot(enc, dec func(ctx context.Context, in []byte) ([]byte, error)) codec {
	via := func(f func(context.Context, []byte) ([]byte, error)) func(context.Context, io.Writer, []byte) error {
		return func(ctx context.Context, w io.Writer, in []byte) error {
			out, err := f(ctx, in)
			if err != nil {
				return err
			}
			_, err = w.Write(out)
			return err
		}
	}
	return codec{enc: via(enc), dec: via(dec)}
}

func officialESDK(suite uint16) func(testing.TB) codec {
	return func(tb testing.TB) codec {
		ctx := context.Background()
		client, err := esdk.NewClient(esdktypes.AwsEncryptionSdkConfig{})
		if err != nil {
			tb.Fatal(err)
		}
		mp, err := mpl.NewClient(mpltypes.MaterialProvidersConfig{})
		if err != nil {
			tb.Fatal(err)
		}
		kr, err := mp.CreateRawAesKeyring(ctx, mpltypes.CreateRawAesKeyringInput{
			KeyName:      "key-1",
			KeyNamespace: "bench",
			WrappingKey:  benchutil.Key(tb),
			WrappingAlg:  mpltypes.AesWrappingAlgAlgAes256GcmIv12Tag16,
		})
		if err != nil {
			tb.Fatal(err)
		}
		var id mpltypes.ESDKAlgorithmSuiteId
		for _, v := range id.Values() {
			if string(v) == fmt.Sprintf("0x%04X", suite) {
				id = v
			}
		}
		if id == "" {
			tb.Fatalf("official ESDK: no suite 0x%04X", suite)
		}
		fl := int64(frame)
		return oneShot(
			func(ctx context.Context, pt []byte) ([]byte, error) {
				out, err := client.Encrypt(ctx, esdktypes.EncryptInput{
					Plaintext: pt, EncryptionContext: benchContext(), Keyring: kr,
					AlgorithmSuiteId: &id, FrameLength: &fl,
				})
				if err != nil {
					return nil, err
				}
				return out.Ciphertext, nil
			},
			func(ctx context.Context, ct []byte) ([]byte, error) {
				out, err := client.Decrypt(ctx, esdktypes.DecryptInput{Ciphertext: ct, Keyring: kr})
				if err != nil {
					return nil, err
				}
				return out.Plaintext, nil
			})
	}
}

// streaming makes a codec of a library's streaming writer and reader.
func streaming(
	newW func(ctx context.Context, w io.Writer) (io.WriteCloser, error),
	newR func(ctx context.Context, r io.Reader) (io.Reader, error),
) codec {
	return codec{
		enc: func(ctx context.Context, w io.Writer, pt []byte) error {
			ew, err := newW(ctx, w)
			if err != nil {
				return err
			}
			return benchutil.CopyClose(ew, pt)
		},
		dec: func(ctx context.Context, w io.Writer, ct []byte) error {
			r, err := newR(ctx, bytes.NewReader(ct))
			if err != nil {
				return err
			}
			_, err = io.Copy(w, r)
			return err
		},
	}
}

func phicryptStream(workers int) func(testing.TB) codec {
	return func(tb testing.TB) codec {
		c := phicryptClient(tb, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameWorkers(workers))
		return streaming(
			func(ctx context.Context, w io.Writer) (io.WriteCloser, error) {
				return c.NewEncryptWriter(ctx, w, benchContext())
			},
			func(ctx context.Context, r io.Reader) (io.Reader, error) { return c.NewDecryptReader(ctx, r) })
	}
}

func sioDARE(tb testing.TB) codec {
	cfg := sio.Config{
		MinVersion:   sio.Version20,
		MaxVersion:   sio.Version20,
		CipherSuites: []byte{sio.AES_256_GCM},
		Key:          benchutil.Key(tb),
	}
	return streaming(
		func(_ context.Context, w io.Writer) (io.WriteCloser, error) { return sio.EncryptWriter(w, cfg) },
		func(_ context.Context, r io.Reader) (io.Reader, error) { return sio.DecryptReader(r, cfg) })
}

func ageX25519(tb testing.TB) codec {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		tb.Fatal(err)
	}
	return streaming(
		func(_ context.Context, w io.Writer) (io.WriteCloser, error) { return age.Encrypt(w, id.Recipient()) },
		func(_ context.Context, r io.Reader) (io.Reader, error) { return age.Decrypt(r, id) })
}

func tinkStreaming(tb testing.TB) codec {
	kh, err := keyset.NewHandle(streamingaead.AES256GCMHKDF1MBKeyTemplate())
	if err != nil {
		tb.Fatal(err)
	}
	a, err := streamingaead.New(kh)
	if err != nil {
		tb.Fatal(err)
	}
	aad := []byte("tenant=clinic-7")
	return streaming(
		func(_ context.Context, w io.Writer) (io.WriteCloser, error) { return a.NewEncryptingWriter(w, aad) },
		func(_ context.Context, r io.Reader) (io.Reader, error) { return a.NewDecryptingReader(r, aad) })
}

func sizes() []int64 { return []int64{benchutil.KiB, benchutil.MiB, 64 * benchutil.MiB} }

// BenchmarkRawGCM is the baseline, the same code as package bench's.
func BenchmarkRawGCM(b *testing.B) {
	benchutil.RawGCM(b, []int{frame}, sizes()...)
}

func BenchmarkPeers(b *testing.B) {
	for _, p := range peers() {
		b.Run(p.name, func(b *testing.B) {
			c := p.new(b)
			b.Run("encrypt", func(b *testing.B) {
				benchutil.EachSize(b, sizes(), func(b *testing.B, pt []byte) {
					var sink benchutil.Sink
					benchutil.SetBytes(b, len(pt))
					for b.Loop() {
						if err := c.enc(b.Context(), &sink, pt); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			b.Run("decrypt", func(b *testing.B) {
				benchutil.EachSize(b, sizes(), func(b *testing.B, pt []byte) {
					var ct bytes.Buffer
					if err := c.enc(b.Context(), &ct, pt); err != nil {
						b.Fatal(err)
					}
					var sink benchutil.Sink
					benchutil.SetBytes(b, len(pt))
					for b.Loop() {
						if err := c.dec(b.Context(), &sink, ct.Bytes()); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		})
	}
}

// TestPeersRoundTrip checks that every codec decrypts what it encrypted and
// rejects a flipped bit, so the benchmarks measure real work.
func TestPeersRoundTrip(t *testing.T) {
	pt := make([]byte, 200*benchutil.KiB+7)
	if _, err := rand.Read(pt); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers() {
		t.Run(p.name, func(t *testing.T) {
			c := p.new(t)
			var ct, out bytes.Buffer
			if err := c.enc(t.Context(), &ct, pt); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(ct.Bytes(), pt[:64]) {
				t.Fatal("ciphertext contains plaintext")
			}
			if err := c.dec(t.Context(), &out, ct.Bytes()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), pt) {
				t.Fatalf("decrypted %d bytes, not the %d encrypted", out.Len(), len(pt))
			}
			bad := bytes.Clone(ct.Bytes())
			bad[len(bad)/2] ^= 1
			out.Reset()
			if err := c.dec(t.Context(), &out, bad); err == nil {
				t.Fatal("a flipped bit decrypted")
			}
		})
	}
}
