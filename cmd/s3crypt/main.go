// Command s3crypt encrypts and decrypts files, directories and S3 prefixes
// in the AWS Encryption SDK message format, so that any official SDK can
// read what it writes.
//
//	s3crypt keygen FILE
//	s3crypt encrypt --key aes:FILE [flags] SRC DST
//	s3crypt decrypt --key aes:FILE [flags] SRC DST
//	s3crypt reencrypt --key NEW [--decrypt-key OLD] [--in-place] [flags] SRC DST
//	s3crypt inspect [--json] SRC
//	s3crypt scan [--json] [--require-key KEY] [--require-context k=v] SRC
//	s3crypt verify-log [--audit-key KEY] [--expect-digest FILE|s3://…] FILE
//	s3crypt demo
//
// SRC and DST are a file, a directory (its tree mirrored, ".enc" or
// --suffix added on encrypt and removed on decrypt), "-" for stdin or
// stdout, or s3://bucket/prefix. --include and --exclude filter the names
// below SRC as aws s3's do. Exit status: 0 when every input succeeded (with
// --dryrun: would be processed), 1 when any failed (a summary names them)
// or when SRC listed names and the filters kept none, 2 for a usage error
// (a missing --key included), 130 when interrupted. The work is package
// batch's; this file only maps flags onto it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/cli"
	"github.com/phicrypt/phicrypt/s3crypt"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cmd, err := newRoot().ExecuteContextC(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "s3crypt %s: %s\n", cmd.Name(), batch.Printable(err.Error()))
	}
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, batch.ErrInterrupted), errors.Is(err, context.Canceled):
		return 130
	case errors.Is(err, batch.ErrUsage), errors.Is(err, batch.ErrNoKey):
		return 2
	}
	return 1
}

// runFlags are the flags of encrypt and decrypt.
type runFlags struct {
	keys, decryptKeys                      []string
	context, expect                        []string
	filters                                []batch.Filter
	suite, frameSize, maxFrameSize         string
	concurrency, maxEDKs                   int
	overwrite, quiet, json, followSymlinks bool
	skipExisting, inPlace, dryRun          bool
	suffix, policy                         string
	put                                    batch.S3Options // the object headers
	shard, progress, manifest              string
	progressEvery                          time.Duration
	metadata, auditKey, auditHead          string
	digestEvery                            int
	endpoint, kmsEndpoint, region, profile string
	cacheAge                               time.Duration
	cacheMessages, cacheBytes              uint64
	fips                                   bool
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "s3crypt",
		Short:         "Encrypt files, directories and S3 prefixes in the AWS Encryption SDK format",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("s3crypt {{.Version}}\n")
	root.AddCommand(runCommand(batch.Encrypt), runCommand(batch.Decrypt), runCommand(batch.Reencrypt), keygenCommand(), inspectCommand(), verifyLogCommand(), demoCommand())
	root.AddCommand(scanCommand())
	root.AddCommand(doctorCommand())
	root.PersistentPreRunE = checkFIPS
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %v", batch.ErrUsage, err) })
	return root
}

