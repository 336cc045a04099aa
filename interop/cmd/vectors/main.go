// Command vectors runs AWS Encryption SDK test-vector manifests against
// phicrypt, as the official SDKs' vector runners do.
//
//	vectors decrypt MANIFEST|DIR [--kms-endpoint URL]
//	    runs every test of an awses-decrypt manifest (versions 1-4; keys
//	    manifests 1-3); prints each failure by test name and a last line
//	    "N passed, M failed, K skipped"; exits 1 on any failure. aws-kms
//	    tests are skipped and counted unless --kms-endpoint is given.
//	vectors encrypt OUTDIR
//	    writes a decrypt manifest of messages written by phicrypt, with its
//	    keys, for other SDKs to decrypt.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/phicrypt/phicrypt/internal/testvectors"
)

func main() { os.Exit(run(os.Args[1:])) }

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: vectors decrypt MANIFEST|DIR [-v] | vectors encrypt OUTDIR")
	return 2
}

func run(args []string) int {
	if len(args) < 1 {
		return usage()
	}
	ctx := context.Background()
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	verbose := fs.Bool("v", false, "print every test, not only failures")
	kmsEndpoint := fs.String("kms-endpoint", "", "KMS endpoint for aws-kms tests (needs the KMS keyring; skipped otherwise)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		return usage()
	}
	switch args[0] {
	case "decrypt":
		m, err := testvectors.LoadDecryptManifest(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, "vectors:", err)
			return 1
		}
		var opts testvectors.Options
		if *kmsEndpoint != "" {
			fmt.Fprintln(os.Stderr, "vectors: aws-kms tests need the KMS keyring, not yet built; they are skipped")
		}
		rs := m.Run(ctx, opts)
		for _, r := range rs {
			switch {
			case r.Status == testvectors.Failed:
				fmt.Printf("FAIL %s: %v\n", r.Name, r.Err)
			case *verbose && r.Status == testvectors.Skipped:
				fmt.Printf("skip %s: %v\n", r.Name, r.Err)
			case *verbose:
				fmt.Printf("ok   %s\n", r.Name)
			}
		}
		p, f, s := testvectors.Summary(rs)
		fmt.Printf("%d passed, %d failed, %d skipped\n", p, f, s)
		if f > 0 {
			return 1
		}
		return 0
	case "encrypt":
		n, err := testvectors.WriteEncrypted(ctx, fs.Arg(0), "dev")
		if err != nil {
			fmt.Fprintln(os.Stderr, "vectors:", err)
			return 1
		}
		fmt.Printf("wrote %d tests to %s\n", n, fs.Arg(0))
		return 0
	}
	return usage()
}
