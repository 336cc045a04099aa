package batch

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"maps"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keycache"
	"github.com/phicrypt/phicrypt/s3crypt"
	"github.com/phicrypt/phicrypt/stream"
)

// Op is what a run does to each input.
type Op string

const (
	Encrypt Op = "encrypt"
	Decrypt Op = "decrypt"
	// Reencrypt decrypts each message and encrypts its plaintext again
	// under Keys in one streaming pass (DecryptKeys, if set, open it): no
	// plaintext is written anywhere, and the output keeps its input's name.
	Reencrypt Op = "reencrypt"
)

var (
	// ErrFailed reports a run in which at least one input failed; the
	// Summary names them.
	ErrFailed = errors.New("some inputs failed")

	// ErrInterrupted reports a run stopped by its context (Ctrl-C).
	ErrInterrupted = errors.New("interrupted")

	// ErrNothingMatched reports a run whose source listed names but kept
	// none: the filters, or the suffix a decrypt needs, refused them all.
	ErrNothingMatched = errors.New("nothing matched")
)

// Options configure an encrypt or decrypt run.
type Options struct {
	Keys          KeyOptions
	Context       map[string]string // encrypt: the encryption context
	ExpectContext map[string]string // decrypt: pairs the message must hold
	// ExpectContextKeys (decrypt, reencrypt): keys the message's context
	// must hold, with any value.
	ExpectContextKeys []string
	// CommitmentPolicy (decrypt, reencrypt) is the policy that opens the
	// inputs. The zero value, envelope.RequireEncryptRequireDecrypt, reads
	// key-committing messages only; RequireEncryptAllowDecrypt (or
	// ForbidEncryptAllowDecrypt) also reads ESDK 1.x's. Outputs are always
	// written with key commitment.
	CommitmentPolicy envelope.CommitmentPolicy
	// Suffix is added to each output name on encrypt and removed on
	// decrypt, which reads from a tree only the names that end in it;
	// "": EncSuffix. It may hold no "/".
	Suffix       string
	Suite        envelope.SuiteID // 0: envelope's default (0x0578)
	FrameSize    int              // 0: envelope's default (64 KiB)
	MaxFrameSize int              // decrypt: largest frame accepted; 0: envelope's default (16 MiB)
	Concurrency  int              // files at once, frame workers per large file, S3 parts in flight; 0: 4 files and a part per CPU, envelope's default workers
	MaxEDKs      int              // most encrypted data keys a message may carry; 0: no limit
	// Filters choose the inputs by name, in order, as aws s3's --include
	// and --exclude (see Filter); on decrypt they see the input names, the
	// Suffix included.
	Filters []Filter
	// Include and Exclude are the older filters: a name is kept when it
	// matches an Include glob (any, when there is none) and no Exclude
	// glob, with path.Match, a glob without "/" matching the base name at
	// any depth. With Filters too, both must keep a name.
	Include   []string
	Exclude   []string
	Overwrite bool
	// DryRun lists, maps and (SkipExisting) checks the inputs as a run
	// would, and writes one line per input to Stdout (to Notices when DST
	// is stdout) instead of processing it: no key is loaded, nothing is
	// read but listings and outputs' metadata, nothing is written, and no
	// Record goes to Audit.
	DryRun bool
	// DryRunFunc, if set, receives each DryRun input's Record instead of
	// its text line: Op, Input, Output, and Result ResultOK (would be
	// processed), ResultSkipped or ResultFailed with Error saying why.
	// The names are exact, neither quoted nor cut; calls are serialized.
	DryRunFunc func(Record)
	// Version, if set, is recorded in each Record: the program's version.
	Version string
	// SkipExisting skips, as "skipped", an input whose output exists and
	// is complete (see sink.complete); it excludes Overwrite.
	SkipExisting bool
	// Shard keeps only the shard's inputs (by name); the others are not
	// counted at all, being another process's.
	Shard Shard
	// FollowSymlinks follows symbolic links in a source directory that
	// lead out of it; without it they are skipped with a notice.
	FollowSymlinks bool

	S3 S3Options

	// DecryptKeys, for Reencrypt, are the keys that open the inputs; empty,
	// Keys open them.
	DecryptKeys KeyOptions
	// Manifest, if set, names the inputs instead of a SRC (which must be
	// empty): a local file or an s3:// object holding an S3 Batch
	// Operations CSV or an S3 Inventory manifest.json (package manifest).
	Manifest string

	// InPlace lets Reencrypt write each S3 output over its input, as a new
	// version: the source and destination must be the same s3:// prefix of
	// a bucket with versioning enabled, so the old version remains.
	InPlace bool

	// Materials, if set, are the run's keys, loaded once by the caller
	// (LoadKeys) and shared by several runs, so that a data key cache
	// outlives a run (a warm Lambda function); Keys is then ignored.
	// DecryptMaterials likewise replaces DecryptKeys.
	Materials, DecryptMaterials *Keys
	// S3Client, if set, is the S3 client of the run; S3's connection
	// fields are then ignored (its object headers are not).
	S3Client *s3.Client
	// SingleObject makes an s3:// SRC exactly one object, never a prefix:
	// a missing object fails the run instead of listing SRC/. VersionID,
	// if set (it implies SingleObject), is the version read. The S3 Batch
	// Operations Lambda handler sets both.
	SingleObject bool
	VersionID    string

	// Audit, if set, receives one Record per input.
	Audit *AuditLog
	// Progress, if set, is told of every byte read and input finished.
	Progress Progress

	Stdin  io.Reader
	Stdout io.Writer
	// Notices, if set, receives one line per notice: a symbolic link
	// skipped, a stale temporary file removed.
	Notices io.Writer

	s3    *s3Conn // made on first use
	notes *notifier
}

// The results of an input, in Record.Result and Progress.FileDone.
const (
	ResultOK          = "ok"
	ResultFailed      = "failed"
	ResultInterrupted = "interrupted"
	ResultSkipped     = "skipped" // its output exists and is complete (SkipExisting)
)

