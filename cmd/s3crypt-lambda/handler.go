package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// The result codes of a task (S3 Batch Operations' names).
const (
	Succeeded        = "Succeeded"
	TemporaryFailure = "TemporaryFailure" // S3 retries the task
	PermanentFailure = "PermanentFailure"
)

var (
	// ErrBadEvent reports an invocation that is no S3 Batch Operations
	// event of schema 1.0 or 2.0; the invocation itself fails.
	ErrBadEvent = errors.New("not an S3 Batch Operations event")

	// ErrBadArguments reports a job's user arguments the function refuses;
	// each task fails permanently.
	ErrBadArguments = errors.New("bad user arguments")

	// ErrBadTask reports a task naming no usable object.
	ErrBadTask = errors.New("bad task")
)

// maxResult bounds a resultString (S3 keeps about 1 KiB of it in the
// completion report).
const maxResult = 1000

// maxKey is the longest S3 object key, in bytes.
const maxKey = 1024

// Handler runs the tasks of S3 Batch Operations invocations. It is made
// once per cold start: its keys (and their data key cache) and S3 client
// serve every invocation of a warm function.
type Handler struct {
	cfg   Config
	keys  *batch.Keys // encrypt, reencrypt: write outputs
	dkeys *batch.Keys // decrypt, reencrypt: open inputs
	s3    *s3.Client
}

// NewHandler loads the keys of cfg once, for every op the configuration
// allows, and uses s3c for every task.
func NewHandler(ctx context.Context, cfg Config, s3c *s3.Client) (*Handler, error) {
	h := &Handler{cfg: cfg, s3: s3c}
	ops := cfg.ops()
	var err error
	if slices.Contains(ops, batch.Encrypt) || slices.Contains(ops, batch.Reencrypt) {
		if h.keys, err = batch.LoadKeys(ctx, cfg.Keys, true); err != nil {
			return nil, fmt.Errorf("PHICRYPT_KEY: %w", err)
		}
	}
	if slices.Contains(ops, batch.Decrypt) || slices.Contains(ops, batch.Reencrypt) {
		dk, name := cfg.DecryptKeys, "PHICRYPT_DECRYPT_KEY"
		if len(dk.Specs) == 0 {
			dk, name = cfg.Keys, "PHICRYPT_KEY"
		}
		if h.dkeys, err = batch.LoadKeys(ctx, dk, false); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return h, nil
}

// task is one object of an invocation, schema-neutral.
type task struct {
	id, bucket, key, version string
}

// Handle runs every task of one invocation, in order, and returns their
// results. It fails only for an event it cannot read.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (events.S3BatchJobResponse, error) {
	version, id, args, tasks, err := parseEvent(raw)
	if err != nil {
		return events.S3BatchJobResponse{}, err
	}
	resp := events.S3BatchJobResponse{InvocationSchemaVersion: version, TreatMissingKeysAs: PermanentFailure, InvocationID: id}
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-h.cfg.Margin))
		defer cancel()
	}
	j, aerr := h.jobArgs(args)
	for _, t := range tasks {
		code, msg := PermanentFailure, ""
		switch {
		case aerr != nil:
			msg = aerr.Error()
		case ctx.Err() != nil:
			code, msg = TemporaryFailure, "not started: the invocation's deadline is near"
		default:
			code, msg = h.run(ctx, j, t)
		}
		resp.Results = append(resp.Results, events.S3BatchJobResult{TaskID: t.id, ResultCode: code, ResultString: bound(msg)})
	}
	return resp, nil
}