func runCommand(op batch.Op) *cobra.Command {
	var f runFlags
	short := strings.ToUpper(string(op[:1])) + string(op[1:]) + " a file, a directory tree, stdin (-) or s3://bucket/prefix"
	if op == batch.Reencrypt {
		short = "Re-encrypt messages under new keys in one streaming pass, no plaintext written: files, trees, stdin (-), s3:// prefixes"
	}
	cmd := &cobra.Command{
		Use:   string(op) + " [flags] SRC DST | --manifest M DST",
		Short: short,
		Args:  manifestArgs(&f.manifest, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return runOp(cmd, op, &f, "", args[0])
			}
			return runOp(cmd, op, &f, args[0], args[1])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.keys, "key", nil, "key: aes:FILE, rsa:FILE.pem, arn:aws:kms:…, alias/NAME (repeatable; the first makes the data key)")
	if op != batch.Decrypt {
		ctxHelp := "encryption context pair key=value (repeatable; not secret: KMS logs it)"
		if op == batch.Reencrypt {
			ctxHelp += " (default: each input's context)"
			fl.StringArrayVar(&f.decryptKeys, "decrypt-key", nil, "key that opens the inputs, as --key (repeatable; default: the --key keys)")
			fl.BoolVar(&f.inPlace, "in-place", false, "SRC = DST, an s3:// location in a versioned bucket: each object gets a new version, the old one remains")
		}
		fl.StringArrayVar(&f.context, "context", nil, ctxHelp)
		fl.StringVar(&f.suite, "suite", "0x0578", "algorithm suite: 0x0578 (signed) or 0x0478 (unsigned)")
		fl.StringVar(&f.frameSize, "frame-size", "64KiB", "plaintext bytes per frame")
	}
	if op != batch.Reencrypt {
		fl.StringVar(&f.suffix, "suffix", batch.EncSuffix, "suffix of encrypted names: added on encrypt, removed on decrypt, which reads only names ending in it from a tree (aws-encryption-cli writes .encrypted)")
	}
	if op != batch.Encrypt {
		fl.StringArrayVar(&f.expect, "expect-context", nil, "pair key=value the message's context must hold, or KEY alone: a key it must hold with any value (repeatable); else it is refused")
		fl.StringVar(&f.policy, "commitment-policy", "require-encrypt-require-decrypt", "which messages are read: require-encrypt-require-decrypt (key-committing only), or require-encrypt-allow-decrypt to read ESDK 1.x messages too")
		fl.StringVar(&f.maxFrameSize, "max-frame-length", fmt.Sprintf("%dMiB", envelope.DefaultMaxFrameLength>>20), "refuse messages with longer frames (each is buffered whole, two per worker)")
	}
	fl.IntVar(&f.maxEDKs, "max-encrypted-data-keys", s3crypt.DefaultMaxEncryptedDataKeys, "refuse messages with more encrypted data keys, each a key attempt (0: no limit)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "files processed at once, and frame workers per large file and S3 parts in flight (0: 4 files per CPU, one worker per CPU, one fewer for signed suites)")
	filterFlags(cmd, &f.filters)
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace existing outputs")
	fl.BoolVar(&f.dryRun, "dryrun", false, "print what would be read, written and skipped, one line per input (a JSON object with --json), and do nothing: no output, no key used, no audit line")
	fl.StringVar(&f.put.ServerSideEncryption, "sse", "", "S3 outputs: server-side encryption, aws:kms or AES256 (for a bucket policy that requires the header)")
	fl.StringVar(&f.put.SSEKMSKeyID, "sse-kms-key-id", "", "S3 outputs: the KMS key of --sse aws:kms (default: the bucket's)")
	fl.StringVar(&f.put.StorageClass, "storage-class", "", "S3 outputs: storage class, e.g. STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR")
	fl.BoolVar(&f.skipExisting, "skip-existing", false, "skip inputs whose output exists and is complete, counted as skipped (resume a run)")
	fl.StringVar(&f.shard, "shard", "", "process only shard I of N (I/N, 0 ≤ I < N; auto/N: I from $"+batch.ShardEnv+"), inputs split by a hash of their name")
	fl.StringVar(&f.manifest, "manifest", "", "process the objects a manifest names instead of SRC: an S3 Batch Operations CSV (bucket,key[,versionId]) or an S3 Inventory manifest.json (CSV), a file or s3://")
	fl.BoolVar(&f.followSymlinks, "follow-symlinks", false, "follow symbolic links in a source directory that lead out of it (default: skip them)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress (unless --progress names one) and no summary unless something failed")
	fl.StringVar(&f.progress, "progress", "auto", "progress on stderr: bar, lines (plain, every --progress-interval), none, or auto (bar on a terminal, else lines)")
	fl.DurationVar(&f.progressEvery, "progress-interval", 10*time.Second, "with --progress lines: time between lines")
	fl.BoolVar(&f.json, "json", false, "print the summary as JSON (with --dryrun, after a JSON line per input)")
	fl.StringVar(&f.metadata, "metadata-output", "", "append one hash-chained JSON audit line per input to FILE, or - for stdout")
	fl.StringVar(&f.auditKey, "audit-key", "", "sign digests of the audit log: kms-hmac:KEY, kms-sign:KEY, hmac:FILE or ed25519:FILE")
	fl.StringVar(&f.auditHead, "audit-head", "", "with --audit-key: copy each digest to FILE or s3://bucket/key, to detect a cut log")
	fl.IntVar(&f.digestEvery, "digest-every", 1000, "with --audit-key: lines between digests (one also ends each run)")
	fl.StringVar(&f.endpoint, "endpoint-url", "", "S3 endpoint URL (https, or http to a loopback address)")
	fl.StringVar(&f.kmsEndpoint, "kms-endpoint-url", "", "KMS endpoint URL (https, or http to a loopback address)")
	fl.StringVar(&f.region, "region", "", "AWS region")
	fl.StringVar(&f.profile, "profile", "", "AWS shared config profile")
	fipsFlag(cmd, &f.fips)
	fl.DurationVar(&f.cacheAge, "cache-max-age", 0, fmt.Sprintf("reuse data keys for up to this long (default with a KMS key: %s; 0: no cache, one KMS call per file)", batch.DefaultCacheMaxAge))
	fl.Uint64Var(&f.cacheMessages, "cache-max-messages", 0, fmt.Sprintf("files per data key (default with a KMS key: %d)", batch.DefaultCacheMaxMessages))
	fl.Uint64Var(&f.cacheBytes, "cache-max-bytes", 0, "with --cache-max-age: plaintext bytes per data key")
	return cmd
}

// filterFlags adds --include and --exclude, which append to one list in
// the order given: as in aws s3, the last filter matching a name decides.
func filterFlags(cmd *cobra.Command, list *[]batch.Filter) {
	fl := cmd.Flags()
	fl.Var(filterFlag{list, false}, "include", "keep names matching this glob again (repeatable, in order with --exclude: the last match wins, as aws s3; * matches / too)")
	fl.Var(filterFlag{list, true}, "exclude", "skip names matching this glob below SRC (repeatable; --exclude '*' --include '*.csv' keeps the CSV files only)")
}

// filterFlag is --include or --exclude: each value is appended to list.
type filterFlag struct {
	list    *[]batch.Filter
	exclude bool
}

func (f filterFlag) String() string { return "" }
func (f filterFlag) Type() string   { return "glob" }
func (f filterFlag) Set(glob string) error {
	*f.list = append(*f.list, batch.Filter{Exclude: f.exclude, Glob: glob})
	return nil
}

// manifestArgs wants n arguments, or n-1 (no SRC) when --manifest is given.
func manifestArgs(manifest *string, n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if *manifest != "" {
			n--
		}
		if len(args) != n {
			what := "SRC"
			if *manifest != "" {
				what = "no SRC with --manifest"
			}
			return fmt.Errorf("%w: s3crypt %s: want %d arguments (%s), got %d (see --help)", batch.ErrUsage, cmd.Name(), n, what, len(args))
		}
		return nil
	}
}

func usageArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%w: s3crypt %s: want %d arguments, got %d (see --help)", batch.ErrUsage, cmd.Name(), n, len(args))
		}
		return nil
	}
}

func runOp(cmd *cobra.Command, op batch.Op, f *runFlags, src, dst string) error {
	o, err := f.options(cmd, op, src, dst)
	if err != nil {
		return err
	}
	sum, err := batch.Run(cmd.Context(), op, src, dst, o)
	if o.Audit != nil {
		if cerr := o.Audit.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("--metadata-output: %w", cerr))
		}
	}
	if sum.Files == 0 && sum.Skipped == 0 && err != nil || errors.Is(err, batch.ErrNothingMatched) {
		return err
	}
	printSummary(cmd, f, sum, dst)
	return err
}

// options maps the flags onto batch.Options: every value parsed and the
// progress display chosen first, then the audit log (if any) opened.
func (f *runFlags) options(cmd *cobra.Command, op batch.Op, src, dst string) (batch.Options, error) {
	o := batch.Options{
		Keys: batch.KeyOptions{
			Specs: f.keys, Region: f.region, Profile: f.profile, KMSEndpoint: f.kmsEndpoint, FIPS: f.fips,
			CacheMaxAge: f.cacheAge, CacheMaxMessages: f.cacheMessages, CacheMaxBytes: f.cacheBytes,
		},
		Concurrency:    f.concurrency,
		MaxEDKs:        f.maxEDKs,
		Filters:        f.filters,
		Overwrite:      f.overwrite,
		SkipExisting:   f.skipExisting,
		InPlace:        f.inPlace,
		Manifest:       f.manifest,
		FollowSymlinks: f.followSymlinks,
		S3: batch.S3Options{EndpointURL: f.endpoint, Region: f.region, Profile: f.profile, FIPS: f.fips,
			ServerSideEncryption: f.put.ServerSideEncryption, SSEKMSKeyID: f.put.SSEKMSKeyID, StorageClass: f.put.StorageClass},
		Suffix:  f.suffix,
		DryRun:  f.dryRun,
		Version: version(),
		Stdin:   cmd.InOrStdin(),
		Stdout:  cmd.OutOrStdout(),
		Notices: cmd.ErrOrStderr(),
	}
	if f.dryRun && f.json {
		o.DryRunFunc = dryRunJSON(summaryOut(cmd, f, dst))
	}
	f.kmsBudget(cmd, &o.Keys)
	if len(f.decryptKeys) > 0 {
		o.DecryptKeys = o.Keys
		o.DecryptKeys.Specs = f.decryptKeys
	}
	if err := f.parseValues(op, &o); err != nil {
		return o, err
	}
	var err error
	if o.Shard, err = batch.ParseShard(f.shard, os.Getenv); err != nil {
		return o, err
	}
	if err = o.S3.CheckPut(); err != nil {
		return o, err
	}
	if o.Progress, err = f.newProgress(cmd.ErrOrStderr()); err != nil {
		return o, err
	}
	if len(f.filters) > 0 && !f.filters[0].Exclude && !f.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "s3crypt: notice: the first filter, --include %s, selects nothing: every name is included unless excluded, as in aws s3 (--exclude '*' --include %s keeps those names only)\n",
			batch.Quote(f.filters[0].Glob), batch.Quote(f.filters[0].Glob))
	}
	o.Audit, err = f.openAudit(cmd, src, dst, o)
	return o, err
}