// Progress is told of a run's advance, from several goroutines at once.
// The listing streams into the workers, so inputs are processed while
// more are still being listed: the totals are known only once
// ListingDone was called.
type Progress interface {
	// Start is called once, before the listing begins.
	Start()
	// Listed records n more inputs listed, of bytes known bytes (an
	// unknown size counts as 0).
	Listed(n int, bytes int64)
	// ListingDone is called once, when the listing ended (or stopped on
	// an error or an interrupt): what Listed recorded is then the total.
	ListingDone()
	// Add records n more input bytes read.
	Add(n int64)
	// FileDone records one input finished with a Result.
	FileDone(result string)
	// Skipped records n inputs skipped before they were processed.
	Skipped(n int)
	// Stop is called once, after the last input.
	Stop()
}

// Failure names an input that failed.
type Failure struct {
	Input string `json:"input"`
	Error string `json:"error"`
	Err   error  `json:"-"` // the error itself, for errors.Is and errors.As
}

// MaxFailures is how many failures, and how many skipped inputs, a
// Summary names; the rest are counted in FailuresOmitted and SkipsOmitted
// (the audit log, if any, has a line for each failure).
const MaxFailures = 1000

// Skip names an input skipped for a reason other than the filters.
type Skip struct {
	Input  string `json:"input"`
	Reason string `json:"reason"`
}

// Summary describes a finished run.
type Summary struct {
	Op              Op              `json:"op"`
	Files           int             `json:"files"`
	OK              int             `json:"ok"`
	Failed          int             `json:"failed"`
	Skipped         int             `json:"skipped"`
	Filtered        int             `json:"filtered"` // of Skipped, the names the filters refused
	DryRun          bool            `json:"dry_run,omitempty"`
	BytesIn         int64           `json:"bytes_in"`
	BytesOut        int64           `json:"bytes_out"`
	Seconds         float64         `json:"seconds"`
	Interrupted     bool            `json:"interrupted,omitempty"`
	Failures        []Failure       `json:"failures,omitempty"`         // the first MaxFailures, by input
	FailuresOmitted int             `json:"failures_omitted,omitempty"` // the failures past MaxFailures
	Skips           []Skip          `json:"skips,omitempty"`            // the first MaxFailures skipped inputs but the Filtered ones
	SkipsOmitted    int             `json:"skips_omitted,omitempty"`
	Cache           *keycache.Stats `json:"cache,omitempty"`
	// KMSRequests counts the requests sent to AWS KMS (GenerateDataKey,
	// Encrypt, Decrypt, DescribeKey), the run's KMS bill.
	KMSRequests int64 `json:"kms_requests"`
}

// bigFile is the input size from which one file's frames are sealed or
// opened on several workers; below it, files are parallel only across.
const bigFile = 4 << 20

// job is one input and where its result goes.
type job struct {
	in     item
	target string
	below  string // target below the sink's root
	src    source
	dst    sink
	err    error // set when planning refused the input
	// release, if set, frees the job's place among the files at once;
	// idle calls it once.
	release func()
	// input, if set, is the open input; closeInput closes it once.
	input io.Closer
}

// closeInput closes j's input, if open: once j only waits for its output's
// commit, so that a job waiting holds no more than its output open.
func (j *job) closeInput() {
	if j.input != nil {
		j.input.Close()
		j.input = nil
	}
}

// idle frees j's place among the files at once, when j is done or only
// waits for its output's commit.
func (j *job) idle() {
	if j.release != nil {
		j.release()
		j.release = nil
	}
}

// Run encrypts or decrypts src into dst, each input as soon as it is
// listed. It processes every input even when some fail; the error is
// ErrFailed or ErrInterrupted (wrapped) when inputs failed, the listing's
// when it failed midway (the inputs listed before it were processed), or
// another error when nothing could start.
func Run(ctx context.Context, op Op, src, dst string, o Options) (*Summary, error) {
	start := time.Now()
	sum := &Summary{Op: op}
	o.notes = &notifier{w: o.Notices}
	if o.SkipExisting && o.Overwrite {
		return sum, fmt.Errorf("%w: --skip-existing and --overwrite exclude each other", ErrUsage)
	}
	if err := o.S3.CheckPut(); err != nil {
		return sum, err
	}
	p, err := prepare(ctx, op, src, dst, &o)
	if err != nil {
		return sum, err
	}
	defer p.close()
	workers, files := concurrency(o.Concurrency)
	r := &runner{op: op, o: &o, workers: workers}
	keys, dkeys := &Keys{}, &Keys{}
	if o.DryRun {
		sum.DryRun = true
		r.dry = &notifier{w: o.Stdout, prefix: "(dryrun) "}
		if p.stdout {
			r.dry.w = o.Notices
		}
	} else if keys, dkeys, r.client, r.dclient, err = o.clients(ctx, op); err != nil {
		return sum, err
	}
	kmsBefore, dkmsBefore := keys.KMSRequests(), dkeys.KMSRequests() // shared Materials count across runs
	if o.Progress != nil {
		o.Progress.Start()
		defer o.Progress.Stop()
	}
	listed, lerr := r.runJobs(ctx, p, files, sum)
	p.close()
	sum.Skipped += p.skipped
	sum.Filtered = p.in.filtered
	for _, s := range p.in.skips {
		sum.skip(s)
	}
	sum.SkipsOmitted += p.in.skipsOmitted
	sort.Slice(sum.Failures, func(a, b int) bool { return sum.Failures[a].Input < sum.Failures[b].Input })
	sum.Cache = keys.CacheStats()
	sum.KMSRequests = keys.KMSRequests() - kmsBefore
	if dkeys != keys {
		if sum.Cache == nil {
			sum.Cache = dkeys.CacheStats()
		}
		sum.KMSRequests += dkeys.KMSRequests() - dkmsBefore
	}
	sum.Seconds = time.Since(start).Seconds()
	switch {
	case ctx.Err() != nil:
		sum.Interrupted = true
		return sum, fmt.Errorf("%w: %d of %d inputs listed were done", ErrInterrupted, sum.OK, listed)
	case lerr != nil && sum.Failed > 0:
		return sum, fmt.Errorf("%s: %w; of the %d inputs listed before, %w: %d", src, lerr, listed, ErrFailed, sum.Failed)
	case lerr != nil:
		return sum, fmt.Errorf("%s: %w", src, lerr)
	case sum.Failed > 0:
		return sum, fmt.Errorf("%w: %d of %d", ErrFailed, sum.Failed, listed)
	case p.in.names > 0 && p.in.kept == 0:
		return sum, p.in.nothingMatched()
	}
	return sum, nil
}

