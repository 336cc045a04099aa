package batch

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/phicrypt/phicrypt/internal/auditlog"
	"github.com/phicrypt/phicrypt/keyring/kms"
)

// ErrBrokenChain reports an audit log whose hash chain does not verify:
// a line was edited, deleted, inserted or reordered.
var ErrBrokenChain = auditlog.ErrBrokenChain

// ChainError names the first line of an audit log that does not verify.
type ChainError = auditlog.ChainError

// digestTimeout bounds one signing call (KMS) for a digest.
const digestTimeout = time.Minute

// Record is one line of the audit log: one input processed. It never holds
// key material, plaintext or encryption context values.
type Record struct {
	Prev        string   `json:"prev"` // hex SHA-256 of the previous line's bytes, newline excluded
	Time        string   `json:"time"` // RFC 3339, UTC
	Op          string   `json:"op"`   // "encrypt" or "decrypt"
	Input       string   `json:"input"`
	Output      string   `json:"output,omitempty"`
	MessageID   string   `json:"message_id,omitempty"` // hex
	Suite       string   `json:"suite,omitempty"`      // e.g. "0x0578"
	Keys        []string `json:"keys,omitempty"`       // "aws-kms arn:…", or raw keyring "namespace/name"
	ContextKeys []string `json:"context_keys,omitempty"`
	BytesIn     int64    `json:"bytes_in"`
	BytesOut    int64    `json:"bytes_out"`
	DurationMS  float64  `json:"duration_ms"`
	Result      string   `json:"result"` // ResultOK, ResultFailed or ResultInterrupted
	Error       string   `json:"error,omitempty"`
	Version     string   `json:"version,omitempty"` // of the program that wrote the line (Options.Version)

	err error // the failure itself, for Failure.Err
}

// AuditLog appends hash-chained records and, with a key, signed digests
// (package auditlog). It is safe for concurrent use.
type AuditLog struct {
	w *auditlog.Writer
	f *os.File // nil for a writer such as stdout
	// synced, for a file, makes each line durable before its Append
	// returns, one sync for all the lines written meanwhile.
	synced *syncGroup
	unlock func()
	// ctx is the opening context without its cancellation: digests are
	// signed after an interrupt too, each within digestTimeout.
	ctx context.Context
}

// AuditOptions configure a signed audit log (OpenAudit) and its check
// (VerifyAudit).
type AuditOptions struct {
	// Key signs (or, for VerifyAudit, verifies) digests:
	//   kms-hmac:KEY    KMS HMAC_256 key (GenerateMac / VerifyMac)
	//   kms-sign:KEY    KMS ECC_NIST_P256 key (Sign / Verify)
	//   hmac:FILE       local HMAC-SHA256 key, at least 32 bytes (s3crypt keygen writes one)
	//   ed25519:FILE    PEM PKCS#8 Ed25519 private key; for VerifyAudit also a PEM public key
	// KEY is a key ARN, alias/NAME or key id. "" writes an unsigned chain.
	Key string
	// Head is the second place each digest line is copied to (OpenAudit) or
	// read from as the expected digest (VerifyAudit): FILE or s3://bucket/key.
	Head        string
	DigestEvery int // lines between digests; 0: auditlog.DefaultDigestEvery

	Keys   KeyOptions // how KMS is reached (Region, Profile, KMSEndpoint)
	S3     S3Options  // how S3 is reached, for an s3:// Head
	Stdout io.Writer  // the log for path "-"
}

// OpenAuditLog opens an unsigned audit log; see OpenAudit.
func OpenAuditLog(path string) (*AuditLog, error) {
	return OpenAudit(context.Background(), path, AuditOptions{})
}

// NewAuditLog returns an unsigned log written to w with a new chain.
func NewAuditLog(w io.Writer) *AuditLog {
	return &AuditLog{w: auditlog.NewWriter(w, auditlog.Result{}, auditlog.Options{}), ctx: context.Background()}
}

