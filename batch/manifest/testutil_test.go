package manifest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"
)

// gz is data gzip-compressed.
func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// store is an Opener over in-memory objects of one bucket, recording
// what it opened.
type store struct {
	bucket string
	objs   map[string][]byte
	opened []string
}

func (s *store) open(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	s.opened = append(s.opened, bucket+"/"+key)
	b, ok := s.objs[key]
	if !ok || bucket != s.bucket {
		return nil, fmt.Errorf("open %s/%s: %w", bucket, key, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// inventory builds a manifest.json naming one gzip data file per CSV
// text in files, stored in st under "inv/data/<i>.csv.gz".
func inventory(t testing.TB, st *store, schema string, files ...string) []byte {
	t.Helper()
	type file struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
		MD5  string `json:"MD5checksum"`
	}
	m := struct {
		Source  string `json:"sourceBucket"`
		Dest    string `json:"destinationBucket"`
		Version string `json:"version"`
		Created string `json:"creationTimestamp"`
		Format  string `json:"fileFormat"`
		Schema  string `json:"fileSchema"`
		Files   []file `json:"files"`
	}{"amzn-s3-demo-source-bucket", "arn:aws:s3:::" + st.bucket, "2016-11-30", "1514944800000", "CSV", schema, []file{}}
	for i, text := range files {
		z := gz(t, []byte(text))
		key := fmt.Sprintf("inv/amzn-s3-demo-source-bucket/config-ID/data/%d.csv.gz", i)
		st.objs[key] = z
		m.Files = append(m.Files, file{key, int64(len(z)), md5hex(z)})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newStore() *store {
	return &store{bucket: "amzn-s3-demo-inventory-bucket", objs: map[string][]byte{}}
}

// readAll collects the entries of a manifest.
func readAll(ctx context.Context, r io.Reader, open Opener) ([]Entry, error) {
	var got []Entry
	err := Read(ctx, r, open, func(e Entry) error {
		got = append(got, e)
		return nil
	})
	return got, err
}

// asError checks err is an *Error matching sentinel and returns it.
func asError(t *testing.T, err, sentinel error) *Error {
	t.Helper()
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want %v", err, sentinel)
	}
	return e
}

// repeatReader returns byte b until limit bytes were read, counting them.
type repeatReader struct {
	b      byte
	n      int64
	limit  int64
	prefix []byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if len(r.prefix) > 0 {
		n := copy(p, r.prefix)
		r.prefix = r.prefix[n:]
		r.n += int64(n)
		return n, nil
	}
	if r.n >= r.limit {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.limit-r.n)]
	for i := range p {
		p[i] = r.b
	}
	r.n += int64(len(p))
	return len(p), nil
}
