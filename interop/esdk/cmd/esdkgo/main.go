// Command esdkgo encrypts or decrypts stdin to stdout with the official AWS
// Encryption SDK for Go (v0.4.0), for shell-level interop checks against
// phicrypt.
//
// Usage:
//
//	esdkgo encrypt|decrypt [flags] < in > out
//
// Keys (at least one of them):
//
//	--aes-key-file F      raw AES wrapping key file: 32, 48 or 64 hex digits (surrounding
//	                      whitespace ignored; checked first), else 16, 24 or 32 raw bytes
//	--aes-key-hex HEX     the AES wrapping key in hex, instead of --aes-key-file
//	--aes-namespace NS    raw AES keyring namespace (provider ID)
//	--aes-name N          raw AES keyring key name
//	--rsa-public F        PEM SubjectPublicKeyInfo file (needed to encrypt)
//	--rsa-private F       PEM PKCS#8 private key file (needed to decrypt)
//	--rsa-padding P       pkcs1 | oaep-sha1 | oaep-sha256 (default) | oaep-sha384 | oaep-sha512
//	--rsa-namespace NS    raw RSA keyring namespace (default: --aes-namespace)
//	--rsa-name N          raw RSA keyring key name (default: --aes-name)
//	--kms-key-id ID       AWS KMS key (strict keyring), with --kms-endpoint URL and --kms-region R
//
// Message options:
//
//	--suite 0x0578        algorithm suite (encrypt; default: SDK default for the policy)
//	--frame N             frame length (encrypt; default 4096)
//	--context k=v         encryption context pair (repeatable); on decrypt, the reproduced EC
//	--required-key k      required encryption context key (repeatable)
//	--policy P            forbid-encrypt-allow-decrypt | require-encrypt-allow-decrypt |
//	                      require-encrypt-require-decrypt (default)
//	--verbose             on decrypt, print the suite and encryption context to stderr
//
// When several keys are given, the AES key generates the data key and the
// others wrap it too (multi-keyring). Exit status: 0 ok, 1 failure, 2 usage.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/phicrypt/phicrypt/interop/esdk/official"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type options struct {
	aesKeyFile, aesKeyHex             string
	aesNamespace, aesName             string
	rsaPublic, rsaPrivate, rsaPadding string
	rsaNamespace, rsaName             string
	kmsKeyID, kmsEndpoint, kmsRegion  string
	suite, policy                     string
	frame                             int64
	context, required                 multiFlag
	verbose                           bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: esdkgo encrypt|decrypt [flags] < in > out  (esdkgo encrypt -h for flags)")
	}
	if len(args) < 1 || (args[0] != "encrypt" && args[0] != "decrypt") {
		usage()
		return 2
	}
	op := args[0]
	var o options
	fs := flag.NewFlagSet("esdkgo "+op, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.aesKeyFile, "aes-key-file", "", "raw AES key file (16/24/32 raw bytes or 32/48/64 hex digits)")
	fs.StringVar(&o.aesKeyHex, "aes-key-hex", "", "AES key in hex (instead of --aes-key-file)")
	fs.StringVar(&o.aesNamespace, "aes-namespace", "", "raw AES keyring namespace")
	fs.StringVar(&o.aesName, "aes-name", "", "raw AES keyring key name")
	fs.StringVar(&o.rsaPublic, "rsa-public", "", "PEM SPKI public key file")
	fs.StringVar(&o.rsaPrivate, "rsa-private", "", "PEM PKCS#8 private key file")
	fs.StringVar(&o.rsaPadding, "rsa-padding", official.PaddingOAEPSHA256, "RSA padding: pkcs1, oaep-sha1, oaep-sha256, oaep-sha384, oaep-sha512")
	fs.StringVar(&o.rsaNamespace, "rsa-namespace", "", "raw RSA keyring namespace (default: --aes-namespace)")
	fs.StringVar(&o.rsaName, "rsa-name", "", "raw RSA keyring key name (default: --aes-name)")
	fs.StringVar(&o.kmsKeyID, "kms-key-id", "", "AWS KMS key ID or ARN (strict keyring)")
	fs.StringVar(&o.kmsEndpoint, "kms-endpoint", "", "KMS endpoint URL, e.g. http://127.0.0.1:4599")
	fs.StringVar(&o.kmsRegion, "kms-region", "", "KMS region (default us-west-2)")
	fs.StringVar(&o.suite, "suite", "", "algorithm suite ID, e.g. 0x0578 (encrypt only)")
	fs.Int64Var(&o.frame, "frame", 0, "frame length in bytes (encrypt only; 0 = SDK default 4096)")
	fs.Var(&o.context, "context", "encryption context pair k=v (repeatable)")
	fs.Var(&o.required, "required-key", "required encryption context key (repeatable)")
	fs.StringVar(&o.policy, "policy", "", "commitment policy")
	fs.BoolVar(&o.verbose, "verbose", false, "decrypt: print suite and encryption context to stderr")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "esdkgo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := do(op, &o, stdin, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "esdkgo %s: %v\n", op, err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