// newProgress makes the --progress display on stderr, or nil (no interface value) for none.
func (f *runFlags) newProgress(stderr io.Writer) (batch.Progress, error) {
	if f.progressEvery <= 0 {
		return nil, fmt.Errorf("%w: --progress-interval %s: want a positive duration", batch.ErrUsage, f.progressEvery)
	}
	mode := f.progress
	if f.dryRun && mode == "auto" {
		mode = "none"
	}
	if mode == "auto" {
		file, ok := stderr.(*os.File)
		switch {
		case f.quiet:
			mode = "none"
		case ok && term.IsTerminal(int(file.Fd())):
			mode = "bar"
		default:
			mode = "lines"
		}
	}
	switch mode {
	case "bar":
		return cli.NewProgress(stderr), nil
	case "lines":
		return cli.NewProgressLines(stderr, f.progressEvery), nil
	case "none":
		return nil, nil
	}
	return nil, fmt.Errorf("%w: --progress %s: want auto, bar, lines or none", batch.ErrUsage, batch.Quote(f.progress))
}

// parseValues parses the context pairs and the op's suite and frame sizes
// into o, naming the flag of the first bad one.
func (f *runFlags) parseValues(op batch.Op, o *batch.Options) error {
	var err error
	if o.Context, err = batch.ParsePairs("--context", f.context); err != nil {
		return err
	}
	var pairs []string
	for _, e := range f.expect {
		if strings.Contains(e, "=") {
			pairs = append(pairs, e)
		} else if e == "" {
			return fmt.Errorf("%w: --expect-context \"\": want key=value or a key", batch.ErrUsage)
		} else {
			o.ExpectContextKeys = append(o.ExpectContextKeys, e)
		}
	}
	if o.ExpectContext, err = batch.ParsePairs("--expect-context", pairs); err != nil {
		return err
	}
	if op != batch.Encrypt {
		if o.CommitmentPolicy, err = parsePolicy(f.policy); err != nil {
			return err
		}
	}
	if op != batch.Decrypt {
		if o.Suite, err = envelope.ParseSuiteID(f.suite); err != nil {
			return fmt.Errorf("%w: --suite: %v", batch.ErrUsage, err)
		}
		if !o.Suite.Committing() {
			return fmt.Errorf("%w: --suite %s: not key-committing; s3crypt writes 0x0578 or 0x0478 only (ESDK 1.x suites are read with --commitment-policy)", batch.ErrUsage, o.Suite)
		}
		if o.FrameSize, err = cli.ParseSize(f.frameSize); err != nil {
			return fmt.Errorf("--frame-size: %w", err)
		}
	}
	if op != batch.Encrypt {
		if o.MaxFrameSize, err = cli.ParseSize(f.maxFrameSize); err != nil {
			return fmt.Errorf("--max-frame-length: %w", err)
		}
	}
	return nil
}

