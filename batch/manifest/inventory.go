package manifest

import (
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// inventoryJSON is the part of an S3 Inventory manifest.json Read uses;
// other fields are ignored.
type inventoryJSON struct {
	SourceBucket      string `json:"sourceBucket"`
	DestinationBucket string `json:"destinationBucket"`
	FileFormat        string `json:"fileFormat"`
	FileSchema        string `json:"fileSchema"`
	Files             []struct {
		Key         string `json:"key"`
		Size        *int64 `json:"size"`
		MD5Checksum string `json:"MD5checksum"`
	} `json:"files"`
}

// schema holds the column index of each field Read uses; -1 if absent.
type schema struct {
	n                                                    int
	bucket, key, versionID, isLatest, deleteMarker, size int
}

func parseSchema(s string) (schema, *Error) {
	sc := schema{bucket: -1, key: -1, versionID: -1, isLatest: -1, deleteMarker: -1, size: -1}
	cols := strings.Split(s, ",")
	if len(cols) > MaxSchemaColumns {
		return sc, &Error{Field: "fileSchema", Value: s, Err: ErrLimit}
	}
	sc.n = len(cols)
	for i, c := range cols {
		var p *int
		switch strings.TrimSpace(c) {
		case "Bucket":
			p = &sc.bucket
		case "Key":
			p = &sc.key
		case "VersionId":
			p = &sc.versionID
		case "IsLatest":
			p = &sc.isLatest
		case "IsDeleteMarker":
			p = &sc.deleteMarker
		case "Size":
			p = &sc.size
		case "":
			return sc, &Error{Field: "fileSchema", Value: s, Err: ErrMalformed, Cause: fmt.Errorf("empty column %d", i+1)}
		default:
			continue
		}
		if *p >= 0 {
			return sc, &Error{Field: "fileSchema", Value: s, Err: ErrMalformed, Cause: fmt.Errorf("column %q twice", strings.TrimSpace(c))}
		}
		*p = i
	}
	if sc.bucket < 0 || sc.key < 0 {
		return sc, &Error{Field: "fileSchema", Value: s, Err: ErrMalformed, Cause: fmt.Errorf("no Bucket or Key column")}
	}
	return sc, nil
}

// bucketFromARN returns the bucket of "arn:<partition>:s3:::<bucket>".
func bucketFromARN(arn string) (string, *Error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "s3" || parts[3] != "" || parts[4] != "" {
		return "", &Error{Field: "destinationBucket", Value: arn, Err: ErrMalformed}
	}
	if fe := checkBucket(parts[5]); fe != nil {
		return "", &Error{Field: "destinationBucket", Value: arn, Err: ErrMalformed}
	}
	return parts[5], nil
}

// readInventory reads an S3 Inventory manifest.json from r, then each of
// its data files in order.
func readInventory(ctx context.Context, r io.Reader, open Opener, yield func(Entry) error) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxJSONBytes+1))
	if err != nil {
		return &Error{Err: err}
	}
	if len(data) > MaxJSONBytes {
		return &Error{Err: ErrLimit, Cause: fmt.Errorf("manifest.json over %d bytes", MaxJSONBytes)}
	}
	var m inventoryJSON
	if err := json.Unmarshal(data, &m); err != nil {
		return &Error{Err: ErrMalformed, Cause: fmt.Errorf("manifest.json: %w", err)}
	}
	if !strings.EqualFold(m.FileFormat, "CSV") {
		return &Error{Field: "fileFormat", Value: m.FileFormat, Err: ErrUnsupportedFormat}
	}
	sc, fe := parseSchema(m.FileSchema)
	if fe != nil {
		return fe
	}
	dest, fe := bucketFromARN(m.DestinationBucket)
	if fe != nil {
		return fe
	}
	if m.SourceBucket != "" {
		if fe := checkBucket(m.SourceBucket); fe != nil {
			fe.Field = "sourceBucket"
			return fe
		}
	}
	if len(m.Files) > MaxFiles {
		return &Error{Field: "files", Value: strconv.Itoa(len(m.Files)), Err: ErrLimit}
	}
	for _, f := range m.Files {
		if fe := checkKey(f.Key); fe != nil {
			fe.Field = "files.key"
			return fe
		}
		if _, err := hex.DecodeString(f.MD5Checksum); err != nil || len(f.MD5Checksum) != 2*md5.Size {
			return &Error{File: f.Key, Field: "MD5checksum", Value: f.MD5Checksum, Err: ErrMalformed}
		}
		if f.Size != nil && *f.Size < 0 {
			return &Error{File: f.Key, Field: "size", Value: strconv.FormatInt(*f.Size, 10), Err: ErrMalformed}
		}
	}
	if len(m.Files) > 0 && open == nil {
		return &Error{Field: "files", Value: m.Files[0].Key, Err: ErrUnsupportedFormat, Cause: fmt.Errorf("no Opener for Inventory data files")}
	}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return &Error{File: f.Key, Err: err}
		}
		want, _ := hex.DecodeString(f.MD5Checksum)
		size := int64(-1)
		if f.Size != nil {
			size = *f.Size
		}
		if err := readDataFile(ctx, open, dest, f.Key, want, size, m.SourceBucket, sc, yield); err != nil {
			return err
		}
	}
	return nil
}

