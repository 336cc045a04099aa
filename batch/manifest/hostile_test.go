package manifest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestHostileLongRow: one endless CSV line makes the parser buffer it all.
func TestHostileLongRow(t *testing.T) {
	src := &repeatReader{b: 'a', limit: 64 << 20, prefix: []byte("b,k1\nb,k2\nb,")}
	got, err := readAll(t.Context(), src, nil)
	e := asError(t, err, ErrLimit)
	if e.Line != 3 || len(got) != 2 {
		t.Errorf("line %d after %d entries, want line 3 after 2", e.Line, len(got))
	}
	if src.n > 4*MaxRowBytes {
		t.Errorf("read %d bytes of a row before failing", src.n)
	}
}

// TestHostileLongQuotedField: a quoted field of many short lines grows one
// record without any long line.
func TestHostileLongQuotedField(t *testing.T) {
	src := &repeatReader{b: '\n', limit: 64 << 20, prefix: []byte("b,\"k")}
	_, err := readAll(t.Context(), src, nil)
	asError(t, err, ErrLimit)
	if src.n > 4*MaxRowBytes {
		t.Errorf("read %d bytes of a row before failing", src.n)
	}
}

// TestHostileRowJustOver: the row limit is exact, whatever the parser
// reads ahead; an Inventory row bounds no column it ignores, so only the
// row limit stops a long one. A row of MaxRowBytes (its newline excluded)
// is read.
func TestHostileRowJustOver(t *testing.T) {
	row := func(n int) string { // an Inventory row of n bytes and its newline
		const head = `"src","k","`
		return head + strings.Repeat("e", n-len(head)-1) + `"` + "\n"
	}
	for _, tc := range []struct {
		n    int
		fail bool
	}{{MaxRowBytes, false}, {MaxRowBytes + 1, true}} {
		st := newStore()
		m := inventory(t, st, "Bucket, Key, ETag", `"src","a","x"`+"\n"+row(tc.n)+row(20))
		m = bytes.Replace(m, []byte("amzn-s3-demo-source-bucket"), []byte("src"), 1)
		got, err := readAll(t.Context(), bytes.NewReader(m), st.open)
		if !tc.fail {
			if err != nil || len(got) != 3 {
				t.Errorf("row of %d bytes: %v, %d entries", tc.n, err, len(got))
			}
			continue
		}
		if e := asError(t, err, ErrLimit); e.Line != 2 || len(got) != 1 {
			t.Errorf("row of %d bytes: line %d after %d entries", tc.n, e.Line, len(got))
		}
	}
}

// TestHostileKeyLength: a key S3 could not hold (over 1024 bytes once
// decoded) is refused; one of exactly 1024 bytes is read.
func TestHostileKeyLength(t *testing.T) {
	_, err := readAll(t.Context(), strings.NewReader("b,"+strings.Repeat("ü", MaxKeyBytes/2)+"x\n"), nil)
	asError(t, err, ErrLimit)
	got, err := readAll(t.Context(), strings.NewReader("b,"+strings.Repeat("%C3%BC", MaxKeyBytes/2)+"\n"), nil)
	if err != nil || len(got) != 1 || len(got[0].Key) != MaxKeyBytes {
		t.Errorf("1024-byte key: %v, %d entries", err, len(got))
	}
}

// TestHostileKeyBytes: NUL, invalid UTF-8 and bad escapes in a key reach
// S3 requests and logs.
func TestHostileKeyBytes(t *testing.T) {
	for _, raw := range []string{"a%00b", "%C3", "%ff%fe", "a%zz", "%", "%%41", "a%2"} {
		_, err := readAll(t.Context(), strings.NewReader("b,"+raw+"\n"), nil)
		e := asError(t, err, ErrMalformed)
		if e.Field != "key" || !strings.Contains(err.Error(), `"`+raw+`"`) {
			t.Errorf("%q: %q does not quote the key", raw, err)
		}
	}
}