func do(op string, o *options, stdin io.Reader, stdout, stderr io.Writer) error {
	aes, rsa, kms, err := keys(o)
	if err != nil {
		return err
	}
	ec, err := parseContext(o.context)
	if err != nil {
		return err
	}
	in, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	ctx := context.Background()
	var out []byte
	switch op {
	case "encrypt":
		var suite uint16
		if o.suite != "" {
			if suite, err = official.ParseSuite(o.suite); err != nil {
				return usageError{err}
			}
		}
		out, err = official.Encrypt(ctx, official.EncryptInput{
			AES: aes, RSA: rsa, KMS: kms,
			Suite: suite, FrameLength: o.frame, Context: ec,
			RequiredContextKeys: o.required, CommitmentPolicy: o.policy,
			Plaintext: in,
		})
		if err != nil {
			return err
		}
	case "decrypt":
		if o.suite != "" || o.frame != 0 {
			return usageError{errors.New("--suite and --frame apply to encrypt only")}
		}
		var gotEC map[string]string
		var suite uint16
		out, gotEC, suite, err = official.Decrypt(ctx, official.DecryptInput{
			AES: aes, RSA: rsa, KMS: kms,
			Context: ec, RequiredContextKeys: o.required, CommitmentPolicy: o.policy,
			Ciphertext: in,
		})
		if err != nil {
			return err
		}
		if o.verbose {
			fmt.Fprintf(stderr, "suite 0x%04x\n", suite)
			ks := make([]string, 0, len(gotEC))
			for k := range gotEC {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				fmt.Fprintf(stderr, "context %s=%s\n", strconv.Quote(k), strconv.Quote(gotEC[k]))
			}
		}
	}
	if _, err := stdout.Write(out); err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

func keys(o *options) ([]official.RawAESKey, []official.RawRSAKey, []official.KMSKey, error) {
	var (
		aes []official.RawAESKey
		rsa []official.RawRSAKey
		kms []official.KMSKey
	)
	if o.aesKeyFile != "" && o.aesKeyHex != "" {
		return nil, nil, nil, usageError{errors.New("give --aes-key-file or --aes-key-hex, not both")}
	}
	if o.aesKeyFile != "" || o.aesKeyHex != "" {
		if o.aesNamespace == "" || o.aesName == "" {
			return nil, nil, nil, usageError{errors.New("an AES key needs --aes-namespace and --aes-name")}
		}
		var k []byte
		var err error
		if o.aesKeyHex != "" {
			if k, err = hex.DecodeString(o.aesKeyHex); err != nil {
				return nil, nil, nil, usageError{fmt.Errorf("--aes-key-hex: %w", err)}
			}
		} else if k, err = readAESKey(o.aesKeyFile); err != nil {
			return nil, nil, nil, err
		}
		aes = append(aes, official.RawAESKey{Namespace: o.aesNamespace, Name: o.aesName, Key: k})
	}
	if o.rsaPublic != "" || o.rsaPrivate != "" {
		k := official.RawRSAKey{Namespace: o.rsaNamespace, Name: o.rsaName, Padding: o.rsaPadding}
		if k.Namespace == "" {
			k.Namespace = o.aesNamespace
		}
		if k.Name == "" {
			k.Name = o.aesName
		}
		if k.Namespace == "" || k.Name == "" {
			return nil, nil, nil, usageError{errors.New("an RSA key needs --rsa-namespace and --rsa-name (or the --aes-* ones)")}
		}
		var err error
		if o.rsaPublic != "" {
			if k.PublicPEM, err = os.ReadFile(o.rsaPublic); err != nil {
				return nil, nil, nil, err
			}
		}
		if o.rsaPrivate != "" {
			if k.PrivatePEM, err = os.ReadFile(o.rsaPrivate); err != nil {
				return nil, nil, nil, err
			}
		}
		rsa = append(rsa, k)
	}
	if o.kmsKeyID != "" {
		kms = append(kms, official.KMSKey{KeyID: o.kmsKeyID, Endpoint: o.kmsEndpoint, Region: o.kmsRegion})
	}
	if len(aes)+len(rsa)+len(kms) == 0 {
		return nil, nil, nil, usageError{errors.New("no key: give --aes-key-file/--aes-key-hex, --rsa-public/--rsa-private or --kms-key-id")}
	}
	return aes, rsa, kms, nil
}

// readAESKey reads a key file. Content that is 32, 48 or 64 hex digits
// (after trimming whitespace) is taken as hex; otherwise the file must hold
// 16, 24 or 32 raw bytes.
func readAESKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	switch len(s) {
	case 32, 48, 64:
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	switch len(b) {
	case 16, 24, 32:
		return b, nil
	}
	return nil, fmt.Errorf("%s: want 16, 24 or 32 raw bytes or 32, 48 or 64 hex digits, got %d bytes", path, len(b))
}

func parseContext(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	ec := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, usageError{fmt.Errorf("--context %q: want k=v", p)}
		}
		if _, dup := ec[k]; dup {
			return nil, usageError{fmt.Errorf("--context: duplicate key %q", k)}
		}
		ec[k] = v
	}
	return ec, nil
}
