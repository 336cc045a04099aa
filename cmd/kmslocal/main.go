// Command kmslocal runs a KMS-compatible server for development and tests.
// It is not a secure KMS: key material is stored in plaintext on disk. See
// package github.com/phicrypt/phicrypt/kmslocal.
//
// Usage:
//
//	kmslocal [--addr 127.0.0.1:0] [--seed FILE] [--data DIR]
//	         [--tls-cert FILE --tls-key FILE] [--region R] [--account A]
//	         [--allow-host HOST:PORT]...
//
// When ready it prints one line, "kmslocal listening on http://HOST:PORT"
// (https with TLS), on stdout. SIGINT or SIGTERM shut it down cleanly.
// Logs go to stderr.
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
		os.Exit(1)
	}
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
	var hosts hostList
	fs.Var(&hosts, "allow-host", "also accept this `host:port` in the Host header (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (*cert == "") != (*keyFile == "") {
		return errors.New("--tls-cert and --tls-key go together")
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