// openAudit opens the --metadata-output log, or returns nil without it
// or with --dryrun; it refuses audit flags without a log, a log sharing
// stdout with DST, and a log inside a source directory (which the run
// would read as an input).
func (f *runFlags) openAudit(cmd *cobra.Command, src, dst string, o batch.Options) (*batch.AuditLog, error) {
	switch {
	case f.metadata == "" && (f.auditKey != "" || f.auditHead != ""):
		return nil, fmt.Errorf("%w: --audit-key and --audit-head need --metadata-output", batch.ErrUsage)
	case f.metadata == "-" && dst == "-":
		return nil, fmt.Errorf("%w: --metadata-output - and DST - both use stdout", batch.ErrUsage)
	case f.metadata != "" && f.metadata != "-" && !strings.HasPrefix(f.metadata, "s3://") && inside(f.metadata, src):
		return nil, fmt.Errorf("%w: --metadata-output %s is inside the source %s, which the run reads: write it elsewhere", batch.ErrUsage, batch.Quote(f.metadata), batch.Quote(src))
	case f.metadata == "" || f.dryRun:
		return nil, nil
	}
	a, err := batch.OpenAudit(cmd.Context(), f.metadata, batch.AuditOptions{
		Key: f.auditKey, Head: f.auditHead, DigestEvery: f.digestEvery, Keys: o.Keys, S3: o.S3, Stdout: cmd.OutOrStdout(),
	})
	if err != nil {
		return nil, fmt.Errorf("--metadata-output: %w", err)
	}
	return a, nil
}

// inside reports whether path is dir or below it, dir being a local
// directory (not "-", s3:// or a file).
func inside(path, dir string) bool {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return false
	}
	ap, err1 := filepath.Abs(path)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	if rp, err := filepath.EvalSymlinks(filepath.Dir(ap)); err == nil {
		ap = filepath.Join(rp, filepath.Base(ap))
	}
	if rd, err := filepath.EvalSymlinks(ad); err == nil {
		ad = rd
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && filepath.IsLocal(rel)
}

// parsePolicy parses --commitment-policy, as the ESDKs name the policies.
func parsePolicy(s string) (envelope.CommitmentPolicy, error) {
	for _, p := range []envelope.CommitmentPolicy{envelope.RequireEncryptRequireDecrypt, envelope.RequireEncryptAllowDecrypt, envelope.ForbidEncryptAllowDecrypt} {
		if strings.EqualFold(s, p.String()) || strings.EqualFold(strings.ReplaceAll(s, "-", "_"), p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: --commitment-policy %s: want require-encrypt-require-decrypt, require-encrypt-allow-decrypt or forbid-encrypt-allow-decrypt", batch.ErrUsage, batch.Quote(s))
}

// version is the module's version, or for a development build its VCS
// revision (and "-dirty" for uncommitted changes), or "(devel)".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "(devel)"
	case dirty:
		return "(devel) " + rev[:min(len(rev), 12)] + "-dirty"
	}
	return "(devel) " + rev[:min(len(rev), 12)]
}

// kmsBudget turns on the default data key cache when a KMS key is used and
// --cache-max-age was not given, and says on stderr what the run will cost
// in KMS requests before it starts.
func (f *runFlags) kmsBudget(cmd *cobra.Command, ko *batch.KeyOptions) {
	kms := slices.ContainsFunc(append(slices.Clone(f.keys), f.decryptKeys...), batch.IsKMSSpec)
	if !kms {
		return
	}
	if !cmd.Flags().Changed("cache-max-age") {
		ko.CacheMaxAge = batch.DefaultCacheMaxAge
		if !cmd.Flags().Changed("cache-max-messages") {
			ko.CacheMaxMessages = batch.DefaultCacheMaxMessages
		}
	}
	if f.quiet {
		return
	}
	w := cmd.ErrOrStderr()
	if ko.CacheMaxAge <= 0 {
		fmt.Fprintf(w, "s3crypt: KMS: one request per file (no data key cache): 1,000,000 files ≈ %s; --cache-max-age reuses data keys\n", kmsCost(1_000_000))
		return
	}
	per := "files"
	if ko.CacheMaxMessages > 0 {
		per = fmt.Sprintf("%d files", ko.CacheMaxMessages)
	}
	fmt.Fprintf(w, "s3crypt: KMS: data keys cached, one request per %s or %s at most; --cache-max-age 0 for one data key per file\n", per, ko.CacheMaxAge)
}