// clients loads the run's keys and makes the client that writes outputs
// and the one that opens inputs (the same, but for Reencrypt with other
// keys or a commitment policy).
func (o *Options) clients(ctx context.Context, op Op) (keys, dkeys *Keys, client, dclient *envelope.Client, err error) {
	if keys, dkeys, err = o.loadKeys(ctx, op); err != nil {
		return nil, nil, nil, nil, err
	}
	limit := envelope.WithMaxEncryptedDataKeys(o.MaxEDKs)
	policy := envelope.WithCommitmentPolicy(o.CommitmentPolicy)
	if op == Decrypt {
		client, err = envelope.NewWithMaterialsManager(keys.CMM, limit, policy)
		return keys, keys, client, client, err
	}
	if client, err = envelope.NewWithMaterialsManager(keys.CMM, limit); err != nil {
		return nil, nil, nil, nil, err
	}
	dclient = client
	if op == Reencrypt && (dkeys != keys || o.CommitmentPolicy != envelope.RequireEncryptRequireDecrypt) {
		dclient, err = envelope.NewWithMaterialsManager(dkeys.CMM, limit, policy)
	}
	return keys, dkeys, client, dclient, err
}

// loadKeys returns the keys that write outputs and those that open inputs
// (the same unless Reencrypt has DecryptKeys).
func (o *Options) loadKeys(ctx context.Context, op Op) (keys, dkeys *Keys, err error) {
	keys = o.Materials
	if keys == nil {
		if keys, err = LoadKeys(ctx, o.Keys, op != Decrypt); err != nil {
			return nil, nil, err
		}
	}
	if op != Reencrypt {
		return keys, keys, nil
	}
	switch {
	case o.DecryptMaterials != nil:
		return keys, o.DecryptMaterials, nil
	case len(o.DecryptKeys.Specs) > 0:
		dkeys, err = LoadKeys(ctx, o.DecryptKeys, false)
		return keys, dkeys, err
	}
	// The encrypting keys open too: an RSA public key cannot, and says so.
	if o.Materials == nil {
		dkeys, err = LoadKeys(ctx, o.Keys, false)
		return keys, dkeys, err
	}
	return keys, keys, nil
}

// concurrency maps Options.Concurrency to S3 parts in flight per object and
// files at once; n > 0 is both. (Frame workers: see workersFor.)
func concurrency(n int) (workers, files int) {
	// Per object, as many parts as CPUs; across files, more run at once
	// than there are CPUs, so that one file's fsync overlaps others'
	// encryption.
	if n > 0 {
		return n, n
	}
	n = runtime.GOMAXPROCS(0)
	return n, 4 * n
}

// listAhead is how many listed inputs wait for a worker at most: the
// listing runs that far ahead of the work, and no further.
const listAhead = 1000

// commitAhead is how many local outputs, written, may wait for their group
// commit (see groupCommit) beyond the files at once: while they wait, the
// next files are encrypted, and join the next group.
const commitAhead = 128

// runJobs lists p's inputs on this goroutine into up to files workers,
// which process them in listing order as they arrive, and tallies every
// record into sum. A job that waits for its local output's commit leaves
// its place to another (job.idle), up to commitAhead of them. Once ctx is
// cancelled the listing stops and inputs listed but not started are
// counted as failed, "not started". It returns when every listed input is
// accounted for, with their number and the error that ended the listing
// early, if any.
func (r *runner) runJobs(ctx context.Context, p *plan, files int, sum *Summary) (int, error) {
	var mu sync.Mutex
	ch := make(chan *job, listAhead)
	active := make(chan struct{}, files) // a token per job between start and idle
	slots := files
	if _, ok := p.dst.(*localSink); ok {
		slots += commitAhead
	}
	var wg sync.WaitGroup
	for range slots {
		wg.Go(func() {
			for j := range ch {
				active <- struct{}{}
				j.release = func() { <-active }
				if ctx.Err() != nil {
					j.idle()
					mu.Lock()
					sum.notStarted(j)
					mu.Unlock()
					continue
				}
				rec := r.process(ctx, j)
				j.idle()
				mu.Lock()
				sum.add(rec)
				mu.Unlock()
			}
		})
	}
	listed, err := p.list(ctx, r.o.Progress, func(j *job) error {
		select {
		case ch <- j:
			return nil
		case <-ctx.Done():
			mu.Lock()
			sum.notStarted(j)
			mu.Unlock()
			return ctx.Err()
		}
	})
	close(ch)
	wg.Wait()
	if ctx.Err() != nil {
		err = nil // an interrupt, not a listing that failed
	}
	return listed, err
}

// process runs j, then appends its record to the audit log (an append
// failure fails the input; a skipped input writes no line: the run that
// wrote its output did) and tells the progress display it is done.
func (r *runner) process(ctx context.Context, j *job) Record {
	rec := r.do(ctx, j)
	if r.o.Audit != nil && rec.Result != ResultSkipped && !r.o.DryRun {
		if err := r.o.Audit.Append(rec); err != nil {
			rec.Result, rec.Error, rec.err = ResultFailed, "audit log: "+err.Error(), err
		}
	}
	if r.o.Progress != nil {
		r.o.Progress.FileDone(rec.Result)
	}
	return rec
}

// add counts one finished input; the caller serializes calls.
func (s *Summary) add(rec Record) {
	s.Files++
	s.BytesIn += rec.BytesIn
	s.BytesOut += rec.BytesOut
	switch rec.Result {
	case ResultOK:
		s.OK++
	case ResultSkipped:
		s.Skipped++
		s.skip(Skip{Input: rec.Input, Reason: rec.Error})
	default:
		s.fail(Failure{Input: rec.Input, Error: rec.Error, Err: rec.err})
	}
}

// skip names a skipped input among the first MaxFailures.
func (s *Summary) skip(k Skip) {
	if len(s.Skips) < MaxFailures {
		s.Skips = append(s.Skips, k)
	} else {
		s.SkipsOmitted++
	}
}

