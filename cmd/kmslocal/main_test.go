package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// buildBinary compiles the command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "kmslocal")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs bin and returns the URL from its "listening" line.
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(strings.Builder)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(strings.TrimSpace(line), "kmslocal listening on ")
		if !ok {
			t.Fatalf("first line %q; stderr:\n%s", line, stderr)
		}
		return cmd, url, stderr
	case <-time.After(30 * time.Second):
		t.Fatalf("no listening line; stderr:\n%s", stderr)
	}
	return nil, "", nil
}

func stop(t *testing.T, cmd *exec.Cmd, stderr *strings.Builder) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; stderr:\n%s", err, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func client(url string, hc *http.Client) *kms.Client {
	return kms.New(kms.Options{
		Region:       "us-west-2",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(url),
		HTTPClient:   hc,
	})
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.json")
	material := base64.StdEncoding.EncodeToString(make([]byte, 32))
	err := os.WriteFile(seed, []byte(`{"region":"us-west-2","account":"111122223333","keys":[{"id":"seed-key","material":"`+material+`","aliases":["alias/phicrypt-test"]}]}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	ctx := context.Background()

	cmd, url, stderr := startBinary(t, bin, "--seed", seed, "--data", data)
	if !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("url %q", url)
	}
	c := client(url, http.DefaultClient)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/phicrypt-test"), Plaintext: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if *enc.KeyId != "arn:aws:kms:us-west-2:111122223333:key/seed-key" {
		t.Fatalf("KeyId %s", *enc.KeyId)
	}
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	stop(t, cmd, stderr)

	// Restart on the same data dir: the created key survives.
	cmd, url, stderr = startBinary(t, bin, "--seed", seed, "--data", data, "--addr", "127.0.0.1:0")
	c = client(url, http.DefaultClient)
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: created.KeyMetadata.Arn}); err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "hi" {
		t.Fatalf("decrypt after restart: %v", err)
	}
	stop(t, cmd, stderr)
}

func TestBinaryTLS(t *testing.T) {
	bin := buildBinary(t)
	certFile, keyFile, pool := selfSigned(t)
	cmd, url, stderr := startBinary(t, bin, "--tls-cert", certFile, "--tls-key", keyFile, "--region", "eu-west-1", "--account", "999988887777")
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("url %q", url)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	out, err := client(url, hc).CreateKey(context.Background(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*out.KeyMetadata.Arn, "arn:aws:kms:eu-west-1:999988887777:key/") {
		t.Fatalf("arn %s", *out.KeyMetadata.Arn)
	}
	stop(t, cmd, stderr)
}

func TestBadFlags(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--tls-cert", "x"}, 2},
		{[]string{"--seed", filepath.Join(t.TempDir(), "missing.json")}, 1},
		{[]string{"extra"}, 2},
		{[]string{"--key", "app"}, 2},
		{[]string{"--key", "alias/app:RSA_2048"}, 2},
		{[]string{"--key", "alias/aws/s3"}, 1},
		{[]string{"--print-env"}, 2},
	} {
		err := exec.Command(bin, tc.args...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
			t.Errorf("%v: %v, want exit status %d", tc.args, err, tc.code)
		}
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kmslocal test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
