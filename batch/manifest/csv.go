package manifest

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readAhead bounds what encoding/csv buffers past the record it parses:
// its bufio.Reader has the default 4096 bytes.
const readAhead = 4096

// ctxEvery is how many rows pass between ctx checks.
const ctxEvery = 1024

var errRowTooLong = errors.New("row too long")

// limiter stops the CSV parser once it pulled more than MaxRowBytes plus
// its read-ahead past the end of the last record, so one endless row (or
// quoted field) costs at most that much memory before it fails.
type limiter struct {
	r      io.Reader
	pulled int64 // bytes handed to the parser
	base   int64 // input offset of the end of the last record
	lines  int   // newlines in the pulled bytes
}

func (l *limiter) Read(p []byte) (int, error) {
	if l.pulled-l.base > MaxRowBytes+readAhead {
		return 0, errRowTooLong
	}
	if len(p) > readAhead {
		p = p[:readAhead]
	}
	n, err := l.r.Read(p)
	l.pulled += int64(n)
	l.lines += bytes.Count(p[:n], []byte{'\n'})
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
	rs := &rows{lim: limiter{r: r}, file: file}
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
		return nil, &Error{File: rs.file, Line: rs.lim.lines + 1, Field: "row", Value: "", Err: ErrLimit}
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
	end := rs.cr.InputOffset()
	if end-rs.lim.base > MaxRowBytes {
		return nil, &Error{File: rs.file, Line: rs.line, Field: "row", Value: rec[0], Err: ErrLimit}
	}
	rs.lim.base = end
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