// parseEvent reads an event of schema 1.0 (s3BucketArn, no user
// arguments) or 2.0 (s3Bucket, userArguments). Keys stay URL-encoded, as
// in the job's manifest: locations decodes them.
func parseEvent(raw json.RawMessage) (version, id string, args map[string]string, tasks []task, err error) {
	var head struct {
		Version string `json:"invocationSchemaVersion"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", "", nil, nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	switch head.Version {
	case "1.0":
		var e events.S3BatchJobEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			return "", "", nil, nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
		}
		for _, t := range e.Tasks {
			tasks = append(tasks, task{id: t.TaskID, bucket: bucketOfARN(t.S3BucketARN), key: t.S3Key, version: t.S3VersionID})
		}
		return e.InvocationSchemaVersion, e.InvocationID, nil, tasks, nil
	case "2.0":
		var e events.S3BatchJobEventV2
		if err := json.Unmarshal(raw, &e); err != nil {
			return "", "", nil, nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
		}
		for _, t := range e.Tasks {
			tasks = append(tasks, task{id: t.TaskID, bucket: t.S3Bucket, key: t.S3Key, version: t.S3VersionID})
		}
		return e.InvocationSchemaVersion, e.InvocationID, e.Job.UserArguments, tasks, nil
	}
	return "", "", nil, nil, fmt.Errorf("%w: invocationSchemaVersion %s is not 1.0 or 2.0", ErrBadEvent, batch.Quote(head.Version))
}

// bucketOfARN is the bucket of arn:PARTITION:s3:REGION:ACCOUNT:BUCKET
// (region and account empty for a bucket); "" when it names none.
func bucketOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "s3" || strings.Contains(parts[5], "/") {
		return ""
	}
	return parts[5]
}

// job is what a job's tasks do, after its user arguments.
type job struct {
	op      batch.Op
	bucket  string // destination
	prefix  string
	context map[string]string
}

// The user arguments a job may give (schema 2.0).
const (
	argOp          = "op"          // one of the ops PHICRYPT_ALLOW_OPS allows
	argDestination = "destination" // s3://bucket/prefix under one of PHICRYPT_ALLOW_DESTINATIONS
	argContext     = "context"     // k=v,… added to PHICRYPT_CONTEXT, which it may not change
)

// jobArgs applies a job's user arguments to the configuration. Keys are
// never among them: only the function's environment names keys.
func (h *Handler) jobArgs(args map[string]string) (job, error) {
	c := &h.cfg
	j := job{op: c.Op, context: c.Context}
	for _, k := range slices.Sorted(maps.Keys(args)) {
		if k != argOp && k != argDestination && k != argContext {
			return j, fmt.Errorf("%w: unknown user argument %s (want %s, %s or %s)", ErrBadArguments, batch.Quote(k), argOp, argDestination, argContext)
		}
	}
	if v, ok := args[argOp]; ok {
		if !validOp(batch.Op(v)) || !c.allowed(batch.Op(v)) {
			return j, fmt.Errorf("%w: op %s is not allowed by this function (PHICRYPT_OP, PHICRYPT_ALLOW_OPS)", ErrBadArguments, batch.Quote(v))
		}
		j.op = batch.Op(v)
	}
	if !c.InPlace {
		dest := c.Destination
		if v, ok := args[argDestination]; ok {
			if err := c.destinationAllowed(v); err != nil {
				return j, err
			}
			dest = v
		}
		j.bucket, j.prefix, _ = parseDest(dest) // checked
	} else if _, ok := args[argDestination]; ok {
		return j, fmt.Errorf("%w: destination: this function re-encrypts in place (PHICRYPT_IN_PLACE)", ErrBadArguments)
	}
	if v, ok := args[argContext]; ok {
		extra, err := parsePairs(v)
		if err != nil {
			return j, fmt.Errorf("%w: context: %w", ErrBadArguments, err)
		}
		merged := maps.Clone(c.Context)
		if merged == nil {
			merged = map[string]string{}
		}
		for k, v := range extra {
			if old, ok := merged[k]; ok && old != v {
				return j, fmt.Errorf("%w: context: key %s is set by PHICRYPT_CONTEXT", ErrBadArguments, batch.Quote(k))
			}
			merged[k] = v
		}
		j.context = merged
	}
	return j, nil
}

// destinationAllowed checks a destination user argument against
// AllowDestinations (or, unset, Destination): the same bucket and a prefix
// starting with an allowed one.
func (c *Config) destinationAllowed(d string) error {
	b, p, err := parseDest(d)
	if err != nil {
		return fmt.Errorf("%w: destination: %w", ErrBadArguments, err)
	}
	allow := c.AllowDestinations
	if len(allow) == 0 {
		allow = []string{c.Destination}
	}
	for _, a := range allow {
		ab, ap, _ := parseDest(a)
		if ab == b && strings.HasPrefix(p, ap) {
			return nil
		}
	}
	return fmt.Errorf("%w: destination %s is not under %s (PHICRYPT_ALLOW_DESTINATIONS)", ErrBadArguments, batch.Quote(d), strings.Join(allow, ", "))
}

// run does one task and classifies its outcome.
func (h *Handler) run(ctx context.Context, j job, t task) (code, msg string) {
	src, dst, err := h.locations(j, t)
	if err != nil {
		return PermanentFailure, err.Error()
	}
	o := batch.Options{
		Materials: h.keys, DecryptMaterials: h.dkeys, S3Client: h.s3,
		MaxEDKs: h.cfg.MaxEDKs, Concurrency: h.cfg.Concurrency,
		SingleObject: true, VersionID: t.version,
		InPlace: h.cfg.InPlace, Overwrite: h.cfg.Overwrite && !h.cfg.InPlace,
		SkipExisting: !h.cfg.Overwrite && !h.cfg.InPlace,
	}
	switch j.op {
	case batch.Decrypt:
		o.Materials = h.dkeys
		o.ExpectContext = h.cfg.ExpectContext
	case batch.Reencrypt:
		o.ExpectContext = h.cfg.ExpectContext
		if len(j.context) > 0 {
			o.Context = j.context // else each message keeps its own
		}
	default:
		o.Context = j.context
	}
	sum, err := batch.Run(ctx, j.op, src, dst, o)
	if err != nil {
		if sum != nil && len(sum.Failures) > 0 && sum.Failures[0].Err != nil {
			err = sum.Failures[0].Err
		}
		return classify(err), err.Error()
	}
	if sum.Skipped > 0 {
		return Succeeded, "skipped: " + dst + " exists and is complete"
	}
	return Succeeded, dst
}

// locations are a task's source and its output: the destination prefix
// joined to the input's key, ".enc" added on encrypt and removed on
// decrypt (".dec" added to a name without it).
func (h *Handler) locations(j job, t task) (src, dst string, err error) {
	key, err := url.QueryUnescape(t.key)
	switch {
	case t.bucket == "":
		return "", "", fmt.Errorf("%w: the task names no bucket", ErrBadTask)
	case err != nil:
		return "", "", fmt.Errorf("%w: s3Key %s is not URL-encoded", ErrBadTask, batch.Quote(t.key))
	case key == "" || strings.HasSuffix(key, "/") || len(key) > maxKey:
		return "", "", fmt.Errorf("%w: s3Key %s names no object", ErrBadTask, batch.Quote(key))
	}
	src = "s3://" + t.bucket + "/" + key
	if h.cfg.InPlace {
		return src, src, nil
	}
	out := j.prefix + batch.OutputName(j.op, key, batch.EncSuffix)
	if len(out) > maxKey {
		return "", "", fmt.Errorf("%w: output key for %s is longer than %d bytes", ErrBadTask, batch.Quote(key), maxKey)
	}
	return src, "s3://" + j.bucket + "/" + out, nil
}

// classify maps a task's error to its result code: TemporaryFailure, so
// that S3 retries the task, for what may pass (the deadline, throttling,
// 5xx, timeouts, broken connections); PermanentFailure for the rest
// (tampering, a wrong key, a missing object, bad arguments).
func classify(err error) string {
	if transient(err) {
		return TemporaryFailure
	}
	return PermanentFailure
}

func transient(err error) bool {
	var dns *net.DNSError
	if errors.Is(err, s3crypt.ErrInsecureEndpoint) || errors.As(err, &dns) && dns.IsNotFound {
		return false // configuration, not weather
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, batch.ErrInterrupted) {
		return true
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	if (retry.RetryableErrorCode{Codes: retry.DefaultRetryableErrorCodes}).IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && (re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == 429) {
		return true
	}
	// Typed checks only: error texts hold object keys, which a job's
	// manifest chooses.
	var ce interface{ ConnectionError() bool }
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ce) && ce.ConnectionError() ||
		errors.As(err, &ne) && ne.Timeout() ||
		errors.As(err, &oe)
}

// bound cuts s to maxResult bytes at a rune boundary and escapes what is
// not printable (as batch.Printable: C1 controls, bidi overrides and line
// separators too), so a resultString stays one readable line.
func bound(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) || r == utf8.RuneError }) {
		s = strings.Trim(strconv.Quote(s), `"`)
	}
	if len(s) <= maxResult {
		return s
	}
	cut := maxResult - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