// sumReader hashes and counts what is read through it. Errors of r other
// than io.EOF come wrapped in a sourceError.
type sumReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (s *sumReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	if err != nil && err != io.EOF {
		err = sourceError{err}
	}
	return n, err
}

// sourceError is a read error of a data file itself, as opposed to one
// of the gzip stream it holds.
type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }

// readDataFile streams one gzip-compressed CSV data file, yielding its
// entries, and checks its MD5 and size at the end.
func readDataFile(ctx context.Context, open Opener, bucket, key string, wantMD5 []byte, wantSize int64,
	source string, sc schema, yield func(Entry) error) error {
	rc, err := open(ctx, bucket, key)
	if err != nil {
		return &Error{File: key, Err: err}
	}
	defer rc.Close()
	sum := &sumReader{r: rc, h: md5.New()}
	zr, err := gzip.NewReader(sum)
	if se, ok := errors.AsType[sourceError](err); ok {
		return &Error{File: key, Err: se.err}
	}
	if err != nil {
		return &Error{File: key, Err: ErrMalformed, Cause: err}
	}
	rs := newRows(zr, key)
	rs.gzip = true
	for {
		rec, err := rs.next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		e, skip, fe := inventoryEntry(rec, sc, source)
		if fe != nil {
			return rs.fail(fe)
		}
		if skip {
			continue
		}
		if err := yield(e); err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, sum); err != nil {
		se, _ := errors.AsType[sourceError](err)
		return &Error{File: key, Err: se.err}
	}
	if got := sum.h.Sum(nil); string(got) != string(wantMD5) {
		return &Error{File: key, Field: "MD5checksum", Value: hex.EncodeToString(got), Err: ErrChecksum}
	}
	if wantSize >= 0 && sum.n != wantSize {
		return &Error{File: key, Field: "size", Value: strconv.FormatInt(sum.n, 10), Err: ErrChecksum}
	}
	return nil
}

// inventoryEntry is the entry of one Inventory CSV row; skip is true for
// a delete marker.
func inventoryEntry(rec []string, sc schema, source string) (e Entry, skip bool, fe *Error) {
	if len(rec) != sc.n {
		return e, false, &Error{Field: "row", Value: strings.Join(rec, ","), Err: ErrMalformed,
			Cause: fmt.Errorf("%d columns, fileSchema has %d", len(rec), sc.n)}
	}
	if sc.deleteMarker >= 0 {
		switch rec[sc.deleteMarker] {
		case "true":
			return e, true, nil
		case "false", "":
		default:
			return e, false, &Error{Field: "IsDeleteMarker", Value: rec[sc.deleteMarker], Err: ErrMalformed}
		}
	}
	if sc.isLatest >= 0 {
		switch rec[sc.isLatest] {
		case "true", "false", "":
		default:
			return e, false, &Error{Field: "IsLatest", Value: rec[sc.isLatest], Err: ErrMalformed}
		}
	}
	e = Entry{Bucket: rec[sc.bucket], Size: -1}
	if fe := checkBucket(e.Bucket); fe != nil {
		return e, false, fe
	}
	if source != "" && e.Bucket != source {
		return e, false, &Error{Field: "bucket", Value: e.Bucket, Err: ErrMalformed,
			Cause: fmt.Errorf("not the sourceBucket %s", quote(source))}
	}
	if e.Key, fe = decodeKey(rec[sc.key]); fe != nil {
		return e, false, fe
	}
	if sc.versionID >= 0 {
		if fe := checkVersionID(rec[sc.versionID]); fe != nil {
			return e, false, fe
		}
		e.VersionID = rec[sc.versionID]
	}
	if sc.size >= 0 && rec[sc.size] != "" {
		n, err := strconv.ParseInt(rec[sc.size], 10, 64)
		if err != nil || n < 0 {
			return e, false, &Error{Field: "Size", Value: rec[sc.size], Err: ErrMalformed}
		}
		e.Size = n
	}
	return e, false, nil
}
