package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults and limits; see the package documentation.
const (
	DefaultDigestEvery = 1000    // lines between digests within a run
	MaxLine            = 1 << 20 // bytes of one line, newline excluded
	maxField           = 2048    // bytes of a digest's key and alg
	digestType         = "digest"
)

// ZeroHash is the prev of a log's first line and the prev_digest of its
// first digest.
var ZeroHash = strings.Repeat("0", 64)

var (
	// ErrBrokenChain reports a log whose hash chain does not verify, or a
	// line that is not a record: a line was edited, deleted, inserted or
	// reordered without the chain being recomputed.
	ErrBrokenChain = errors.New("audit log chain broken")

	// ErrBadDigest reports a digest whose signature, line count or link to
	// the previous digest does not verify: a line it covers was edited,
	// deleted, inserted or reordered (chain recomputed or not), a digest
	// was removed, or it was signed with another key.
	ErrBadDigest = errors.New("audit log digest does not verify")

	// ErrNotExpected reports a log that does not hold the expected digest
	// (the copy kept in a second place): lines were cut from its end, or
	// the log was replaced.
	ErrNotExpected = errors.New("audit log does not hold the expected digest")

	// ErrUnverified reports lines that no verified digest covers: those
	// after a log's last digest, or all lines of a log without digests.
	ErrUnverified = errors.New("audit log lines not covered by a signed digest")

	// ErrBadSignature is what a Signer's Verify returns (wrapped) for a
	// signature that does not verify.
	ErrBadSignature = errors.New("signature does not verify")
)

// ChainError names the first line of a log that breaks the chain.
type ChainError struct {
	Line   int // 1-based
	Reason string
}

func (e *ChainError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

func (e *ChainError) Unwrap() error { return ErrBrokenChain }

// DigestError names a digest line that does not verify and the first line
// it covers that no earlier digest does: one of lines From to Line-1, or
// the digest itself, was altered.
type DigestError struct {
	Line   int // the digest's line, 1-based
	From   int // first line after the previous digest
	Reason string
	Err    error // the signer's error, if any
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("line %d: digest over lines %d-%d: %s", e.Line, e.From, e.Line-1, e.Reason)
}

func (e *DigestError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrBadDigest}
	}
	return []error{ErrBadDigest, e.Err}
}

// UnverifiedError names the lines no verified digest covers.
type UnverifiedError struct{ From, To int }

func (e *UnverifiedError) Error() string {
	return fmt.Sprintf("lines %d-%d follow the last signed digest: a run was killed before it signed them, or they were appended or altered after it", e.From, e.To)
}

func (e *UnverifiedError) Unwrap() error { return ErrUnverified }

// Digest is a digest line: a signature over the chain head (its prev), the
// number of lines before it and the hash of the previous digest line.
type Digest struct {
	Prev       string `json:"prev"`
	Type       string `json:"type"` // "digest"
	Time       string `json:"time"` // RFC 3339, UTC
	Lines      int    `json:"lines"`
	PrevDigest string `json:"prev_digest"`
	Key        string `json:"key"`
	Alg        string `json:"alg"`
	Sig        []byte `json:"sig"` // base64 in JSON
}

// message is what a digest's Sig signs.
func (d *Digest) message() []byte {
	return fmt.Appendf(nil, "phicrypt audit digest v1\nlines %d\nhead %s\nprev_digest %s\ntime %s\nkey %s\nalg %s\n",
		d.Lines, d.Prev, d.PrevDigest, d.Time, d.Key, d.Alg)
}