// notStarted counts an input listed but never started, because of an
// interrupt, as failed; the caller serializes calls.
func (s *Summary) notStarted(j *job) {
	s.fail(Failure{Input: j.in.name, Error: "not started: " + ErrInterrupted.Error(), Err: ErrInterrupted})
}

// fail counts a failure, naming it among the first MaxFailures.
func (s *Summary) fail(f Failure) {
	s.Failed++
	if len(s.Failures) < MaxFailures {
		s.Failures = append(s.Failures, f)
	} else {
		s.FailuresOmitted++
	}
}

// plan is where a run's inputs come from and its outputs go.
type plan struct {
	op     Op
	src    source
	dst    sink
	in     *inputKeep
	single bool
	stdout bool // dst is stdout
	shard  Shard
	suffix string
	// skipped counts what the listing skipped (see source.list); set by list.
	skipped int
	// outputs, for a local destination of a tree or an S3 one of a
	// manifest, holds a hash of each output so far, to tell inputs that
	// share one (ErrSameOutput).
	outputs *outputSet
	inPlace bool // Options.InPlace: an S3 output replaces its input
	closed  bool
}

// prepare parses src and dst, checks that they can work together, and
// finds whether src is a single input; nothing is listed yet.
func prepare(ctx context.Context, op Op, src, dst string, o *Options) (*plan, error) {
	if err := o.Shard.check(); err != nil {
		return nil, err
	}
	if o.Manifest != "" {
		if src != "" {
			return nil, fmt.Errorf("%w: a manifest names the inputs: no SRC with --manifest", ErrUsage)
		}
		src = o.Manifest
	}
	sl, err := parseLocation(src)
	if err != nil {
		return nil, err
	}
	dl, err := parseLocation(dst)
	if err != nil {
		return nil, err
	}
	if o.Manifest != "" {
		if o.InPlace {
			return nil, fmt.Errorf("%w: --in-place with --manifest", ErrUsage)
		}
		sl = location{kind: locS3} // objects, for the filter
	}
	in, err := inputFilter(op, sl, dl, o)
	if err != nil {
		return nil, err
	}
	var s source
	if o.Manifest != "" {
		s, err = newManifestSource(ctx, o.Manifest, o)
	} else if err = checkInPlace(ctx, op, sl, dl, o); err == nil {
		s, err = newSource(ctx, sl, o)
	}
	if err != nil {
		return nil, err
	}
	single, err := s.single(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if !single && dl.kind == locStdio {
		return nil, fmt.Errorf("%w: %s holds many inputs; write them to a directory or s3:// prefix, not to stdout", ErrUsage, src)
	}
	d, err := newSink(ctx, dl, op, o)
	if err != nil {
		return nil, err
	}
	if ls, ok := d.(*localSink); ok && in.inPlace {
		// Its directories are the source's: a name there that looks
		// like a stale temporary file may be an input (see keep).
		ls.keepStale = true
	}
	if ls, ok := d.(*localSink); ok && o.Audit != nil && o.Audit.f != nil {
		// An input named after the log (decrypting "audit.jsonl.enc"
		// next to --metadata-output audit.jsonl) would, with
		// --overwrite, replace it: its lines, and those written after,
		// to the unlinked file, lost.
		if fi, err := o.Audit.f.Stat(); err == nil {
			ls.audit = fi
		}
	}
	p := &plan{op: op, src: s, dst: d, in: in, single: single, stdout: dl.kind == locStdio, shard: o.Shard, suffix: in.suffix, inPlace: o.InPlace}
	switch {
	case dl.kind == locLocal && !single:
		p.outputs = newOutputSet(false)
	case dl.kind == locS3 && o.Manifest != "":
		// A manifest may name one key twice, or in two buckets: without
		// the set both uploads succeed and the later replaces the
		// earlier. (A prefix's listing names each key once.)
		p.outputs = newOutputSet(true)
	}
	return p, nil
}

// list lists the inputs, maps each to its output and calls yield with
// the shard's, in listing order, telling pr (if not nil) as it goes. It
// returns the number of inputs yielded and the error that ended the
// listing, if any.
func (p *plan) list(ctx context.Context, pr Progress, yield func(*job) error) (int, error) {
	listed := 0
	var err error
	p.skipped, err = p.src.list(ctx, p.in.keep, func(it item) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		j := &job{in: it, src: p.src, dst: p.dst}
		j.target, j.below, j.err = p.dst.target(OutputName(p.op, it.rel, p.suffix), p.single)
		// Before sharding, so that of two inputs sharing an output the
		// later fails in whichever shard holds it.
		if j.err == nil && p.outputs != nil && !p.outputs.add(j.target) {
			j.err = fmt.Errorf("%w: %s is also the output of an input listed before", ErrSameOutput, Quote(j.target))
		}
		if _, ok := p.dst.(*s3Sink); ok && j.err == nil && it.bucket != "" && !p.inPlace && j.target == s3Name(it.bucket, it.path) {
			// "encrypt s3://b/k s3://b/k --overwrite": the object
			// itself, as ErrSameFile keeps a local input.
			j.err = fmt.Errorf("%s: %w", Quote(j.target), ErrSameFile)
		}
		if !p.shard.has(it.rel) {
			return nil
		}
		listed++
		if pr != nil {
			pr.Listed(1, max(it.size, 0))
		}
		return yield(j)
	})
	if pr != nil {
		pr.Skipped(p.skipped)
		pr.ListingDone()
	}
	return listed, err
}

// close flushes the sink and closes the source, once.
func (p *plan) close() {
	if p.closed {
		return
	}
	p.closed = true
	if f, ok := p.dst.(interface{ flush() }); ok {
		f.flush()
	}
	if c, ok := p.src.(interface{ close() }); ok {
		c.close()
	}
}

// inputKeep is which names below src a run keeps: those the filters
// keep, only those ending in the suffix on decrypt, and none that end in
// it when encrypting a local directory into itself. It counts and names
// (the first MaxFailures) what it refuses. The listing calls keep on one
// goroutine.
type inputKeep struct {
	f       *filters
	suffix  string
	decrypt bool // keep only names ending in suffix
	inPlace bool // a local directory, or an S3 prefix, into itself: see keep
	// belowDst, for an S3 destination inside the source, is where it is
	// below the source ("enc/"): names there are outputs, not inputs.
	belowDst string

	names, kept, filtered int
	skips                 []Skip // the first MaxFailures
	skipsOmitted          int
}