// OpenAudit opens path for appending, creating it with mode 0600, or writes
// a new log to o.Stdout for "-". An existing log is verified first and its
// chain continued; one that auditlog.Resume refuses is never extended. The
// file is locked (flock) until Close, so two processes cannot interleave
// lines.
func OpenAudit(ctx context.Context, path string, o AuditOptions) (*AuditLog, error) {
	if o.Key == "" && o.Head != "" {
		return nil, fmt.Errorf("%w: --audit-head needs --audit-key", ErrUsage)
	}
	ao := auditlog.Options{DigestEvery: o.DigestEvery}
	if o.Key != "" {
		s, err := LoadAuditSigner(ctx, o.Key, o.Keys)
		if err != nil {
			return nil, err
		}
		if v, ok := s.(interface{ CanSign() bool }); ok && !v.CanSign() {
			return nil, fmt.Errorf("--audit-key %s: %w: a public key verifies only; sign with the private key", o.Key, ErrKeySpec)
		}
		ao.Signer = s
	}
	if o.Head != "" {
		h, err := openHead(ctx, o.Head, o.S3)
		if err != nil {
			return nil, err
		}
		ao.Head = h
	}
	l := &AuditLog{ctx: context.WithoutCancel(ctx)}
	if path == "-" {
		l.w = auditlog.NewWriter(o.Stdout, auditlog.Result{}, ao)
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: lock: %w", path, err)
	}
	// No ao.Sync, which syncs each line under the writer's lock: Append
	// syncs after it, together with the lines other workers wrote.
	w, err := auditlog.Resume(ctx, f, f, ao)
	if err != nil {
		unlock()
		f.Close()
		return nil, fmt.Errorf("%s: refusing to append: %w", path, err)
	}
	l.w, l.f, l.unlock, l.synced = w, f, unlock, newSyncGroup(f.Sync)
	return l, nil
}

// Append sets r.Prev and writes r as one line, synced to disk for a file
// before it returns; every DigestEvery lines a digest follows. Concurrent
// calls share their syncs (syncGroup).
func (l *AuditLog) Append(r Record) error {
	ctx, cancel := context.WithTimeout(l.ctx, digestTimeout)
	defer cancel()
	err := l.w.Append(ctx, func(prev string) ([]byte, error) {
		r.Prev = prev
		line, err := json.Marshal(r)
		return escapeControls(line), err
	})
	if err != nil || l.synced == nil {
		return err
	}
	return l.synced.wait()
}