// TestHostileBucketNames: a bucket that is not a bucket name ("..", a
// path, a host with a port) would steer requests elsewhere.
func TestHostileBucketNames(t *testing.T) {
	for _, b := range []string{"", "a/b", "..%2F", "host:80", "a b", "a\x00b", "ü", strings.Repeat("b", MaxBucketBytes+1)} {
		_, err := readAll(t.Context(), strings.NewReader(`"`+b+`",k`+"\n"), nil)
		if e := asError(t, err, ErrMalformed); e.Field != "bucket" {
			t.Errorf("%q: field %q", b, e.Field)
		}
	}
}

// TestHostileErrorText: attacker bytes in an error are quoted and cut, so
// they neither drive a terminal nor flood a log.
func TestHostileErrorText(t *testing.T) {
	raw := "\x1b[2J" + strings.Repeat("%zz", 500)
	_, err := readAll(t.Context(), strings.NewReader("b,"+raw+"\n"), nil)
	msg := err.Error()
	if strings.ContainsRune(msg, 0x1b) || len(msg) > 300 {
		t.Errorf("error text %d bytes: %q", len(msg), msg)
	}
	if !strings.Contains(msg, `\x1b[2J`) || !strings.Contains(msg, "manifest line 1: key ") {
		t.Errorf("error text %q", msg)
	}
}

// TestHostileJSONSize: an endless manifest.json is read only up to
// MaxJSONBytes.
func TestHostileJSONSize(t *testing.T) {
	src := &repeatReader{b: ' ', limit: 64 << 20, prefix: []byte(`{"files":`)}
	_, err := readAll(t.Context(), src, nil)
	asError(t, err, ErrLimit)
	if src.n > MaxJSONBytes+64<<10 {
		t.Errorf("read %d bytes", src.n)
	}
}

// TestHostileFilesCount: a manifest.json listing more data files than
// MaxFiles is refused before any is opened.
func TestHostileFilesCount(t *testing.T) {
	if raceEnabled {
		t.Skip("encoding/json of 100,001 files is slow under -race; no goroutines to race")
	}
	var b bytes.Buffer
	b.WriteString(`{"destinationBucket":"arn:aws:s3:::d","fileFormat":"CSV","fileSchema":"Bucket, Key","files":[`)
	for i := range MaxFiles + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"key":"k","MD5checksum":"d41d8cd98f00b204e9800998ecf8427e"}`)
	}
	b.WriteString("]}")
	st := newStore()
	_, err := readAll(t.Context(), &b, st.open)
	if e := asError(t, err, ErrLimit); e.Field != "files" || len(st.opened) != 0 {
		t.Errorf("field %q, opened %d", e.Field, len(st.opened))
	}
}

// bombFile is a gzip data file of prefix and then n MiB of byte b, built
// as n copies of one member (gzip readers read concatenated members as
// one stream), so the test never compresses n MiB.
func bombFile(t *testing.T, prefix string, b byte, n int) []byte {
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write([]byte(prefix))
	w.Close()
	w.Reset(&z)
	start := z.Len()
	w.Write(bytes.Repeat([]byte{b}, 1<<20))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	member := z.Bytes()[start:]
	for range n - 1 {
		z.Write(member)
	}
	return z.Bytes()
}

// inventoryOf is a manifest.json over the given raw data files.
func inventoryOf(t testing.TB, st *store, files ...[]byte) []byte {
	type file struct {
		Key  string `json:"key"`
		Size int    `json:"size"`
		MD5  string `json:"MD5checksum"`
	}
	var fs []file
	for i, z := range files {
		k := "data/" + string(rune('a'+i)) + ".csv.gz"
		st.objs[k] = z
		fs = append(fs, file{k, len(z), md5hex(z)})
	}
	m, err := json.Marshal(map[string]any{
		"sourceBucket": "src", "destinationBucket": "arn:aws:s3:::" + st.bucket,
		"fileFormat": "CSV", "fileSchema": "Bucket, Key", "files": fs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestHostileGzipBomb: a small data file inflating to 1 GiB costs
// streaming CPU, not memory: one long line fails at the row limit after
// reading a few KiB, and a flood of blank lines streams in constant heap.
func TestHostileGzipBomb(t *testing.T) {
	if raceEnabled {
		t.Skip("measures memory; no goroutines to race")
	}
	st := newStore()
	line := bombFile(t, `"src","`, 'a', 1024)
	blank := bombFile(t, `"src","k"`+"\n", '\n', 4)
	t.Logf("bombs: %d and %d bytes", len(line), len(blank))

	before := liveHeap()
	var during uint64
	m := inventoryOf(t, st, blank, line)
	n := 0
	err := Read(t.Context(), bytes.NewReader(m), st.open, func(Entry) error {
		n++
		return nil
	})
	during = liveHeap()
	e := asError(t, err, ErrLimit)
	if e.File != "data/b.csv.gz" || e.Line != 1 || n != 1 {
		t.Errorf("err %v after %d entries", err, n)
	}
	if during > before+(4<<20) {
		t.Errorf("live heap grew from %d to %d", before, during)
	}
}