func (k *inputKeep) keep(rel string) bool {
	k.names++
	if !k.f.keep(rel) {
		k.filtered++
		return false
	}
	has := strings.HasSuffix(rel, k.suffix)
	switch {
	case k.belowDst != "" && strings.HasPrefix(rel, k.belowDst):
		k.skip(rel, "below the destination, inside the source: outputs are not read as inputs")
		return false
	case k.decrypt && !has:
		k.skip(rel, "no "+Quote(k.suffix)+" suffix (--suffix names another)")
		return false
	case k.inPlace && !k.decrypt && has:
		k.skip(rel, "already has the "+Quote(k.suffix)+" suffix, in the directory encrypted into itself")
		return false
	case k.inPlace && k.decrypt && strings.HasSuffix(strings.TrimSuffix(rel, k.suffix), k.suffix):
		k.skip(rel, "its output would be an input, in the directory decrypted into itself")
		return false
	case k.inPlace && staleTmpPID(path.Base(rel)) != 0:
		k.skip(rel, "named as s3crypt's temporary files are, in the directory written into itself: neither read nor removed")
		return false
	}
	k.kept++
	return true
}

func (k *inputKeep) skip(rel, reason string) {
	if len(k.skips) < MaxFailures {
		k.skips = append(k.skips, Skip{Input: rel, Reason: reason})
	} else {
		k.skipsOmitted++
	}
}

// nothingMatched says why no name was kept.
func (k *inputKeep) nothingMatched() error {
	var why []string
	if k.filtered > 0 {
		why = append(why, fmt.Sprintf("%d by --include/--exclude", k.filtered))
	}
	if n := k.names - k.filtered; n > 0 && k.inPlace && !k.decrypt {
		why = append(why, fmt.Sprintf("%d already have the %s suffix", n, Quote(k.suffix)))
	} else if n > 0 {
		why = append(why, fmt.Sprintf("%d lack the %s suffix (--suffix names another)", n, Quote(k.suffix)))
	}
	return fmt.Errorf("%w: %d names listed, all filtered out: %s", ErrNothingMatched, k.names, strings.Join(why, ", "))
}

// inputFilter makes the inputKeep of a run. It refuses bad globs and
// suffixes, and a local destination inside the source.
func inputFilter(op Op, sl, dl location, o *Options) (*inputKeep, error) {
	f, err := newFilters(o.Filters, o.Include, o.Exclude)
	if err != nil {
		return nil, err
	}
	k := &inputKeep{f: f, suffix: cmp.Or(o.Suffix, EncSuffix), decrypt: op == Decrypt}
	if k.suffix == "." || strings.ContainsAny(k.suffix, "/\\\x00") {
		return nil, fmt.Errorf("%w: suffix %s: want a name ending such as .enc, without / or \\", ErrUsage, Quote(k.suffix))
	}
	if sl.kind == locLocal && dl.kind == locLocal {
		if err := checkOverlap(sl.path, dl.path); err != nil {
			return nil, err
		}
		k.inPlace = sameDir(sl.path, dl.path)
	}
	if sl.kind == locS3 && dl.kind == locS3 && sl.bucket == dl.bucket {
		src, dst := s3Folder(sl.key), s3Folder(dl.key)
		if op != Reencrypt && src == dst {
			// A prefix encrypted or decrypted into itself: its outputs
			// land among its inputs, where the listing's later pages
			// would meet them. (Reencrypt's outputs are its inputs:
			// --in-place only.)
			k.inPlace = true
		}
		if below, ok := strings.CutPrefix(dst, src); ok && below != "" {
			// DST inside SRC ("s3://b/" into "s3://b/enc/"): what is
			// below DST, this run's outputs among it, is no input.
			k.belowDst = below
		}
	}
	return k, nil
}

// s3Overlap reports whether S3 locations a and b are in one bucket and
// one's key, as a folder, holds the other's: "s3://b/p" and "s3://b/p/",
// or "s3://b/p/" and "s3://b/p/q/" (an object, "s3://b/p/x", too).
func s3Overlap(a, b location) bool {
	if a.kind != locS3 || b.kind != locS3 || a.bucket != b.bucket {
		return false
	}
	ka, kb := s3Folder(a.key), s3Folder(b.key)
	return strings.HasPrefix(ka, kb) || strings.HasPrefix(kb, ka)
}

// s3Folder is key as a prefix holding objects: "p" and "p/" are "p/".
func s3Folder(key string) string {
	if key != "" && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	return key
}

// ErrNotVersioned reports an in-place Reencrypt in a bucket without
// versioning, where each old message would be gone for good.
var ErrNotVersioned = errors.New("bucket versioning is not enabled")

// checkInPlace refuses a run whose outputs would replace its inputs, but
// for an InPlace Reencrypt of an S3 prefix in a versioned bucket.
func checkInPlace(ctx context.Context, op Op, sl, dl location, o *Options) error {
	same := sl.kind == dl.kind && sl.String() == dl.String()
	if sl.kind == locLocal && dl.kind == locLocal {
		same = sameDir(sl.path, dl.path)
	}
	switch {
	case o.InPlace && op != Reencrypt:
		return fmt.Errorf("%w: --in-place is for reencrypt", ErrUsage)
	case o.InPlace && (sl.kind != locS3 || !same):
		return fmt.Errorf("%w: --in-place needs SRC and DST to be the same s3:// location", ErrUsage)
	case o.InPlace && o.SkipExisting:
		return fmt.Errorf("%w: --in-place and --skip-existing exclude each other: every input exists as its output", ErrUsage)
	case same && op == Reencrypt && !o.InPlace:
		return fmt.Errorf("%w: reencrypt %s to itself would replace its inputs: give another DST, or --in-place for an s3:// location in a versioned bucket", ErrUsage, sl)
	case op == Reencrypt && !o.InPlace && s3Overlap(sl, dl):
		// An output keeps its input's name below DST: with SRC and DST
		// one prefix ("s3://b/p" and "s3://b/p/") or one inside the
		// other, an output is an input's key (and the listing meets
		// the outputs written into it).
		return fmt.Errorf("%w: reencrypt %s to %s would replace its inputs: give a DST outside SRC, or --in-place for an s3:// location in a versioned bucket", ErrUsage, Quote(sl.String()), Quote(dl.String()))
	case !o.InPlace:
		return nil
	}
	c, err := connectS3(ctx, o)
	if err != nil {
		return err
	}
	v, err := c.api.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &sl.bucket})
	if err != nil {
		return fmt.Errorf("--in-place: %s: %w", Quote(sl.bucket), err)
	}
	if v.Status != types.BucketVersioningStatusEnabled {
		return fmt.Errorf("--in-place: %s: %w (status %q): the old messages would be lost", Quote(sl.bucket), ErrNotVersioned, v.Status)
	}
	return nil
}

