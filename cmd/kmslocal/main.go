// Command kmslocal runs a KMS-compatible server for development and tests.
// It is not a secure KMS: key material is stored in plaintext on disk. See
// package github.com/phicrypt/phicrypt/kmslocal.
//
// Usage:
//
//	kmslocal [--addr 127.0.0.1:0] [--seed FILE] [--data DIR]
//	         [--key alias/NAME[:KEYSPEC]]... [--print-env]
//	         [--tls-cert FILE --tls-key FILE] [--region R] [--account A]
//	         [--allow-host HOST:PORT]...
//
// Each --key makes sure the alias exists: when it does not (first start,
// or no --data), kmslocal creates a key of KEYSPEC (SYMMETRIC_DEFAULT, the
// default; HMAC_256; ECC_NIST_P256) with that alias, with the default key
// policy. With --data the key is kept, and later starts reuse it.
//
// When ready it prints, on stdout, first the line "kmslocal listening on
// http://HOST:PORT" (https with TLS), then the environment block: one
// comment line per alias ("# alias/NAME ARN") and per key without an
// alias, then the export lines that point the AWS SDKs, the aws CLI and
// s3crypt at it, all shell-safe for eval "$(grep -v '^kmslocal' FILE)":
//
//	export AWS_ENDPOINT_URL_KMS=http://127.0.0.1:PORT
//	export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
//	export AWS_ACCESS_KEY_ID=kmslocal AWS_SECRET_ACCESS_KEY=kmslocal
//	unset AWS_SESSION_TOKEN
//	export AWS_EC2_METADATA_DISABLED=true
//
// (and AWS_CA_BUNDLE with TLS). The credentials are dummies: kmslocal
// checks no signature. With --print-env it creates the --key keys, prints
// only the block for --addr (which then needs a fixed port) and exits:
// eval "$(kmslocal --addr 127.0.0.1:4599 --data DIR --key alias/app
// --print-env)", then start it with the same --addr and --data.
// SIGINT or SIGTERM shut it down cleanly. Logs go to stderr. Usage errors
// exit with status 2, other failures with 1.
//
// Requests must name the listening address in their Host header
// (127.0.0.1:PORT, localhost:PORT for loopback, [::1]:PORT; every
// interface's address when bound to 0.0.0.0 or ::) or a --allow-host
// value; others get 421 and an AccessDeniedException, so a web page cannot
// reach the keys through DNS rebinding. Connections are bounded by
// kmslocal.DefaultLimits: 5 s to send the headers (64 KiB at most), 30 s
// for the whole request (1 MiB body at most) and for the response, 60 s
// idle between requests.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/phicrypt/phicrypt/kmslocal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, kmslocal.DefaultLimits()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "kmslocal:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// errUsage marks command-line errors (exit status 2).
var errUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// keyFlag is a repeatable --key alias/NAME[:KEYSPEC].
type keyFlag []keyReq

type keyReq struct{ alias, spec string }

var keySpecs = []string{"SYMMETRIC_DEFAULT", "HMAC_256", "ECC_NIST_P256"}

func (k *keyFlag) String() string { return fmt.Sprint(*k) }
func (k *keyFlag) Set(v string) error {
	name, spec, _ := strings.Cut(v, ":")
	if !strings.HasPrefix(name, "alias/") || name == "alias/" {
		return fmt.Errorf("%q is not alias/NAME[:KEYSPEC]", v)
	}
	if spec == "" {
		spec = keySpecs[0]
	}
	if !slices.Contains(keySpecs, spec) {
		return fmt.Errorf("key spec %q is not one of %s", spec, strings.Join(keySpecs, ", "))
	}
	*k = append(*k, keyReq{name, spec})
	return nil
}