// TestHostileChecksum: a data file changed after the manifest.json was
// written (or a forged one) fails at its end, with its rows yielded.
func TestHostileChecksum(t *testing.T) {
	st := newStore()
	z := gz(t, []byte(`"src","a"`+"\n"+`"src","b"`+"\n"))
	m := inventoryOf(t, st, z)
	forged := gz(t, []byte(`"src","a"`+"\n"+`"src","c"`+"\n"))
	st.objs["data/a.csv.gz"] = forged
	got, err := readAll(t.Context(), bytes.NewReader(m), st.open)
	if e := asError(t, err, ErrChecksum); e.Field != "MD5checksum" || e.File != "data/a.csv.gz" || len(got) != 2 {
		t.Errorf("err %v after %d entries", err, len(got))
	}

	// Bytes after the gzip stream are covered too.
	st.objs["data/a.csv.gz"] = append(z[:len(z):len(z)], 0)
	_, err = readAll(t.Context(), bytes.NewReader(m), st.open)
	if err == nil {
		t.Error("trailing byte accepted")
	}

	// Same MD5 claimed for a file of another size.
	st.objs["data/a.csv.gz"] = z
	m2 := bytes.Replace(m, []byte(`"size":`+strconv.Itoa(len(z))), []byte(`"size":`+strconv.Itoa(len(z)+1)), 1)
	_, err = readAll(t.Context(), bytes.NewReader(m2), st.open)
	if e := asError(t, err, ErrChecksum); e.Field != "size" {
		t.Errorf("field %q", e.Field)
	}
}

// TestHostileForeignBucket: an Inventory row naming another bucket than
// the report's source is refused.
func TestHostileForeignBucket(t *testing.T) {
	st := newStore()
	m := inventoryOf(t, st, gz(t, []byte(`"src","a"`+"\n"+`"victim","b"`+"\n")))
	_, err := readAll(t.Context(), bytes.NewReader(m), st.open)
	if e := asError(t, err, ErrMalformed); e.Field != "bucket" || e.Line != 2 {
		t.Errorf("err %v", err)
	}
}

// TestHostileRootOpenerEscape: data file keys from a forged manifest.json
// name files outside the local bucket copy.
func TestHostileRootOpenerEscape(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600)
	os.Mkdir(filepath.Join(dir, "bucket"), 0o700)
	os.Symlink("../secret", filepath.Join(dir, "bucket", "link"))
	root, err := os.OpenRoot(filepath.Join(dir, "bucket"))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	open := RootOpener(root)
	for _, key := range []string{"../secret", "a/../../secret", "/etc/passwd", "link"} {
		if rc, err := open(t.Context(), "b", key); err == nil {
			rc.Close()
			t.Errorf("opened %q", key)
		}
	}
}