// outputSet holds a 64-bit hash, seeded anew for each run, of each local
// output's sameOutputKey (an S3 output's name as it is), in an
// open-addressing table at most 3/4 full: 8 to 16 bytes per input (16 MB
// for a million), instead of its name. A hash found again is taken for a
// shared output; two distinct names collide with odds of about n²/2⁶⁵ (1
// in 37 million for a million inputs), and then fail the later input
// conservatively, differently in a rerun, whose seed differs.
type outputSet struct {
	seed  maphash.Seed
	slots []uint64 // a power of two long; 0 marks a free slot
	n     int
	exact bool // S3 keys: compared as they are, neither cleaned nor case-folded
}

// newOutputSet returns an empty set; exact for S3 keys.
func newOutputSet(exact bool) *outputSet {
	return &outputSet{seed: maphash.MakeSeed(), slots: make([]uint64, 1024), exact: exact}
}

// add records target's output and reports whether it is new.
func (o *outputSet) add(target string) bool {
	if !o.exact {
		target = sameOutputKey(target)
	}
	h := max(maphash.String(o.seed, target), 1)
	if 4*(o.n+1) > 3*len(o.slots) {
		old := o.slots
		o.slots = make([]uint64, 2*len(old))
		for _, v := range old {
			if v != 0 {
				o.insert(v)
			}
		}
	}
	if !o.insert(h) {
		return false
	}
	o.n++
	return true
}

// insert puts h in its slot, or reports false when it is there already.
func (o *outputSet) insert(h uint64) bool {
	mask := uint64(len(o.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch o.slots[i] {
		case 0:
			o.slots[i] = h
			return true
		case h:
			return false
		}
	}
}

// sameOutputKey is what two local targets share when they name one
// output: their cleaned path, case-folded on systems that usually ignore
// case.
func sameOutputKey(target string) string {
	target = filepath.Clean(target)
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return strings.ToLower(target)
	}
	return target
}

func newSource(ctx context.Context, l location, o *Options) (source, error) {
	switch l.kind {
	case locStdio:
		return stdinSource{o.Stdin}, nil
	case locS3:
		return newS3Source(ctx, l, o)
	}
	return &localSource{root: l.path, follow: o.FollowSymlinks, notes: o.notes}, nil
}

func newSink(ctx context.Context, l location, op Op, o *Options) (sink, error) {
	switch l.kind {
	case locStdio:
		return stdoutSink{w: o.Stdout, spool: op == Decrypt}, nil
	case locS3:
		return newS3Sink(ctx, l, o)
	}
	return newLocalSink(l.path, o.notes), nil
}

// OutputName is the output name of rel, an input's name below its source:
// suffix added on encrypt; removed on decrypt, or ".dec" added to a name
// without it; the same name on reencrypt.
func OutputName(op Op, rel, suffix string) string {
	switch op {
	case Encrypt:
		return rel + suffix
	case Reencrypt:
		return rel
	}
	if s, ok := strings.CutSuffix(rel, suffix); ok && !strings.HasSuffix(s, "/") && s != "" {
		return s
	}
	return rel + ".dec"
}

// checkOverlap refuses a destination inside a source tree (other than the
// source itself), whose outputs the walk could meet again, and a source
// inside a destination tree, where an output can land on an input (the
// output of src/x can be the input x.enc). Paths are compared resolved
// (resolvedPath): a symbolic link is the directory it leads to.
func checkOverlap(src, dst string) error {
	as, ad := resolvedPath(src), resolvedPath(dst)
	if as == "" || ad == "" || as == ad {
		return nil
	}
	sep := string(filepath.Separator)
	switch {
	case strings.HasPrefix(ad, strings.TrimSuffix(as, sep)+sep):
		return fmt.Errorf("%w: destination %s is inside source %s", ErrUsage, Quote(dst), Quote(src))
	case strings.HasPrefix(as, strings.TrimSuffix(ad, sep)+sep):
		return fmt.Errorf("%w: source %s is inside destination %s, where an output could replace an input", ErrUsage, Quote(src), Quote(dst))
	}
	return nil
}

// sameDir reports whether a and b are one directory, links resolved.
func sameDir(a, b string) bool {
	ra, rb := resolvedPath(a), resolvedPath(b)
	return ra != "" && ra == rb
}

// resolvedPath returns p absolute with every symbolic link in it resolved:
// its longest existing ancestor through filepath.EvalSymlinks, then the
// names below it that do not exist yet. "" if p cannot be made absolute.
func resolvedPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	var rest []string
	for {
		if r, err := filepath.EvalSymlinks(a); err == nil {
			slices.Reverse(rest)
			return filepath.Join(append([]string{r}, rest...)...)
		}
		parent := filepath.Dir(a)
		if parent == a {
			return filepath.Clean(p)
		}
		rest = append(rest, filepath.Base(a))
		a = parent
	}
}

type runner struct {
	op      Op
	o       *Options
	dry     *notifier        // DryRun's lines
	client  *envelope.Client // writes outputs (and opens inputs but for Reencrypt)
	dclient *envelope.Client // opens inputs
	workers int              // S3 parts in flight per object (see concurrency)

	bufs  sync.Pool // *[]byte of copyBufSize, for encrypt's copy
	small sync.Pool // *smallBufs, for small local files (see doSmall)

	s3once, s3donce sync.Once
	s3c, s3dc       *s3crypt.Client
	s3err, s3derr   error
}

