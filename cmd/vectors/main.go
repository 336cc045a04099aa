// Command vectors runs AWS Encryption SDK test-vector manifests against
// phicrypt, as the official SDKs' vector runners do.
//
//	vectors decrypt MANIFEST|DIR [-v] [--kms-endpoint URL]
//	    runs every test of an awses-decrypt manifest (versions 1-4; keys
//	    manifests 1-4); prints each failure by test name and a last line
//	    "N passed, M failed, K skipped"; exits 1 on any failure. aws-kms
//	    tests are skipped and counted unless --kms-endpoint is given; with
//	    it they run through AWS KMS keyrings whose clients use that
//	    endpoint, in the region of each key's ARN.
//	vectors encrypt OUTDIR [--kms-endpoint URL] [--kms-region R]
//	    writes a decrypt manifest of messages written by phicrypt, with its
//	    keys, for other SDKs to decrypt. With --kms-endpoint it also creates
//	    AWS KMS keys there (a development KMS such as kmslocal) and adds
//	    aws-kms tests under them.
//
// The endpoint must pass kms.CheckEndpoint: https, or http to a
// loopback host. For a loopback endpoint (a local kmslocal, which checks no
// signature) requests are signed with placeholder credentials; for any
// other the default AWS credential chain is used.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/internal/endpoint"
	"github.com/phicrypt/phicrypt/internal/testvectors"
	"github.com/phicrypt/phicrypt/keyring/kms"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

func usage(stderr io.Writer) int {
	fmt.Fprintln(stderr, "usage: vectors decrypt MANIFEST|DIR [-v] [--kms-endpoint URL] | vectors encrypt OUTDIR [--kms-endpoint URL] [--kms-region R]")
	return 2
}

// parse parses flags before and after the one positional argument.
func parse(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("want one argument, got %d", len(pos))
	}
	return pos[0], nil
}

// run runs the subcommand args[0] and returns the exit status: 2 for a
// usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		return usage(stderr)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "print every test, not only failures")
	kmsEndpoint := fs.String("kms-endpoint", "", "KMS endpoint `URL` for aws-kms tests (skipped without it)")
	kmsRegion := fs.String("kms-region", "us-east-1", "`region` of the KMS client that creates keys (encrypt)")
	arg, err := parse(fs, args[1:])
	if err != nil {
		return usage(stderr)
	}
	var kc *kmsClients
	if *kmsEndpoint != "" {
		if err := kms.CheckEndpoint(*kmsEndpoint); err != nil {
			fmt.Fprintln(stderr, "vectors:", err)
			return 2
		}
		kc = &kmsClients{endpoint: *kmsEndpoint, clients: map[string]*awskms.Client{}}
	}
	switch args[0] {
	case "decrypt":
		return runDecrypt(ctx, arg, kc, *verbose, stdout, stderr)
	case "encrypt":
		return runEncrypt(ctx, arg, kc, *kmsRegion, stdout, stderr)
	}
	return usage(stderr)
}

// runDecrypt runs every test of the manifest at arg, aws-kms ones only
// with kc, and prints failures (with verbose, every test) and a summary;
// it returns the exit status, 1 on any failure.
func runDecrypt(ctx context.Context, arg string, kc *kmsClients, verbose bool, stdout, stderr io.Writer) int {
	m, err := testvectors.LoadDecryptManifest(arg)
	if err != nil {
		fmt.Fprintln(stderr, "vectors:", err)
		return 1
	}
	var opts testvectors.Options
	if kc != nil {
		opts.KMS = testvectors.NewKMSKeyrings(func(region string) (kms.Client, error) { return kc.get(ctx, region) })
	}
	rs := m.Run(ctx, opts)
	for _, r := range rs {
		switch {
		case r.Status == testvectors.Failed:
			fmt.Fprintf(stdout, "FAIL %s: %v\n", r.Name, r.Err)
		case verbose && r.Status == testvectors.Skipped:
			fmt.Fprintf(stdout, "skip %s: %v\n", r.Name, r.Err)
		case verbose:
			fmt.Fprintf(stdout, "ok   %s\n", r.Name)
		}
	}
	p, f, s := testvectors.Summary(rs)
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", p, f, s)
	if f > 0 {
		return 1
	}
	return 0
}

// runEncrypt writes phicrypt's decrypt manifest to arg and, with kc, the
// aws-kms tests under keys it creates in kmsRegion; it returns the exit
// status.
func runEncrypt(ctx context.Context, arg string, kc *kmsClients, kmsRegion string, stdout, stderr io.Writer) int {
	n, err := testvectors.WriteEncrypted(ctx, arg, "dev")
	if err == nil && kc != nil {
		var c *awskms.Client
		if c, err = kc.get(ctx, kmsRegion); err == nil {
			var k int
			k, err = testvectors.WriteKMS(ctx, arg, c)
			n += k
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "vectors:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d tests to %s\n", n, arg)
	return 0
}

// kmsClients makes one KMS client per region, all for one endpoint.
type kmsClients struct {
	endpoint string
	mu       sync.Mutex
	clients  map[string]*awskms.Client
}

func (k *kmsClients) get(ctx context.Context, region string) (*awskms.Client, error) {
	if region == "" {
		return nil, errors.New("vectors: a KMS client needs a region")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.clients[region]; ok {
		return c, nil
	}
	var cfg aws.Config
	if isLoopback(k.endpoint) {
		// kmslocal accepts any signature: these are placeholders, not secrets.
		cfg = aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDVECTORS", "kmslocal-accepts-any", "")}
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(region)); err != nil {
			return nil, fmt.Errorf("vectors: AWS config: %w", err)
		}
	}
	c, err := kms.NewClient(ctx, cfg, k.endpoint)
	if err != nil {
		return nil, err
	}
	k.clients[region] = c
	return c, nil
}

func isLoopback(u string) bool {
	p, err := url.Parse(u)
	return err == nil && endpoint.IsLoopback(p.Hostname())
}
