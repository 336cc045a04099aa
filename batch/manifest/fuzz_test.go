package manifest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRead feeds Read a manifest (CSV or manifest.json) and the content of
// every Inventory data file it names (gzip-compressed here, so the CSV
// parser sees the fuzzed rows). Read must not panic, must yield only valid
// entries and must fail only with an *Error.
func FuzzRead(f *testing.F) {
	f.Add([]byte("b,k\nb,a+b%2F,v1\n"), []byte(nil))
	f.Add([]byte("\uFEFF\"b\",\"k\"\"q\"\r\n\r\nb,%zz\n"), []byte(nil))
	f.Add([]byte("b,\"k\nx\"\n"), []byte(nil))
	data := []byte(`"src","a%20b","v1","true","false","3"` + "\n" + `"src","d","v2","false","true",""` + "\n")
	z := gzipped(data)
	st := newStore()
	st.objs["data/a.csv.gz"] = z
	m := inventoryOf(f, st, z)
	f.Add(m, data)
	f.Add(bytes.Replace(m, []byte(`"Bucket, Key"`), []byte(`"Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size"`), 1), data)
	f.Add(bytes.Replace(m, []byte(`"CSV"`), []byte(`"Parquet"`), 1), data)

	f.Fuzz(func(t *testing.T, manifest, data []byte) {
		z := gzipped(data)
		open := func(_ context.Context, bucket, key string) (io.ReadCloser, error) {
			if checkBucket(bucket) != nil || checkKey(key) != nil {
				t.Fatalf("opened %q %q", bucket, key)
			}
			return io.NopCloser(bytes.NewReader(z)), nil
		}
		n := 0
		err := Read(t.Context(), bytes.NewReader(manifest), open, func(e Entry) error {
			n++
			if checkBucket(e.Bucket) != nil || checkKey(e.Key) != nil || checkVersionID(e.VersionID) != nil || e.Size < -1 {
				t.Fatalf("invalid entry %+v", e)
			}
			if n > len(manifest)+len(data) {
				t.Fatalf("%d entries from %d bytes", n, len(manifest)+len(data))
			}
			return nil
		})
		if err == nil {
			return
		}
		e, ok := errors.AsType[*Error](err)
		if !ok {
			t.Fatalf("err %v (%T)", err, err)
		}
		msg := e.Error()
		if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\x00\n\x1b") || len(msg) > 1024 {
			t.Fatalf("error text %q", msg)
		}
	})
}

func gzipped(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}
