package kms_test

// A KMS that lies: its answers rewritten (hookClient), held (gateClient)
// or served by an httptest server. Each test failed before its fix (found
// by probing).

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/keycache"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// hookClient passes calls to next and lets a test rewrite the answers.
type hookClient struct {
	next kms.Client
	gdk  func(*awskms.GenerateDataKeyOutput)
	enc  func(in *awskms.EncryptInput, out *awskms.EncryptOutput)
	dec  func(in *awskms.DecryptInput, out *awskms.DecryptOutput)
	n    atomic.Int64 // calls
}

func (h *hookClient) GenerateDataKey(ctx context.Context, in *awskms.GenerateDataKeyInput, o ...func(*awskms.Options)) (*awskms.GenerateDataKeyOutput, error) {
	h.n.Add(1)
	out, err := h.next.GenerateDataKey(ctx, in, o...)
	if err == nil && h.gdk != nil {
		h.gdk(out)
	}
	return out, err
}

func (h *hookClient) Encrypt(ctx context.Context, in *awskms.EncryptInput, o ...func(*awskms.Options)) (*awskms.EncryptOutput, error) {
	h.n.Add(1)
	out, err := h.next.Encrypt(ctx, in, o...)
	if err == nil && h.enc != nil {
		h.enc(in, out)
	}
	return out, err
}

func (h *hookClient) Decrypt(ctx context.Context, in *awskms.DecryptInput, o ...func(*awskms.Options)) (*awskms.DecryptOutput, error) {
	h.n.Add(1)
	out, err := h.next.Decrypt(ctx, in, o...)
	if err == nil && h.dec != nil {
		h.dec(in, out)
	}
	return out, err
}