// kmsPricePer10k is the AWS KMS list price of 10,000 requests (us-east-1, USD).
const kmsPricePer10k = 0.03

func kmsCost(requests int64) string {
	return fmt.Sprintf("$%.2f", float64(requests)*kmsPricePer10k/10000)
}

// maxSkipsShown bounds the skipped inputs the text summary names.
const maxSkipsShown = 20

// summaryOut is where the summary goes: stdout, or stderr when DST or
// the audit log is stdout.
func summaryOut(cmd *cobra.Command, f *runFlags, dst string) io.Writer {
	if dst == "-" || f.metadata == "-" {
		return cmd.ErrOrStderr()
	}
	return cmd.OutOrStdout()
}

// dryRunLine is one input of a --dryrun --json run, a JSON line of its own
// before the summary, its names those of batch.Record and the summary's
// skips and failures.
type dryRunLine struct {
	DryRun bool   `json:"dry_run"`
	Op     string `json:"op"`
	Input  string `json:"input"`
	Output string `json:"output,omitempty"`
	Result string `json:"result"`           // ok (would be processed), skipped or failed
	Reason string `json:"reason,omitempty"` // why skipped
	Error  string `json:"error,omitempty"`  // why it would fail
}

// dryRunJSON writes each dry-run input to w as a JSON line (batch
// serializes the calls); encoding/json escapes any name.
func dryRunJSON(w io.Writer) func(batch.Record) {
	return func(rec batch.Record) {
		l := dryRunLine{DryRun: true, Op: rec.Op, Input: rec.Input, Output: rec.Output, Result: rec.Result}
		if rec.Result == batch.ResultSkipped {
			l.Reason = rec.Error
		} else {
			l.Error = rec.Error
		}
		b, _ := json.Marshal(l)
		fmt.Fprintf(w, "%s\n", b)
	}
}

func printSummary(cmd *cobra.Command, f *runFlags, s *batch.Summary, dst string) {
	out := summaryOut(cmd, f, dst)
	if f.json {
		b, _ := json.Marshal(s)
		fmt.Fprintf(out, "%s\n", b)
		return
	}
	w := cmd.ErrOrStderr()
	if f.quiet && s.Failed == 0 {
		return
	}
	rate := ""
	if s.Seconds > 0 {
		rate = fmt.Sprintf(" (%s/s)", cli.FormatBytes(int64(float64(s.BytesIn)/s.Seconds)))
	}
	filtered := ""
	if s.Filtered > 0 {
		filtered = fmt.Sprintf(" (%d filtered out)", s.Filtered)
	}
	if s.DryRun {
		fmt.Fprintf(w, "%s (dryrun, nothing done): %d would be processed, %d would fail, %d skipped%s; %s in\n",
			s.Op, s.OK, s.Failed, s.Skipped, filtered, cli.FormatBytes(s.BytesIn))
	} else {
		fmt.Fprintf(w, "%s: %d ok, %d failed, %d skipped%s; %s in, %s out in %.2fs%s\n",
			s.Op, s.OK, s.Failed, s.Skipped, filtered, cli.FormatBytes(s.BytesIn), cli.FormatBytes(s.BytesOut), s.Seconds, rate)
	}
	if c := s.Cache; c != nil {
		fmt.Fprintf(w, "data key cache: %d hits, %d misses, %d calls to the keyring\n", c.Hits, c.Misses, c.UnderlyingCalls)
	}
	if s.KMSRequests > 0 {
		fmt.Fprintf(w, "KMS: %d requests (≈ %s at $%.2f per 10,000)\n", s.KMSRequests, kmsCost(s.KMSRequests), kmsPricePer10k)
	}
	for i, k := range s.Skips {
		if s.DryRun {
			break // each has its (dryrun) line
		}
		if i == maxSkipsShown {
			fmt.Fprintf(w, "... and %s more skipped inputs (--json names %d)\n", cli.FormatCount(int64(len(s.Skips)-i+s.SkipsOmitted)), len(s.Skips))
			break
		}
		fmt.Fprintf(w, "skipped %s: %s\n", batch.Quote(k.Input), batch.Printable(k.Reason))
	}
	for _, fl := range s.Failures {
		fmt.Fprintf(w, "FAILED %s: %s\n", batch.Quote(fl.Input), batch.Printable(fl.Error))
	}
	if s.FailuresOmitted > 0 {
		fmt.Fprintf(w, "... and %s more failed inputs, not named here (--metadata-output logs each)\n", cli.FormatCount(int64(s.FailuresOmitted)))
	}
}

func keygenCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen FILE",
		Short: "Write a new random AES-256 key file (mode 0600); never overwrites",
		Args:  usageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := batch.Keygen(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote a 256-bit AES key to %s (mode 0600); use it with --key aes:%s\n", args[0], args[0])
			return nil
		},
	}
}

func inspectCommand() *cobra.Command {
	var asJSON bool
	var s3o batch.S3Options
	cmd := &cobra.Command{
		Use:   "inspect [--json] SRC",
		Short: "Print a message's header and frame count without any key (nothing is verified)",
		Args:  usageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := batch.InspectLocation(cmd.Context(), args[0], cmd.InOrStdin(), s3o)
			if info == nil {
				return err
			}
			if asJSON {
				b, _ := json.MarshalIndent(info, "", "  ")
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			} else {
				printInfo(cmd.OutOrStdout(), info)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&s3o.EndpointURL, "endpoint-url", "", "S3 endpoint URL")
	cmd.Flags().StringVar(&s3o.Region, "region", "", "AWS region")
	cmd.Flags().StringVar(&s3o.Profile, "profile", "", "AWS shared config profile")
	fipsFlag(cmd, &s3o.FIPS)
	return cmd
}

// printInfo prints what a message claims. Nothing in it is authenticated:
// context keys and values are quoted, key names quoted when unprintable.
func printInfo(w io.Writer, i *batch.Info) {
	fmt.Fprintf(w, "version:          %d\n", i.Version)
	fmt.Fprintf(w, "suite:            %s (signed: %v, key commitment: %v)\n", i.Suite, i.Signed, i.Committing)
	fmt.Fprintf(w, "message ID:       %s\n", i.MessageID)
	fmt.Fprintf(w, "context:          %d pairs\n", len(i.EncryptionContext))
	for _, k := range sortedKeys(i.EncryptionContext) {
		fmt.Fprintf(w, "  %s = %s\n", batch.Quote(k), batch.Quote(i.EncryptionContext[k]))
	}
	fmt.Fprintf(w, "data keys:        %d\n", len(i.EncryptedDataKeys))
	for _, k := range i.EncryptedDataKeys {
		fmt.Fprintf(w, "  %s  %s\n", k.Provider, k.Key)
	}
	fmt.Fprintf(w, "content:          %s\n", i.ContentType)
	fmt.Fprintf(w, "frame length:     %d\n", i.FrameLength)
	fmt.Fprintf(w, "frames:           %d\n", i.FrameCount)
	fmt.Fprintf(w, "plaintext bytes:  %d\n", i.PlaintextLength)
	fmt.Fprintf(w, "message bytes:    %d (header %d)\n", i.MessageLength, i.HeaderLength)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func verifyLogCommand() *cobra.Command {
	var o batch.AuditOptions
	cmd := &cobra.Command{
		Use:   "verify-log [--audit-key KEY] [--expect-digest FILE|s3://…] FILE",
		Short: "Check a --metadata-output audit log's chain and signed digests; names the first bad line",
		Args:  usageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.S3 = batch.S3Options{EndpointURL: o.S3.EndpointURL, Region: o.Keys.Region, Profile: o.Keys.Profile, FIPS: o.Keys.FIPS}
			res, err := batch.VerifyAudit(cmd.Context(), args[0], o)
			switch {
			case err != nil && o.Key != "":
				return fmt.Errorf("%s: %w (lines 1-%d verified and signed)", args[0], err, res.Signed)
			case err != nil:
				return fmt.Errorf("%s: %w (%d lines before it verified)", args[0], err, res.Lines)
			}
			out := cmd.OutOrStdout()
			if o.Key == "" {
				fmt.Fprintf(out, "%s: chain verified, %d lines, head %s; %d digests, signatures NOT checked (no --audit-key): every line is unverified\n",
					args[0], res.Lines, res.Head, res.Digests)
				return nil
			}
			fmt.Fprintf(out, "%s: chain verified, %d lines, all signed (%d digests verified with %s), head %s\n", args[0], res.Lines, res.Digests, o.Key, res.Head)
			if o.Head != "" {
				fmt.Fprintf(out, "%s: holds the expected digest from %s\n", args[0], o.Head)
			} else {
				fmt.Fprintf(out, "%s: lines cut from the end are detected only with --expect-digest\n", args[0])
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Key, "audit-key", "", "verify digest signatures: kms-hmac:KEY, kms-sign:KEY, hmac:FILE or ed25519:FILE (private or public key)")
	fl.StringVar(&o.Head, "expect-digest", "", "FILE or s3://bucket/key holding the latest digest (--audit-head): detects a cut log")
	fl.StringVar(&o.Keys.KMSEndpoint, "kms-endpoint-url", "", "KMS endpoint URL (https, or http to a loopback address)")
	fl.StringVar(&o.S3.EndpointURL, "endpoint-url", "", "S3 endpoint URL")
	fl.StringVar(&o.Keys.Region, "region", "", "AWS region")
	fl.StringVar(&o.Keys.Profile, "profile", "", "AWS shared config profile")
	fipsFlag(cmd, &o.Keys.FIPS)
	return cmd
}

func scanCommand() *cobra.Command {
	var o batch.ScanOptions
	var keys, ctxPairs []string
	var asJSON, quiet bool
	var shard string
	cmd := &cobra.Command{
		Use:   "scan [flags] SRC | --manifest M",
		Short: "Classify each input from its header alone (encrypted, S3 Encryption Client, not encrypted); exit 1 if any is flagged",
		Args:  manifestArgs(&o.Manifest, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.RequireContext, err = batch.ParsePairs("--require-context", ctxPairs); err != nil {
				return err
			}
			if o.Shard, err = batch.ParseShard(shard, os.Getenv); err != nil {
				return err
			}
			src := ""
			if len(args) > 0 {
				src = args[0]
			}
			o.RequireKeys, o.Stdin, o.Notices = keys, cmd.InOrStdin(), cmd.ErrOrStderr()
			out := cmd.OutOrStdout()
			sum, err := batch.Scan(cmd.Context(), src, o, func(r *batch.ScanResult) {
				switch {
				case asJSON:
					b, _ := json.Marshal(r)
					fmt.Fprintf(out, "%s\n", b)
				case !quiet || r.Flagged:
					fmt.Fprintln(out, batch.FormatScanLine(r))
				}
			})
			if sum != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "scan: %d inputs: %d encrypted, %d S3 Encryption Client, %d not encrypted, %d malformed, %d unreadable; %d flagged, %d skipped\n",
					sum.Inputs, sum.ESDK, sum.S3EC, sum.Plaintext, sum.Malformed, sum.Errors, sum.Flagged, sum.Skipped)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&keys, "require-key", nil, "an encrypted input must have a data key wrapped by this key: a KMS key ARN or provider/name (repeatable: any of them)")
	fl.StringArrayVar(&ctxPairs, "require-context", nil, "pair key=value an encrypted input's context must hold (repeatable)")
	fl.IntVar(&o.MaxEDKs, "max-encrypted-data-keys", s3crypt.DefaultMaxEncryptedDataKeys, "flag headers with more encrypted data keys as malformed (0: no limit)")
	fl.IntVar(&o.Concurrency, "concurrency", 16, "inputs read at once")
	filterFlags(cmd, &o.Filters)
	fl.BoolVar(&o.FollowSymlinks, "follow-symlinks", false, "follow symbolic links in a source directory that lead out of it")
	fl.StringVar(&shard, "shard", "", "scan only shard I of N (I/N or auto/N, as encrypt's --shard; the others count as skipped)")
	fl.StringVar(&o.Manifest, "manifest", "", "scan the objects a manifest names instead of SRC: an S3 Batch Operations CSV or S3 Inventory manifest.json, a file or s3://")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object per input")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print only flagged inputs")
	fl.StringVar(&o.S3.EndpointURL, "endpoint-url", "", "S3 endpoint URL (https, or http to a loopback address)")
	fl.StringVar(&o.S3.Region, "region", "", "AWS region")
	fl.StringVar(&o.S3.Profile, "profile", "", "AWS shared config profile")
	fipsFlag(cmd, &o.S3.FIPS)
	return cmd
}

func demoCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Encrypt and decrypt synthetic lab results as on AWS (KMS keys in an in-process kmslocal, data key cache, signed audit log); no AWS account needed",
		Args:  usageArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cli.Demo(cmd.Context(), dir, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "phicrypt-demo", "working directory for the kmslocal keys, records, outputs and audit log")
	return cmd
}