// do processes one job and returns its audit record.
func (r *runner) do(ctx context.Context, j *job) Record {
	start := time.Now()
	rec := Record{Op: string(r.op), Input: j.in.name, Output: j.target, Version: r.o.Version}
	var err error
	skip := false
	if j.err == nil && r.o.SkipExisting {
		skip, j.err = j.dst.complete(ctx, j.target, r.op, r.o.Suite)
	}
	switch {
	case skip:
		rec.Result, rec.Error = ResultSkipped, "its output exists and is complete (--skip-existing)"
		r.dryLine(rec, "skip: %s: its output %s exists", Printable(j.in.name), Printable(j.target))
		return rec
	case r.o.DryRun && j.err != nil:
		rec.Result, rec.Error, rec.err = ResultFailed, j.err.Error(), j.err
		r.dryLine(rec, "would fail: %s: %s", Printable(j.in.name), Printable(j.err.Error()))
		return rec
	case r.o.DryRun:
		rec.Result, rec.BytesIn = ResultOK, max(j.in.size, 0)
		r.dryLine(rec, "%s: %s to %s", r.op, Printable(j.in.name), Printable(j.target))
		return rec
	}
	if j.err != nil {
		err = j.err // refused when planned, or its output could not be checked
	} else if s3src, ok := j.src.(s3Backed); ok && r.op != Encrypt {
		err = r.decryptS3(ctx, j, s3src.conn(), &rec)
	} else if in, oerr := j.src.open(ctx, j.in); oerr != nil {
		err = oerr
	} else {
		j.input = in
		cr := &countReader{r: in, ctx: ctx, p: r.o.Progress}
		if f, ok := r.smallInput(j, in); ok {
			err = r.doSmall(ctx, j, cr, f, &rec) // readWhole checks the file
		} else {
			var src io.Reader = cr
			if f, ok := in.(statter); ok {
				src = &unchangedReader{r: cr, f: f, size: j.in.size}
			}
			if r.op == Encrypt {
				err = r.encrypt(ctx, j, src, j.in.size, r.o.Context, &rec)
			} else {
				err = r.decrypt(ctx, j, src, &rec)
			}
		}
		j.closeInput()
		rec.BytesIn = cr.n
	}
	rec.Time = start.UTC().Format(time.RFC3339Nano)
	rec.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	switch {
	case err == nil:
		rec.Result = ResultOK
	case ctx.Err() != nil:
		rec.Result, rec.Error, rec.err = ResultInterrupted, ErrInterrupted.Error(), fmt.Errorf("%w: %w", ErrInterrupted, err)
	default:
		rec.Result, rec.Error, rec.err = ResultFailed, err.Error(), err
	}
	return rec
}

// dryLine reports a dry run's input: rec to Options.DryRunFunc, if set,
// else the text line to r.dry; nothing outside a dry run (r.dry nil).
func (r *runner) dryLine(rec Record, format string, args ...any) {
	if r.dry == nil {
		return
	}
	if f := r.o.DryRunFunc; f != nil {
		r.dry.mu.Lock()
		defer r.dry.mu.Unlock()
		f(rec)
		return
	}
	r.dry.printf(format, args...)
}

// copyBufSize is the size of the buffer encrypt copies its input through.
const copyBufSize = 256 << 10

// copyBuf returns a buffer of copyBufSize from r.bufs, or a new one.
func (r *runner) copyBuf() *[]byte {
	if b, ok := r.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, copyBufSize)
	return &b
}

// workersFor returns the frame workers of an input of size bytes (< 0:
// unknown): 1 below bigFile; else Options.Concurrency, or, when that is
// unset, 0: envelope's default, one per CPU, or one fewer for a signing
// suite, whose hash needs a core of its own.
func (r *runner) workersFor(size int64) int {
	if size >= 0 && size < bigFile {
		return 1
	}
	return min(max(r.o.Concurrency, 0), stream.MaxWorkers)
}

// encrypt encrypts size bytes (< 0: unknown) of in under ec into j's output.
func (r *runner) encrypt(ctx context.Context, j *job, in io.Reader, size int64, ec map[string]string, rec *Record) error {
	opts := []envelope.EncryptOption{envelope.WithFrameWorkers(r.workersFor(j.in.size))}
	if r.o.Suite != 0 {
		opts = append(opts, envelope.WithSuite(r.o.Suite))
	}
	if r.o.FrameSize != 0 {
		opts = append(opts, envelope.WithFrameLength(r.o.FrameSize))
	}
	if ec == nil {
		ec = map[string]string{}
	}
	if s, ok := j.dst.(*s3Sink); ok {
		return r.encryptS3(ctx, j, s, in, size, ec, opts, rec)
	}
	if size >= 0 {
		opts = append(opts, envelope.WithPlaintextLength(size))
	}
	out, err := j.dst.create(ctx, j.target, j.below, j.in, r.o.Overwrite)
	if err != nil {
		return err
	}
	defer out.abort()
	cw := &countWriter{w: out}
	w, err := r.client.NewEncryptWriter(ctx, cw, ec, opts...)
	if err != nil {
		return err
	}
	describe(rec, w.Header())
	buf := r.copyBuf()
	_, err = io.CopyBuffer(w, in, *buf)
	r.bufs.Put(buf)
	if err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return commit(ctx, j, out, cw, rec)
}

// commit publishes out unless ctx was cancelled meanwhile. j waits for it
// idle, its input (read to the end) closed: another job takes its place
// meanwhile.
func commit(ctx context.Context, j *job, out output, cw *countWriter, rec *Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.closeInput()
	j.idle()
	if err := out.commit(); err != nil {
		return err
	}
	rec.BytesOut = cw.n
	return nil
}