// ParseDigest parses a digest line (one trailing newline allowed) and
// checks its form, not its signature.
func ParseDigest(line []byte) (*Digest, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var d Digest
	if err := dec.Decode(&d); err != nil {
		return nil, errors.New("not a digest line: " + quote(err.Error()))
	}
	if dec.More() {
		return nil, errors.New("not a digest line: data after the JSON object")
	}
	switch {
	case d.Type != digestType:
		return nil, fmt.Errorf("not a digest line: type %s", quote(d.Type))
	case !isHash(d.Prev), !isHash(d.PrevDigest):
		return nil, errors.New("digest prev and prev_digest must be 64 lowercase hex digits")
	case d.Lines < 0:
		return nil, errors.New("digest lines is negative")
	case !plain(d.Key), !plain(d.Alg), len(d.Sig) == 0:
		return nil, errors.New("digest key, alg or sig is empty, too long or holds control characters")
	}
	if _, err := time.Parse(time.RFC3339Nano, d.Time); err != nil {
		return nil, fmt.Errorf("digest time %s is not RFC 3339", quote(d.Time))
	}
	return &d, nil
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// plain reports whether s is 1 to maxField bytes without control characters.
func plain(s string) bool {
	if s == "" || len(s) > maxField {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// quote quotes an attacker's string for an error, at most 80 bytes of it.
func quote(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + "…"
	}
	return strconv.Quote(s)
}

func lineHash(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// Result describes a verified log.
type Result struct {
	Lines      int
	Head       string // SHA-256 of the last line: the next line's prev
	Digests    int    // digest lines
	Signed     int    // lines 1 to Signed are covered by a verified digest (0 without a Signer)
	LastDigest []byte // the last digest line, newline excluded; nil if none
	// LastDigestLine is the line number of LastDigest, or 0.
	LastDigestLine int
	// PrevDigest is the hash of the last digest line, or ZeroHash.
	PrevDigest string
}

// Unverified returns the number of lines after the last verified digest.
func (r Result) Unverified() int { return r.Lines - r.Signed }

// VerifyOptions say what Verify checks beyond the chain.
type VerifyOptions struct {
	// Signer, if set, verifies every digest's signature; without it
	// digests are checked for form and links only and Result.Signed is 0.
	Signer Signer
	// Expect, if set, is a digest line kept elsewhere that the log must
	// hold at its place (line Lines+1), byte for byte.
	Expect []byte
}

// Verify reads a log and checks its chain and digests, in order: it
// returns the first error, naming the line (ChainError, DigestError), with
// the Result of the lines before it. Lines after the last digest are not
// an error here: see Result.Unverified and CheckSigned.
func Verify(ctx context.Context, r io.Reader, o VerifyOptions) (Result, error) {
	res := Result{Head: ZeroHash, PrevDigest: ZeroHash}
	var exp *Digest
	if o.Expect != nil {
		d, err := ParseDigest(o.Expect)
		if err != nil {
			return res, fmt.Errorf("%w: expected digest: %v", ErrNotExpected, err)
		}
		if o.Signer != nil {
			if err := o.Signer.Verify(ctx, d.message(), d.Sig); err != nil {
				return res, fmt.Errorf("%w: the expected digest's signature does not verify: %w", ErrNotExpected, err)
			}
		}
		exp = d
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		n := res.Lines + 1
		if err == io.EOF {
			break
		}
		if err != nil {
			var ce *ChainError
			if errors.As(err, &ce) {
				ce.Line = n
			}
			return res, err
		}
		if err := res.add(ctx, line, n, o.Signer); err != nil {
			return res, err
		}
		if exp != nil && n == exp.Lines+1 && !bytes.Equal(line, bytes.TrimSuffix(o.Expect, []byte("\n"))) {
			return res, fmt.Errorf("%w: line %d is not the expected digest: the log was rewritten from there on, or replaced", ErrNotExpected, n)
		}
	}
	if exp != nil && res.Lines < exp.Lines+1 {
		return res, fmt.Errorf("%w: the log ends at line %d, the expected digest is line %d: lines were cut from its end", ErrNotExpected, res.Lines, exp.Lines+1)
	}
	return res, nil
}

// readLine returns the next line without its newline, io.EOF at the end, or
// a ChainError (line number unset) for an unterminated or too long line.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > MaxLine+1 {
			return nil, &ChainError{Reason: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		switch err {
		case nil:
			return append(buf, frag[:len(frag)-1]...), nil
		case bufio.ErrBufferFull:
			buf = append(buf, frag...)
			continue
		case io.EOF:
			if len(buf)+len(frag) == 0 {
				return nil, io.EOF
			}
			return nil, &ChainError{Reason: "incomplete last line (no newline)"}
		}
		return nil, err
	}
}

// add checks line n and advances res.
func (res *Result) add(ctx context.Context, line []byte, n int, s Signer) error {
	var rec struct {
		Prev *string `json:"prev"`
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(line, &rec); err != nil || rec.Prev == nil {
		return &ChainError{n, "not a JSON record with a prev field"}
	}
	if *rec.Prev != res.Head {
		reason := "prev does not match the SHA-256 of line " + strconv.Itoa(n-1) + ": that line was edited, or lines before this one were deleted or inserted"
		if n == 1 {
			reason = "prev of the first line is not 64 zeros: lines before it were deleted"
		}
		return &ChainError{n, reason}
	}
	if rec.Type != nil {
		if err := res.checkDigest(ctx, line, n, s); err != nil {
			return err
		}
	}
	res.Lines = n
	res.Head = lineHash(line)
	return nil
}

func (res *Result) checkDigest(ctx context.Context, line []byte, n int, s Signer) error {
	from := res.LastDigestLine + 1
	d, err := ParseDigest(line)
	if err != nil {
		return &DigestError{Line: n, From: from, Reason: err.Error()}
	}
	switch {
	case d.Lines != n-1:
		return &DigestError{Line: n, From: from, Reason: fmt.Sprintf("it says %d lines precede it, but %d do: lines were deleted or inserted", d.Lines, n-1)}
	case d.PrevDigest != res.PrevDigest:
		return &DigestError{Line: n, From: from, Reason: "prev_digest does not match the previous digest line: a digest was deleted, edited or inserted"}
	}
	if s != nil {
		if err := s.Verify(ctx, d.message(), d.Sig); err != nil {
			reason := "signature does not verify: one of these lines or the digest was edited, deleted, inserted or reordered"
			if d.Key != s.ID() {
				reason += fmt.Sprintf(", or it was signed by key %s, not %s", quote(d.Key), quote(s.ID()))
			}
			if !errors.Is(err, ErrBadSignature) {
				// Not a verdict on the log: KMS unreachable, access denied, ….
				return fmt.Errorf("line %d: verifying the digest: %w", n, err)
			}
			return &DigestError{Line: n, From: from, Reason: reason, Err: err}
		}
		res.Signed = n
	}
	res.Digests++
	res.LastDigest, res.LastDigestLine = bytes.Clone(line), n
	res.PrevDigest = lineHash(line)
	return nil
}

// CheckSigned returns an UnverifiedError if lines of res follow its last
// verified digest.
func CheckSigned(res Result) error {
	if res.Unverified() > 0 {
		return &UnverifiedError{From: res.Signed + 1, To: res.Lines}
	}
	return nil
}

// Options configure a Writer.
type Options struct {
	// Signer, if set, signs a digest line every DigestEvery lines and at
	// Close; without it the log is an unsigned chain.
	Signer      Signer
	DigestEvery int // 0: DefaultDigestEvery
	// Head, if set, receives every digest line written (the second place).
	Head HeadStore
	Now  func() time.Time // nil: time.Now
	// Sync, if set, is called after every line written (os.File.Sync).
	Sync func() error
}

// Writer appends chained lines and signed digests. It is safe for
// concurrent use.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	o     Options
	res   Result // the log so far
	since int    // lines since the last digest
}

// NewWriter returns a Writer appending to w, a log whose verified content
// so far is res (the zero Result for a new log).
func NewWriter(w io.Writer, res Result, o Options) *Writer {
	if res.Head == "" {
		res.Head, res.PrevDigest = ZeroHash, ZeroHash
	}
	if o.DigestEvery <= 0 {
		o.DigestEvery = DefaultDigestEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Writer{w: w, o: o, res: res, since: res.Unverified()}
}

// Resume verifies the log in r (against the head copy in o.Head, if one
// exists) and returns a Writer appending to w. It refuses a log that does
// not verify; with a Signer, one with lines after its last digest (or
// with no digest); without one, a signed log.
func Resume(ctx context.Context, r io.Reader, w io.Writer, o Options) (*Writer, error) {
	vo := VerifyOptions{Signer: o.Signer}
	if o.Head != nil {
		exp, err := o.Head.Get(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the head copy %s: %w", o.Head, err)
		}
		vo.Expect = exp
	}
	res, err := Verify(ctx, r, vo)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Signer != nil:
		if err := CheckSigned(res); err != nil {
			return nil, fmt.Errorf("%w; signing them now would vouch for them: check them and start a new log", err)
		}
	case res.Digests > 0:
		return nil, errors.New("the log holds signed digests: give its signing key to append to it")
	}
	return NewWriter(w, res, o), nil
}

// Append writes the line build returns for prev (the hash of the line
// before), adding a newline, and calls Options.Sync. Every
// DigestEvery lines it then signs a digest; if that fails the line stays
// written and the digest is tried again at the next line and at Close.
func (l *Writer) Append(ctx context.Context, build func(prev string) ([]byte, error)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	line, err := build(l.res.Head)
	if err != nil {
		return err
	}
	if bytes.IndexByte(line, '\n') >= 0 || len(line) > MaxLine {
		return fmt.Errorf("audit line holds a newline or is longer than %d bytes", MaxLine)
	}
	if err := l.write(line); err != nil {
		return err
	}
	l.since++
	if l.o.Signer != nil && l.since >= l.o.DigestEvery {
		l.digest(ctx) // on failure, retried at the next line and at Close
	}
	return nil
}

// Close signs a digest over the lines written since the last one.
func (l *Writer) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.o.Signer == nil || l.since == 0 {
		return nil
	}
	return l.digest(ctx)
}

// Result returns what the log holds so far.
func (l *Writer) Result() Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res
}