// newGuardedClient is a client as the package tells users to build one.
func newGuardedClient(t *testing.T, url string) *awskms.Client {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDPROBE", "probe-secret-key", "")}
	c, err := kms.NewClient(ctx, cfg, url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const probeARN = "arn:aws:kms:us-east-1:111122223333:key/k"

// TestHugeResponse (was unbounded memory): a KMS answers GenerateDataKey with a 64 MiB
// CiphertextBlob (real blobs are under 200 bytes; the keyring refuses any
// over 65535). The client NewClient builds reads and decodes the whole
// body first: about 400 MiB allocated for one answer, and proportionally
// more for a bigger or endless body, against the README's "a KMS response
// body ... costs bounded memory".
func TestHugeResponse(t *testing.T) {
	blob := base64.StdEncoding.EncodeToString(make([]byte, 64<<20))
	body := []byte(`{"CiphertextBlob":"` + blob + `","KeyId":"` + probeARN + `","Plaintext":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write(body)
	}))
	defer srv.Close()
	alloc, err := encryptOnce(t, srv.URL)
	t.Logf("allocated %d MiB; err %.200v", alloc>>20, err)
	if !errors.Is(err, kms.ErrResponseTooLarge) {
		t.Fatalf("%.300v, want ErrResponseTooLarge", err)
	}
	if alloc > 16<<20 {
		t.Fatalf("one KMS answer made the client allocate %d MiB", alloc>>20)
	}
}

// TestHugeResponseHeaders: a KMS answers with 8 MiB of headers (net/http's
// own limit is 10 MiB: they were read and held, each try) before any body;
// NewClient's client refuses them past MaxResponseHeaderBytes.
func TestHugeResponseHeaders(t *testing.T) {
	srv := httptest.NewServer(testkit.ServeRaw(testkit.HeaderFlood("Content-Type: application/x-amz-json-1.1\r\n", 128, "{}")))
	defer srv.Close()
	alloc, err := encryptOnce(t, srv.URL)
	t.Logf("allocated %d KiB; err %.200v", alloc>>10, err)
	if err == nil {
		t.Fatal("an answer with 8 MiB of headers was taken")
	}
	if alloc > 4<<20 { // 3 tries
		t.Fatalf("one KMS answer's headers made the client allocate %d MiB", alloc>>20)
	}
}

// encryptOnce runs one OnEncrypt of a keyring whose KMS is at url, with
// NewClient's client, and returns the bytes it allocated and its error.
func encryptOnce(t *testing.T, url string) (uint64, error) {
	kr := strict(t, newGuardedClient(t, url), probeARN)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := kr.OnEncrypt(ctx, &envelope.EncryptionMaterials{Suite: envelope.AES256GCMHKDFSHA512Commit})
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// gateClient holds every Decrypt/GenerateDataKey until gate is closed
// (a slow KMS) or the caller's context is done; entered signals a caller arrived.
type gateClient struct {
	kms.Client
	gate    chan struct{}
	entered chan struct{}
}

func (g *gateClient) wait(ctx context.Context) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gateClient) Decrypt(ctx context.Context, in *awskms.DecryptInput, o ...func(*awskms.Options)) (*awskms.DecryptOutput, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.Client.Decrypt(ctx, in, o...)
}

func (g *gateClient) GenerateDataKey(ctx context.Context, in *awskms.GenerateDataKeyInput, o ...func(*awskms.Options)) (*awskms.GenerateDataKeyOutput, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.Client.GenerateDataKey(ctx, in, o...)
}

func cachedClient(t *testing.T, kr envelope.Keyring) *envelope.Client {
	t.Helper()
	cache, err := keycache.NewCache(10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := keycache.NewWithKeyring(kr, cache, keycache.Options{MaxAge: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.NewWithMaterialsManager(m)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// gatedOp returns a KMS client held at its gate and a request (op: a
// decrypt of msg, or an encrypt) through keycache and a keyring over it.
func gatedOp(t *testing.T, kc kms.Client, arn string, msg []byte, op string) (*gateClient, func(context.Context) error) {
	g := &gateClient{Client: kc, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	c := cachedClient(t, strict(t, g, arn))
	return g, func(ctx context.Context) error {
		if op == "decrypt" {
			_, _, err := c.Decrypt(ctx, msg)
			return err
		}
		_, err := c.Encrypt(ctx, plaintext(10), ec, envelope.WithPlaintextLength(10))
		return err
	}
}

// TestKeycacheWaiterDeadline (was a hang): concurrent misses share one underlying call
// (singleflight) that runs under the first caller's context. Request A (no
// deadline) is stuck in a slow KMS; request B for the same entry with a
// 200 ms deadline waits for A's call (3 s here, forever if KMS never
// answers) and then even succeeds, long past its own deadline.
func TestKeycacheWaiterDeadline(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	msg, err := client(t, strict(t, env.Client, arn)).Encrypt(ctx, plaintext(10), ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"decrypt", "encrypt"} {
		g, run := gatedOp(t, env.Client, arn, msg, op)
		aDone := make(chan error, 1)
		go func() { aDone <- run(ctx) }()
		<-g.entered // A is in KMS
		bctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		start := time.Now()
		bDone := make(chan error, 1)
		go func() { bDone <- run(bctx) }()
		var berr error
		var took time.Duration
		select {
		case berr = <-bDone:
			took = time.Since(start)
		case <-time.After(3 * time.Second):
			close(g.gate)
			berr = <-bDone
			took = time.Since(start)
		}
		cancel()
		select {
		case <-g.gate:
		default:
			close(g.gate)
		}
		<-aDone
		t.Logf("%s: B returned after %v: %v", op, took, berr)
		if took > 2*time.Second {
			t.Errorf("%s: request B with a 200ms deadline blocked %v behind another request's KMS call", op, took)
		}
	}
}

// TestKeycacheWaiterOthersCancel (was a wrong error): request A's context is cancelled while
// its KMS call is in flight; request B for the same entry, whose own
// context is live, joined A's call and fails with A's context.Canceled
// (errors.Is(err, context.Canceled) is true for B), on decrypt and encrypt.
func TestKeycacheWaiterOthersCancel(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	arn := env.CreateKey(t)
	msg, err := client(t, strict(t, env.Client, arn)).Encrypt(ctx, plaintext(10), ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"decrypt", "encrypt"} {
		g, run := gatedOp(t, env.Client, arn, msg, op)
		actx, acancel := context.WithCancel(ctx)
		aDone := make(chan error, 1)
		go func() { aDone <- run(actx) }()
		<-g.entered
		bDone := make(chan error, 1)
		go func() { bDone <- run(ctx) }()
		time.Sleep(200 * time.Millisecond) // B joins A's flight
		acancel()
		aerr := <-aDone
		close(g.gate) // KMS answers from now on
		var berr error
		select {
		case berr = <-bDone:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: B hung", op)
		}
		t.Logf("%s: A: %.150v; B: %.200v", op, aerr, berr)
		if berr != nil {
			t.Errorf("%s: request B (live context) failed with another request's cancellation: %v (context.Canceled: %v)", op, berr, errors.Is(berr, context.Canceled))
		}
	}
}

// TestErrorTextCut (was an unbounded error text): KMS answers GenerateDataKey with an error
// whose message is 1 MiB. The *kms.Error quotes KMS's message whole and
// nothing on the encrypt path cuts it (on decrypt NoDecryptionKeyError cuts
// each reason to 256 bytes), so Client.Encrypt returns a 1 MiB error text,
// against the README's "errors ... cut to 1 KiB" bound for strings an
// attacker controls (here: a KMS response body).
func TestErrorTextCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"__type":"AccessDeniedException","message":"%s"}`, strings.Repeat("x", 1<<20))
	}))
	defer srv.Close()
	kr := strict(t, newGuardedClient(t, srv.URL), probeARN)
	_, err := client(t, kr).Encrypt(ctx, plaintext(10), ec)
	if err == nil {
		t.Fatal("no error")
	}
	if n := len(err.Error()); n > 4<<10 {
		t.Errorf("Encrypt error text is %d bytes (KMS's 1 MiB message verbatim)", n)
	}
}

// TestBadAnswersTyped (was untyped): GenerateDataKey answers a 31-byte data key,
// or an empty CiphertextBlob. OnEncrypt refuses them, but with a bare
// fmt.Errorf: not a *kms.Error, not envelope.ErrInvalidMaterials, no
// sentinel at all, so a caller cannot tell "KMS answered wrongly" from any
// other failure with errors.Is/As (an alias KeyId, by contrast, wraps
// kms.ErrInvalidARN, and decrypt-side refusals sit in a NoDecryptionKeyError).
func TestBadAnswersTyped(t *testing.T) {
	env := kmstest.Start(t, kmslocal.Options{})
	a := env.CreateKey(t)
	for name, f := range map[string]func(*awskms.GenerateDataKeyOutput){
		"short key":  func(o *awskms.GenerateDataKeyOutput) { o.Plaintext = o.Plaintext[:31] },
		"empty blob": func(o *awskms.GenerateDataKeyOutput) { o.CiphertextBlob = nil },
	} {
		hc := &hookClient{next: env.Client, gdk: f}
		_, err := client(t, strict(t, hc, a)).Encrypt(ctx, plaintext(10), ec)
		if !errors.Is(err, kms.ErrBadResponse) {
			t.Errorf("%s: %v, want ErrBadResponse", name, err)
		}
	}
}