func (r *runner) decrypt(ctx context.Context, j *job, in io.Reader, rec *Record) error {
	opts := []envelope.DecryptOption{envelope.WithFrameWorkers(r.workersFor(j.in.size))}
	if len(r.o.ExpectContext) > 0 {
		opts = append(opts, envelope.WithExpectedContext(r.o.ExpectContext))
	}
	opts = r.o.maxFrameOption(opts)
	// The header, read ahead without consuming it, to refuse a wrong
	// context before any key is used and to name the keys on failure. A
	// header longer than the peek is left to envelope alone.
	h, src, herr := peekHeader(in)
	if herr == nil && r.op == Decrypt {
		describe(rec, h) // for a failure's record; replaced once authenticated
	}
	if herr == nil {
		if err := r.o.checkContext(h); err != nil {
			return err
		}
	}
	d, err := r.dclient.NewDecryptReader(ctx, src, opts...)
	if err != nil {
		err = frameLimitHint(err)
		if herr == nil && errors.Is(err, envelope.ErrNoDecryptionKey) {
			return withKeysHint(err, h)
		}
		return err
	}
	if err := r.o.checkContext(d.Header()); err != nil { // a header longer than the peek
		return err
	}
	if r.op == Reencrypt {
		return r.reencrypt(ctx, j, d, d.Header(), rec)
	}
	describe(rec, d.Header())
	out, err := j.dst.create(ctx, j.target, j.below, j.in, r.o.Overwrite)
	if err != nil {
		return err
	}
	defer out.abort()
	cw := &countWriter{w: out}
	// Nothing is committed unless every frame, the final frame and, for
	// signed suites, the signature verified: WriteTo fails otherwise.
	if _, err = d.WriteTo(cw); err != nil {
		return err
	}
	return commit(ctx, j, out, cw, rec)
}

// headerPeek is how much of a message decrypt reads ahead to parse its
// header.
const headerPeek = 256 << 10

// peekHeader parses the header of the message in in from its first
// headerPeek bytes, and returns a reader of the whole message: those bytes,
// then the rest of in, read straight from it (through a buffer, the frame
// reader's chunks, smaller than the peek, would each be copied twice).
func peekHeader(in io.Reader) (*envelope.Header, io.Reader, error) {
	br := bufio.NewReaderSize(in, headerPeek)
	peek, err := br.Peek(headerPeek)
	h, herr := envelope.ParseHeader(bytes.NewReader(peek))
	if err != nil {
		return h, br, herr // all of in, or the error that cut it short, is in br
	}
	return h, io.MultiReader(bytes.NewReader(peek), in), herr
}

// reencrypt encrypts the plaintext of d, the decrypting reader of a message
// with header h, into j's output under the run's keys, keeping h's context
// (but the SDK's own pairs) unless the run names one. The output is
// committed only once d reached its end, which it does only when the whole
// message verified, the signature included; on any failure a local output
// is removed and an S3 upload aborted.
func (r *runner) reencrypt(ctx context.Context, j *job, d io.Reader, h *envelope.Header, rec *Record) error {
	ec := r.o.Context
	if ec == nil {
		ec = make(map[string]string, len(h.EncryptionContext))
		for k, v := range h.EncryptionContext {
			if !strings.HasPrefix(k, reservedPrefix) {
				ec[k] = v
			}
		}
	}
	size := int64(-1)
	if j.in.size >= 0 {
		if n, err := h.PlaintextLength(j.in.size); err == nil {
			size = n
		}
	}
	return r.encrypt(ctx, j, d, size, ec, rec)
}

// reservedPrefix starts the encryption context keys the SDK itself sets.
const reservedPrefix = "aws-crypto-"

// withKeysHint adds to a failure to decrypt any data key the keys that
// wrapped them, so the user knows which --key to give.
func withKeysHint(err error, h *envelope.Header) error {
	return fmt.Errorf("%w; the message's data keys are wrapped by: %s", err, strings.Join(wrappingKeys(h), ", "))
}

// maxKeysShown bounds the keys named in an error or an audit record: a
// header may carry 65,535 data keys, and their names are the writer's.
const maxKeysShown = 16

// wrappingKeys names the distinct keys that wrapped a header's data keys:
// at most maxKeysShown, then "... and N more data keys" for the rest.
func wrappingKeys(h *envelope.Header) []string {
	var keys []string
	more := 0
	for _, k := range h.EncryptedDataKeys {
		switch d := describeEDK(k); {
		case slices.Contains(keys, d):
		case len(keys) == maxKeysShown:
			more++
		default:
			keys = append(keys, d)
		}
	}
	if more > 0 {
		keys = append(keys, fmt.Sprintf("... and %d more data keys", more))
	}
	return keys
}

// checkContext refuses a header whose context lacks a pair of
// ExpectContext or a key of ExpectContextKeys.
func (o *Options) checkContext(h *envelope.Header) error {
	for _, k := range o.ExpectContextKeys {
		if _, ok := h.EncryptionContext[k]; !ok {
			return fmt.Errorf("--expect-context: the message's encryption context has no key %s: %w", Quote(k), envelope.ErrContextMismatch)
		}
	}
	return checkHeaderContext(h, o.ExpectContext)
}

// checkHeaderContext refuses a header whose context lacks a pair of expect.
func checkHeaderContext(h *envelope.Header, expect map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(expect)) {
		v, ok := h.EncryptionContext[k]
		switch {
		case !ok:
			return fmt.Errorf("--expect-context: the message's encryption context has no key %q: %w", k, envelope.ErrContextMismatch)
		case v != expect[k]:
			return fmt.Errorf("--expect-context: the message's encryption context has another value for %q: %w", k, envelope.ErrContextMismatch)
		}
	}
	return nil
}

// describe sets what the audit log records of a header, replacing what an
// earlier call set: never values of the encryption context, only its keys.
// A decrypt describes the header as parsed, then as authenticated, so the
// record of an input that fails to open still names the message it claims
// to be.
func describe(rec *Record, h *envelope.Header) {
	rec.MessageID = hex.EncodeToString(h.MessageID)
	rec.Suite = h.Suite.String()
	rec.Keys = wrappingKeys(h)
	rec.ContextKeys = rec.ContextKeys[:0]
	for k := range h.EncryptionContext {
		rec.ContextKeys = append(rec.ContextKeys, k)
	}
	sort.Strings(rec.ContextKeys)
}

// countReader counts bytes read, reports them to the progress display (if
// any) and stops with the context's error once it (if any) is cancelled.
type countReader struct {
	r   io.Reader
	ctx context.Context
	n   int64
	p   Progress
}

func (c *countReader) Read(b []byte) (int, error) {
	if c.ctx != nil {
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
	}
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.p != nil {
		c.p.Add(int64(n))
	}
	return n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