// hostList is a repeatable flag.
type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(v string) error { *h = append(*h, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, lim kmslocal.Limits) error {
	fs := flag.NewFlagSet("kmslocal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free port)")
	seed := fs.String("seed", "", "seed `file` (JSON) with fixed keys and aliases")
	data := fs.String("data", "", "data `dir` for persisted keys (plaintext key material!)")
	cert := fs.String("tls-cert", "", "TLS certificate `file` (PEM); enables HTTPS with --tls-key")
	keyFile := fs.String("tls-key", "", "TLS private key `file` (PEM)")
	region := fs.String("region", "", "region in ARNs (default: seed's, else "+kmslocal.DefaultRegion+")")
	account := fs.String("account", "", "account in ARNs (default: seed's, else "+kmslocal.DefaultAccount+")")
	verbose := fs.Bool("v", false, "log every request")
	printEnv := fs.Bool("print-env", false, "create the --key keys, print the environment block for --addr (fixed port) and exit")
	var hosts hostList
	fs.Var(&hosts, "allow-host", "also accept this `host:port` in the Host header (repeatable)")
	var keys keyFlag
	fs.Var(&keys, "key", "make sure `alias/NAME[:KEYSPEC]` exists, creating a key (KEYSPEC SYMMETRIC_DEFAULT, HMAC_256 or ECC_NIST_P256) if not (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() != 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if (*cert == "") != (*keyFile == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if _, port, err := net.SplitHostPort(*addr); *printEnv && (err != nil || port == "0" || port == "") {
		return usagef("--print-env needs --addr HOST:PORT with a fixed port, got %q", *addr)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv, err := kmslocal.New(kmslocal.Options{Region: *region, Account: *account, SeedFile: *seed, DataDir: *data, Logger: log})
	if err != nil {
		return err
	}
	created := map[string]bool{}
	for _, k := range keys {
		key, ok, err := srv.EnsureKey(ctx, k.alias, k.spec)
		if err != nil {
			return fmt.Errorf("--key %s: %w", k.alias, err)
		}
		if ok {
			created[k.alias] = true
			log.Info("created key", "alias", k.alias, "spec", k.spec, "arn", key.ARN)
		}
	}
	if *printEnv {
		host, port, _ := net.SplitHostPort(*addr) // checked above
		if *data == "" && len(keys) > 0 {
			log.Warn("without --data the --key keys are not kept; the server you start next makes new ones")
		}
		scheme := "http"
		if *cert != "" {
			scheme = "https"
		}
		_, err = io.WriteString(stdout, envBlock(srv, scheme+"://"+clientHost(host, port), *cert, created))
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *keyFile)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn("listening on a non-loopback address; kmslocal is not secure", "addr", ln.Addr().String())
	}
	hs := srv.HTTPServer(ln.Addr(), lim, hosts...)
	hs.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	// One unbuffered write: the line is complete when a reader sees it.
	fmt.Fprintf(stdout, "kmslocal listening on %s://%s\n", scheme, ln.Addr())
	tcp, _ := ln.Addr().(*net.TCPAddr)
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if tcp != nil {
		host = tcp.IP.String()
	}
	io.WriteString(stdout, envBlock(srv, scheme+"://"+clientHost(host, port), *cert, created))
	log.Info("started", "region", srv.Region(), "account", srv.Account(), "keys", len(srv.Keys()))

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// clientHost is the host:port a local client uses for a server listening
// on host:port: loopback for an unspecified (all interfaces) address.
func clientHost(host, port string) string {
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// envBlock is the text after the listening line: a comment per alias and
// per unaliased key, then the environment for url. Every line is a shell
// comment or a shell command.
func envBlock(srv *kmslocal.Server, url, certFile string, created map[string]bool) string {
	var b strings.Builder
	named := map[string]bool{}
	for _, a := range srv.Aliases() {
		named[a.Key.ID] = true
		note := ""
		if created[a.Name] {
			note = "  (created)"
		}
		fmt.Fprintf(&b, "# %s %s%s\n", a.Name, a.Key.ARN, note)
	}
	for _, k := range srv.Keys() {
		if !named[k.ID] {
			fmt.Fprintf(&b, "# (no alias) %s\n", k.ARN)
		}
	}
	r := shellQuote(srv.Region())
	b.WriteString("# For the AWS SDKs, the aws CLI and s3crypt; kmslocal checks no signature, so the credentials are dummies.\n")
	fmt.Fprintf(&b, "export AWS_ENDPOINT_URL_KMS=%s\n", shellQuote(url))
	fmt.Fprintf(&b, "export AWS_REGION=%s AWS_DEFAULT_REGION=%s\n", r, r)
	b.WriteString("export AWS_ACCESS_KEY_ID=kmslocal AWS_SECRET_ACCESS_KEY=kmslocal\n")
	b.WriteString("unset AWS_SESSION_TOKEN\n")
	if certFile != "" {
		if abs, err := filepath.Abs(certFile); err == nil {
			certFile = abs
		}
		fmt.Fprintf(&b, "export AWS_CA_BUNDLE=%s\n", shellQuote(certFile))
	}
	b.WriteString("export AWS_EC2_METADATA_DISABLED=true\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// [A-Za-z0-9_./:@%+=,-].
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