func (l *Writer) write(line []byte) error {
	if _, err := l.w.Write(append(line, '\n')); err != nil {
		return err
	}
	if l.o.Sync != nil {
		if err := l.o.Sync(); err != nil {
			return err
		}
	}
	l.res.Lines++
	l.res.Head = lineHash(line)
	return nil
}

// digest signs and writes a digest line, then copies it to the head store.
func (l *Writer) digest(ctx context.Context) error {
	s := l.o.Signer
	d := Digest{
		Prev: l.res.Head, Type: digestType, Time: l.o.Now().UTC().Format(time.RFC3339Nano),
		Lines: l.res.Lines, PrevDigest: l.res.PrevDigest, Key: s.ID(), Alg: s.Alg(),
	}
	sig, err := s.Sign(ctx, d.message())
	if err != nil {
		return fmt.Errorf("signing the audit digest with %s: %w", s.ID(), err)
	}
	d.Sig = sig
	line, err := json.Marshal(&d)
	if err != nil {
		return err
	}
	if err := l.write(line); err != nil {
		return err
	}
	l.since = 0
	l.res.Digests++
	l.res.Signed = l.res.Lines
	l.res.LastDigest, l.res.LastDigestLine = line, l.res.Lines
	l.res.PrevDigest = l.res.Head
	if l.o.Head != nil {
		if err := l.o.Head.Put(ctx, append(bytes.Clone(line), '\n')); err != nil {
			return fmt.Errorf("writing the head copy %s: %w", l.o.Head, err)
		}
	}
	return nil
}