// escapeControls escapes in a JSON line the control characters
// encoding/json leaves raw, DEL and C1 (U+0080–U+009F, which terminals may
// read as escape sequences), so a log of untrusted names is safe to cat.
// They occur only inside strings, where \u00XX means the same.
func escapeControls(line []byte) []byte {
	if !bytes.ContainsFunc(line, func(r rune) bool { return r == 0x7f || r >= 0x80 && r <= 0x9f }) {
		return line
	}
	var b bytes.Buffer
	for _, r := range string(line) {
		if r == 0x7f || r >= 0x80 && r <= 0x9f {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.Bytes()
}

// Close signs a last digest (for a signed log), releases the lock and
// closes a file. An error means the lines since the previous digest are
// unsigned.
func (l *AuditLog) Close() error {
	ctx, cancel := context.WithTimeout(l.ctx, digestTimeout)
	defer cancel()
	err := l.w.Close(ctx)
	if l.synced != nil {
		err = errors.Join(err, l.synced.wait()) // the last digest
	}
	if l.f != nil {
		l.unlock()
		err = errors.Join(err, l.f.Close())
	}
	return err
}

// LogResult describes a verified audit log.
type LogResult struct {
	Lines int
	Head  string // hex SHA-256 of the last line (the next line's prev)
}

// VerifyLog checks the chain of the audit log in r, and the form and links
// of its digests, but no signature: see VerifyAudit. Removing lines from
// the end leaves a valid shorter chain.
func VerifyLog(r io.Reader) (LogResult, error) {
	res, err := auditlog.Verify(context.Background(), r, auditlog.VerifyOptions{})
	return LogResult{Lines: res.Lines, Head: res.Head}, err
}

// VerifyAudit checks the audit log at path: its chain and, with o.Key,
// every digest's signature, and that no line follows the last digest
// (auditlog.UnverifiedError); with o.Head, that it holds the expected
// digest found there.
func VerifyAudit(ctx context.Context, path string, o AuditOptions) (auditlog.Result, error) {
	var vo auditlog.VerifyOptions
	if o.Key != "" {
		s, err := LoadAuditSigner(ctx, o.Key, o.Keys)
		if err != nil {
			return auditlog.Result{}, err
		}
		vo.Signer = s
	}
	if o.Head != "" {
		h, err := openHead(ctx, o.Head, o.S3)
		if err != nil {
			return auditlog.Result{}, err
		}
		if vo.Expect, err = h.Get(ctx); err != nil {
			return auditlog.Result{}, fmt.Errorf("--expect-digest %s: %w", o.Head, err)
		}
		if vo.Expect == nil {
			return auditlog.Result{}, fmt.Errorf("--expect-digest %s: does not exist", o.Head)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return auditlog.Result{}, err
	}
	defer f.Close()
	res, err := auditlog.Verify(ctx, f, vo)
	if err == nil && vo.Signer != nil {
		err = auditlog.CheckSigned(res)
	}
	return res, err
}

// LoadAuditSigner returns the Signer of an --audit-key value.
func LoadAuditSigner(ctx context.Context, spec string, ko KeyOptions) (auditlog.Signer, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	if arg == "" {
		kind = ""
	}
	switch kind {
	case "kms-hmac", "kms-sign":
		region := ""
		if a, err := kms.ParseARN(arg); err == nil {
			region = a.Region
		} else if strings.HasPrefix(arg, "arn:") {
			return nil, fmt.Errorf("--audit-key %s: %w: %v", spec, ErrKeySpec, err)
		}
		c, err := (&kmsClients{opts: ko}).client(ctx, region)
		if err != nil {
			return nil, err
		}
		if kind == "kms-hmac" {
			return auditlog.NewKMSHMAC(c, arg), nil
		}
		return auditlog.NewKMSSign(c, arg), nil
	case "hmac":
		key, err := readSecret(spec, arg)
		if err != nil {
			return nil, err
		}
		s, err := auditlog.NewHMACKey(key)
		if err != nil {
			return nil, fmt.Errorf("--audit-key %s: %w: %v", spec, ErrKeySpec, err)
		}
		return s, nil
	case "ed25519":
		return loadEd25519(spec, arg)
	}
	return nil, fmt.Errorf("--audit-key %q: %w: want kms-hmac:KEY, kms-sign:KEY, hmac:FILE or ed25519:FILE", spec, ErrKeySpec)
}

// readSecret reads a secret key file, refusing one that others may read.
func readSecret(spec, path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--audit-key %s: key file %s does not exist", spec, path)
	}
	if err != nil {
		return nil, fmt.Errorf("--audit-key %s: %w", spec, err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("--audit-key %s: key file %s has mode %04o: others may read it; run chmod 600 %s", spec, path, fi.Mode().Perm(), path)
	}
	return os.ReadFile(path)
}

// loadEd25519 reads a PEM PKCS#8 private key, or a PKIX public key (which
// verifies only).
func loadEd25519(spec, path string) (auditlog.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--audit-key %s: %w", spec, err)
	}
	bad := fmt.Errorf("--audit-key %s: %w: not a PEM Ed25519 private key (PKCS#8) or public key", spec, ErrKeySpec)
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, bad
	}
	switch b.Type {
	case "PRIVATE KEY":
		if _, err := readSecret(spec, path); err != nil {
			return nil, err
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		priv, ok := k.(ed25519.PrivateKey)
		if err != nil || !ok {
			return nil, bad
		}
		return auditlog.NewEd25519Key(priv, nil)
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		pub, ok := k.(ed25519.PublicKey)
		if err != nil || !ok {
			return nil, bad
		}
		return auditlog.NewEd25519Key(nil, pub)
	}
	return nil, bad
}

// openHead returns the HeadStore of an --audit-head or --expect-digest value.
func openHead(ctx context.Context, loc string, so S3Options) (auditlog.HeadStore, error) {
	l, err := parseLocation(loc)
	if err != nil {
		return nil, err
	}
	switch l.kind {
	case locStdio:
		return nil, fmt.Errorf("%w: the audit head copy cannot be stdin or stdout", ErrUsage)
	case locS3:
		if l.key == "" || strings.HasSuffix(l.key, "/") {
			return nil, fmt.Errorf("%w: %s names no object", ErrUsage, loc)
		}
		o := &Options{S3: so}
		c, err := connectS3(ctx, o)
		if err != nil {
			return nil, err
		}
		return &s3Head{c: c, bucket: l.bucket, key: l.key}, nil
	}
	return auditlog.FileHead(l.path), nil
}

// s3Head is an auditlog.HeadStore in an S3 object.
type s3Head struct {
	c           *s3Conn
	bucket, key string
}

func (h *s3Head) String() string { return s3Name(h.bucket, h.key) }

func (h *s3Head) Get(ctx context.Context) ([]byte, error) {
	out, err := h.c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &h.bucket, Key: &h.key})
	var nk *types.NoSuchKey
	if errors.As(err, &nk) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, auditlog.MaxLine+2))
	if len(b) > auditlog.MaxLine+1 {
		return nil, fmt.Errorf("longer than %d bytes: not a digest line", auditlog.MaxLine)
	}
	return b, err
}

func (h *s3Head) Put(ctx context.Context, line []byte) error {
	_, err := h.c.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &h.bucket, Key: &h.key, Body: strings.NewReader(string(line)),
		ContentLength: aws.Int64(int64(len(line))), ContentType: aws.String("application/json"),
	})
	return err
}
