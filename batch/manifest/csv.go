package manifest

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ctxEvery is how many rows pass between ctx checks.
const ctxEvery = 1024

var errRowTooLong = errors.New("row too long")

// limiter fails the CSV parser's input at the first row longer than
// MaxRowBytes, so one endless row (or quoted field) costs at most that
// much memory plus the parser's 4 KiB read-ahead. It follows quoting
// only far enough to know which newlines end a row: a quote toggles
// "inside a quoted field" ("" toggles twice), and a newline outside one
// ends the row. Bad quoting is the parser's to report.
type limiter struct {
	r       io.Reader
	err     error // sticky errRowTooLong
	quoted  bool
	rowLen  int // bytes of the current row so far, its '\n' excluded
	line    int // 1-based line of the next byte
	rowLine int // line where the current row started
}

func (l *limiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		switch {
		case c == '"':
			l.quoted = !l.quoted
		case c == '\n':
			l.line++
			if !l.quoted {
				l.rowLen = 0
				l.rowLine = l.line
				continue
			}
		}
		if l.rowLen++; l.rowLen > MaxRowBytes {
			l.err = errRowTooLong
			return i, l.err
		}
	}
	return n, err
}

// rows reads CSV records of at most MaxRowBytes each.
type rows struct {
	lim  limiter
	cr   *csv.Reader
	file string // for errors: the data file, "" for the manifest
	line int    // line of the last record
	n    int    // records read
	gzip bool   // read errors other than a sourceError are gzip stream errors
}

func newRows(r io.Reader, file string) *rows {
	rs := &rows{lim: limiter{r: r, line: 1, rowLine: 1}, file: file}
	rs.cr = csv.NewReader(&rs.lim)
	rs.cr.ReuseRecord = true
	rs.cr.FieldsPerRecord = -1
	return rs
}

// next returns the next record (valid until the next call), io.EOF at
// the end, or an *Error.
func (rs *rows) next(ctx context.Context) ([]string, error) {
	if rs.n%ctxEvery == 0 {
		if err := ctx.Err(); err != nil {
			return nil, &Error{File: rs.file, Line: rs.line, Err: err}
		}
	}
	rec, err := rs.cr.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if errors.Is(err, errRowTooLong) {
		return nil, &Error{File: rs.file, Line: rs.lim.rowLine, Err: ErrLimit, Cause: fmt.Errorf("row over %d bytes", MaxRowBytes)}
	}
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return nil, &Error{File: rs.file, Line: pe.StartLine, Err: ErrMalformed, Cause: pe.Err}
	}
	if err != nil {
		if se, ok := errors.AsType[sourceError](err); ok {
			return nil, &Error{File: rs.file, Line: rs.line + 1, Err: se.err}
		}
		if rs.gzip {
			return nil, &Error{File: rs.file, Line: rs.line + 1, Err: ErrMalformed, Cause: err}
		}
		return nil, &Error{File: rs.file, Line: rs.line + 1, Err: err}
	}
	rs.n++
	rs.line, _ = rs.cr.FieldPos(0)
	return rec, nil
}

// fail sets the position of a field error from the current record.
func (rs *rows) fail(e *Error) *Error {
	e.File, e.Line = rs.file, rs.line
	return e
}

// readBatchCSV reads S3 Batch Operations CSV rows: bucket,key[,versionId].
func readBatchCSV(ctx context.Context, r io.Reader, yield func(Entry) error) error {
	rs := newRows(r, "")
	for {
		rec, err := rs.next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(rec) != 2 && len(rec) != 3 {
			return rs.fail(&Error{Field: "row", Value: strings.Join(rec, ","), Err: ErrMalformed,
				Cause: fmt.Errorf("%d columns, want bucket,key[,versionId]", len(rec))})
		}
		e := Entry{Bucket: rec[0], Size: -1}
		if fe := checkBucket(e.Bucket); fe != nil {
			return rs.fail(fe)
		}
		key, fe := decodeKey(rec[1])
		if fe != nil {
			return rs.fail(fe)
		}
		e.Key = key
		if len(rec) == 3 {
			if fe := checkVersionID(rec[2]); fe != nil {
				return rs.fail(fe)
			}
			e.VersionID = rec[2]
		}
		if err := yield(e); err != nil {
			return err
		}
	}
}
