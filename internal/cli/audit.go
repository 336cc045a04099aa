package cli

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// ErrBrokenChain reports an audit log whose hash chain does not verify:
// a line was edited, deleted, inserted or reordered.
var ErrBrokenChain = errors.New("audit log chain broken")

// zeroPrev is the prev field of a log's first line.
var zeroPrev = strings.Repeat("0", 64)

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
	Result      string   `json:"result"` // "ok", "failed" or "interrupted"
	Error       string   `json:"error,omitempty"`
}

// AuditLog appends hash-chained records. It is safe for concurrent use.
type AuditLog struct {
	mu     sync.Mutex
	w      io.Writer
	f      *os.File // nil for a writer such as stdout
	prev   string
	unlock func()
}

// OpenAuditLog opens path for appending, creating it with mode 0600. An
// existing log is verified first and its chain continued; one that does not
// verify is refused, so that a broken chain is never extended. The file is
// locked (flock) until Close, so two processes cannot interleave lines.
func OpenAuditLog(path string) (*AuditLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: lock: %w", path, err)
	}
	res, err := VerifyLog(f)
	if err != nil {
		unlock()
		f.Close()
		return nil, fmt.Errorf("%s: refusing to append: %w", path, err)
	}
	return &AuditLog{w: f, f: f, prev: res.Head, unlock: unlock}, nil
}

// NewAuditLog returns a log written to w with a new chain.
func NewAuditLog(w io.Writer) *AuditLog {
	return &AuditLog{w: w, prev: zeroPrev}
}

// Append sets r.Prev and writes r as one line, synced to disk for a file.
func (l *AuditLog) Append(r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Prev = l.prev
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := l.w.Write(append(line, '\n')); err != nil {
		return err
	}
	if l.f != nil {
		if err := l.f.Sync(); err != nil {
			return err
		}
	}
	l.prev = lineHash(line)
	return nil
}

// Close releases the lock and closes a log opened by OpenAuditLog.
func (l *AuditLog) Close() error {
	if l.f == nil {
		return nil
	}
	l.unlock()
	return l.f.Close()
}

func lineHash(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// LogResult describes a verified audit log.
type LogResult struct {
	Lines int
	Head  string // hex SHA-256 of the last line (the next line's prev)
}

// ChainError names the first line of an audit log that does not verify.
type ChainError struct {
	Line   int // 1-based
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

func (e *ChainError) Unwrap() error { return ErrBrokenChain }

// VerifyLog checks the chain of the audit log in r: line 1's prev is 64
// zeros and each later line's prev is the SHA-256 of the line before it.
// An edited line breaks the next line's link, a deleted line the link of
// the line after the gap. Removing lines from the end leaves a valid
// shorter chain: compare Head or Lines with a copy kept elsewhere.
func VerifyLog(r io.Reader) (LogResult, error) {
	br := bufio.NewReader(r)
	res := LogResult{Head: zeroPrev}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return res, nil
		}
		if err != nil && err != io.EOF {
			return res, err
		}
		n := res.Lines + 1
		if !bytes.HasSuffix(line, []byte("\n")) {
			return res, &ChainError{n, "incomplete last line (no newline)"}
		}
		line = line[:len(line)-1]
		var rec struct {
			Prev *string `json:"prev"`
		}
		if jerr := json.Unmarshal(line, &rec); jerr != nil || rec.Prev == nil {
			return res, &ChainError{n, "not a JSON record with a prev field"}
		}
		if *rec.Prev != res.Head {
			reason := "prev does not match the SHA-256 of line " + fmt.Sprint(n-1) + ": that line was edited, or lines before this one were deleted or inserted"
			if n == 1 {
				reason = "prev of the first line is not 64 zeros: lines before it were deleted"
			}
			return res, &ChainError{n, reason}
		}
		res.Lines = n
		res.Head = lineHash(line)
	}
}
