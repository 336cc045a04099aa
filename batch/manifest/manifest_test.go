package manifest

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestReadBatchCSV(t *testing.T) {
	const b = "amzn-s3-demo-bucket"
	for _, tc := range []struct {
		name, in string
		want     []Entry
	}{
		{"empty", "", nil},
		{"blank", " \n\r\n\t", nil},
		{"two columns", b + ",photos/a.jpg\n", []Entry{{b, "photos/a.jpg", "", -1}}},
		{"three columns", b + ",k1,3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY\n" + b + ",k2,null",
			[]Entry{{b, "k1", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", -1}, {b, "k2", "null", -1}}},
		{"mixed columns", b + ",k1\nother.bucket,k2,v2\n", []Entry{{b, "k1", "", -1}, {"other.bucket", "k2", "v2", -1}}},
		{"form decoding", b + ",a+b%2Bc%2F%E2%82%AC%25\n", []Entry{{b, "a b+c/€%", "", -1}}},
		{"raw utf-8 and slash", b + ",dir/sub/ü.txt\n", []Entry{{b, "dir/sub/ü.txt", "", -1}}},
		{"crlf and blank lines", b + ",k1\r\n\r\n" + b + ",k2\r\n", []Entry{{b, "k1", "", -1}, {b, "k2", "", -1}}},
		{"bom", "\uFEFF" + b + ",k1\n", []Entry{{b, "k1", "", -1}}},
		{"quoted", `"` + b + `","a,b ""c"""` + "\n", []Entry{{b, `a,b "c"`, "", -1}}},
		{"empty version", b + ",k1,\n", []Entry{{b, "k1", "", -1}}},
		{"legacy bucket", "My_Old.Bucket,k\n", []Entry{{"My_Old.Bucket", "k", "", -1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t.Context(), strings.NewReader(tc.in), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// inventorySchema is the fileSchema of an inventory with every optional
// field AWS documents that matters here, and some it ignores.
const inventorySchema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded"

func TestReadInventory(t *testing.T) {
	st := newStore()
	const src = `"amzn-s3-demo-source-bucket"`
	file1 := src + `,"photos/a+b.jpg","v2","true","false","42","2024-01-02T03:04:05.000Z","0cc175b9c0f1b6a831c399e269772661","STANDARD","false"` + "\n" +
		src + `,"photos/a+b.jpg","v1","false","false","40","2024-01-01T03:04:05.000Z","0cc175b9c0f1b6a831c399e269772662","STANDARD","false"` + "\n" +
		src + `,"gone.txt","v9","true","true","","2024-01-03T03:04:05.000Z","","",""` + "\n"
	file2 := src + `,"dir%2Fsub%2F%E2%82%AC.bin","null","true","false","0","2024-01-02T03:04:05.000Z","d41d8cd98f00b204e9800998ecf8427e","GLACIER","true"` + "\n"
	m := inventory(t, st, inventorySchema, file1, file2)
	got, err := readAll(t.Context(), bytes.NewReader(m), st.open)
	if err != nil {
		t.Fatal(err)
	}
	const sb = "amzn-s3-demo-source-bucket"
	want := []Entry{
		{sb, "photos/a b.jpg", "v2", 42},
		{sb, "photos/a b.jpg", "v1", 40},
		{sb, "dir/sub/€.bin", "null", 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	wantOpened := []string{
		"amzn-s3-demo-inventory-bucket/inv/amzn-s3-demo-source-bucket/config-ID/data/0.csv.gz",
		"amzn-s3-demo-inventory-bucket/inv/amzn-s3-demo-source-bucket/config-ID/data/1.csv.gz",
	}
	if !reflect.DeepEqual(st.opened, wantOpened) {
		t.Errorf("opened %q, want %q", st.opened, wantOpened)
	}
}

// TestReadInventoryAWSSample reads a manifest.json laid out exactly as the
// S3 Inventory documentation shows it (fields, order, spacing).
func TestReadInventoryAWSSample(t *testing.T) {
	st := newStore()
	d1 := gz(t, []byte(`"amzn-s3-demo-source-bucket","a.txt","12"`+"\n"))
	d2 := gz(t, []byte(`"amzn-s3-demo-source-bucket","b%20c.txt","7"`+"\n"))
	st.objs["destination-prefix/amzn-s3-demo-source-bucket/config-ID/data/d1.csv.gz"] = d1
	st.objs["destination-prefix/amzn-s3-demo-source-bucket/config-ID/data/d2.csv.gz"] = d2
	m := `{
    "sourceBucket": "amzn-s3-demo-source-bucket",
    "destinationBucket": "arn:aws:s3:::amzn-s3-demo-inventory-bucket",
    "version": "2016-11-30",
    "creationTimestamp" : "1514944800000",
    "fileFormat": "CSV",
    "fileSchema": "Bucket, Key, Size",
    "files": [
        {
            "key": "destination-prefix/amzn-s3-demo-source-bucket/config-ID/data/d1.csv.gz",
            "size": ` + strconv.Itoa(len(d1)) + `,
            "MD5checksum": "` + md5hex(d1) + `"
        },
        {
            "key": "destination-prefix/amzn-s3-demo-source-bucket/config-ID/data/d2.csv.gz",
            "size": ` + strconv.Itoa(len(d2)) + `,
            "MD5checksum": "` + md5hex(d2) + `"
        }
    ]
}
`
	got, err := readAll(t.Context(), strings.NewReader(m), st.open)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{"amzn-s3-demo-source-bucket", "a.txt", "", 12}, {"amzn-s3-demo-source-bucket", "b c.txt", "", 7}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// randomKey is a key of arbitrary UTF-8 with the characters that need
// escaping: space, '+', '%', ',', '"', newline, non-ASCII.
func randomKey(r *rand.Rand) string {
	const alphabet = "ab/ +%,\"\n\r\t.ü€🙂~=&?#"
	runes := []rune(alphabet)
	n := 1 + r.IntN(40)
	var b strings.Builder
	for range n {
		b.WriteRune(runes[r.IntN(len(runes))])
	}
	return b.String()
}

// TestReadRoundTrip: keys escaped and written as AWS writes them read back
// unchanged, in both formats.
func TestReadRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var want []Entry
	for i := range 500 {
		e := Entry{Bucket: "bkt-" + strconv.Itoa(i%3), Key: randomKey(r), Size: -1}
		if i%2 == 0 {
			e.VersionID = "v" + strconv.Itoa(i) + "+/x"
		}
		want = append(want, e)
	}
	want = append(want, Entry{Bucket: "b", Key: strings.Repeat("€", MaxKeyBytes/3), Size: -1})

	t.Run("batch", func(t *testing.T) {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		for _, e := range want {
			rec := []string{e.Bucket, url.QueryEscape(e.Key)}
			if e.VersionID != "" {
				rec = append(rec, e.VersionID)
			}
			w.Write(rec)
		}
		w.Flush()
		got, err := readAll(t.Context(), &buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip differs")
		}
	})
	t.Run("inventory", func(t *testing.T) {
		var files []string
		var wantInv []Entry
		for part := range 2 {
			var buf bytes.Buffer
			w := csv.NewWriter(&buf)
			for i, e := range want {
				if i%2 != part {
					continue
				}
				e.Bucket = "amzn-s3-demo-source-bucket"
				e.Size = int64(i)
				w.Write([]string{e.Bucket, url.QueryEscape(e.Key), e.VersionID, "true", "false", strconv.Itoa(i)})
				wantInv = append(wantInv, e)
			}
			w.Flush()
			files = append(files, buf.String())
		}
		st := newStore()
		m := inventory(t, st, "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size", files...)
		got, err := readAll(t.Context(), bytes.NewReader(m), st.open)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, wantInv) {
			t.Errorf("round trip differs")
		}
	})
}

func TestReadErrors(t *testing.T) {
	st := newStore()
	good := inventory(t, st, "Bucket, Key", `"amzn-s3-demo-source-bucket","k"`+"\n")
	withFormat := func(format string) string {
		return strings.Replace(string(good), `"fileFormat": "CSV"`, `"fileFormat": "`+format+`"`, 1)
	}
	withSchema := func(schema string) string {
		return strings.Replace(string(good), `"fileSchema": "Bucket, Key"`, `"fileSchema": "`+schema+`"`, 1)
	}
	for _, tc := range []struct {
		name, in string
		sentinel error
		field    string
		line     int
	}{
		{"one column", "b,k\nb\n", ErrMalformed, "row", 2},
		{"four columns", "b,k,v,x\n", ErrMalformed, "row", 1},
		{"bad escape", "b,k\nb,a%zz\n", ErrMalformed, "key", 2},
		{"truncated escape", "b,a%2\n", ErrMalformed, "key", 1},
		{"empty key", "b,\n", ErrMalformed, "key", 1},
		{"empty bucket", ",k\n", ErrMalformed, "bucket", 1},
		{"bucket slash", "a/b,k\n", ErrMalformed, "bucket", 1},
		{"NUL in key", "b,a%00b\n", ErrMalformed, "key", 1},
		{"invalid utf-8 key", "b,%FF\n", ErrMalformed, "key", 1},
		{"key too long", "b," + strings.Repeat("a", MaxKeyBytes+1) + "\n", ErrLimit, "key", 1},
		{"escaped key too long", "b," + strings.Repeat("%41", MaxKeyBytes+1) + "\n", ErrLimit, "key", 1},
		{"version with space", "b,k,v 1\n", ErrMalformed, "versionId", 1},
		{"version too long", "b,k," + strings.Repeat("v", MaxVersionIDBytes+1) + "\n", ErrLimit, "versionId", 1},
		{"bare quote", "b,k\"x\n", ErrMalformed, "", 1},
		{"unterminated quote", "b,k\nb,\"k\n", ErrMalformed, "", 2},
		{"json syntax", `{"files": [}`, ErrMalformed, "", 0},
		{"json trailing", string(good) + "x", ErrMalformed, "", 0},
		{"orc", withFormat("ORC"), ErrUnsupportedFormat, "fileFormat", 0},
		{"parquet", withFormat("Parquet"), ErrUnsupportedFormat, "fileFormat", 0},
		{"no format", withFormat(""), ErrUnsupportedFormat, "fileFormat", 0},
		{"schema without key", withSchema("Bucket, Size"), ErrMalformed, "fileSchema", 0},
		{"schema twice", withSchema("Bucket, Key, Key"), ErrMalformed, "fileSchema", 0},
		{"schema empty column", withSchema("Bucket,,Key"), ErrMalformed, "fileSchema", 0},
		{"schema too wide", withSchema("Bucket, Key" + strings.Repeat(", X", MaxSchemaColumns)), ErrLimit, "fileSchema", 0},
		{"not an ARN", strings.Replace(string(good), "arn:aws:s3:::", "s3://", 1), ErrMalformed, "destinationBucket", 0},
		{"ARN bad bucket", strings.Replace(string(good), "arn:aws:s3:::", "arn:aws:s3:::x/", 1), ErrMalformed, "destinationBucket", 0},
		{"bad MD5", strings.Replace(string(good), `"MD5checksum": "`, `"MD5checksum": "z`, 1), ErrMalformed, "MD5checksum", 0},
		{"file key NUL", strings.Replace(string(good), `"key": "inv/`, `"key": "\u0000inv/`, 1), ErrMalformed, "files.key", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t.Context(), strings.NewReader(tc.in), st.open)
			e := asError(t, err, tc.sentinel)
			if e.Field != tc.field || e.Line != tc.line {
				t.Errorf("err %q: field %q line %d, want %q %d", err, e.Field, e.Line, tc.field, tc.line)
			}
			if tc.line > 1 && len(got) != tc.line-1 {
				t.Errorf("%d entries before the error, want %d", len(got), tc.line-1)
			}
			if strings.ContainsAny(err.Error(), "\x00\n") {
				t.Errorf("raw bytes in %q", err)
			}
		})
	}
	t.Run("orc named", func(t *testing.T) {
		_, err := readAll(t.Context(), strings.NewReader(withFormat("ORC")), st.open)
		if !strings.Contains(err.Error(), `"ORC"`) {
			t.Errorf("%q does not name the format", err)
		}
	})
}

func TestReadInventoryRowErrors(t *testing.T) {
	for _, tc := range []struct {
		name, row string
		field     string
	}{
		{"columns", `"amzn-s3-demo-source-bucket","k","v","true"`, "row"},
		{"foreign bucket", `"other-bucket","k","v","true","false","1"`, "bucket"},
		{"size", `"amzn-s3-demo-source-bucket","k","v","true","false","-1"`, "Size"},
		{"size text", `"amzn-s3-demo-source-bucket","k","v","true","false","1e3"`, "Size"},
		{"delete marker", `"amzn-s3-demo-source-bucket","k","v","true","yes","1"`, "IsDeleteMarker"},
		{"latest", `"amzn-s3-demo-source-bucket","k","v","1","false","1"`, "IsLatest"},
		{"key", `"amzn-s3-demo-source-bucket","%","v","true","false","1"`, "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore()
			m := inventory(t, st, "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size",
				`"amzn-s3-demo-source-bucket","ok","v","true","false","1"`+"\n"+tc.row+"\n")
			got, err := readAll(t.Context(), bytes.NewReader(m), st.open)
			e := asError(t, err, ErrMalformed)
			if e.Field != tc.field || e.Line != 2 || !strings.HasSuffix(e.File, "/0.csv.gz") || len(got) != 1 {
				t.Errorf("err %q: field %q line %d file %q after %d entries", err, e.Field, e.Line, e.File, len(got))
			}
		})
	}
}

func TestReadInventoryFileErrors(t *testing.T) {
	st := newStore()
	m := inventory(t, st, "Bucket, Key", `"amzn-s3-demo-source-bucket","k"`+"\n")
	key := "inv/amzn-s3-demo-source-bucket/config-ID/data/0.csv.gz"
	z := st.objs[key]

	t.Run("missing", func(t *testing.T) {
		delete(st.objs, key)
		defer func() { st.objs[key] = z }()
		_, err := readAll(t.Context(), bytes.NewReader(m), st.open)
		if e := asError(t, err, fs.ErrNotExist); e.File != key {
			t.Errorf("file %q", e.File)
		}
	})
	t.Run("not gzip", func(t *testing.T) {
		st.objs[key] = []byte("plain,text\n")
		defer func() { st.objs[key] = z }()
		_, err := readAll(t.Context(), bytes.NewReader(m), st.open)
		asError(t, err, ErrMalformed)
	})
	t.Run("truncated gzip", func(t *testing.T) {
		st.objs[key] = z[:len(z)-6]
		defer func() { st.objs[key] = z }()
		_, err := readAll(t.Context(), bytes.NewReader(m), st.open)
		asError(t, err, ErrMalformed)
	})
	t.Run("data file alone", func(t *testing.T) {
		_, err := readAll(t.Context(), bytes.NewReader(z), st.open)
		asError(t, err, ErrUnsupportedFormat)
	})
	t.Run("no opener", func(t *testing.T) {
		_, err := readAll(t.Context(), bytes.NewReader(m), nil)
		asError(t, err, ErrUnsupportedFormat)
	})
}

func TestReadYieldError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Read(t.Context(), strings.NewReader("b,k1\nb,k2\nb,k3\n"), nil, func(Entry) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("err %v after %d entries, want stop after 2", err, n)
	}
}

func TestReadContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := readAll(ctx, strings.NewReader("b,k\n"), nil)
	asError(t, err, context.Canceled)

	st := newStore()
	m := inventory(t, st, "Bucket, Key", `"amzn-s3-demo-source-bucket","k"`+"\n")
	_, err = readAll(ctx, bytes.NewReader(m), st.open)
	asError(t, err, context.Canceled)
}

// rowsReader generates a Batch Operations CSV of n rows without holding it.
type rowsReader struct {
	i, n int
	buf  []byte
}

func (r *rowsReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.i == r.n {
			return 0, io.EOF
		}
		r.buf = append(r.buf[:0], "amzn-s3-demo-bucket,photos/2024/img+"...)
		r.buf = strconv.AppendInt(r.buf, int64(r.i), 10)
		r.buf = append(r.buf, ".jpg,3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY\n"...)
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// TestReadConstantMemory: the live heap after 200,000 rows is what it was
// after 10,000; nothing is kept per row.
func TestReadConstantMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("measures memory; no goroutines to race")
	}
	const rows = 200_000
	var ms runtime.MemStats
	var early, late uint64
	var alloc0 uint64
	runtime.GC()
	runtime.ReadMemStats(&ms)
	alloc0 = ms.TotalAlloc
	n := 0
	err := Read(t.Context(), &rowsReader{n: rows}, nil, func(e Entry) error {
		n++
		if n == 10_000 || n == rows {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if n == rows {
				late = ms.HeapAlloc
			} else {
				early = ms.HeapAlloc
			}
		}
		return nil
	})
	if err != nil || n != rows {
		t.Fatalf("%d rows, err %v", n, err)
	}
	runtime.ReadMemStats(&ms)
	perRow := (ms.TotalAlloc - alloc0) / rows
	t.Logf("live heap %d KiB after 10k rows, %d KiB after %d; %d bytes allocated per row", early>>10, late>>10, rows, perRow)
	if late > early+512<<10 {
		t.Errorf("live heap grew from %d to %d bytes", early, late)
	}
	if perRow > 512 {
		t.Errorf("%d bytes allocated per row", perRow)
	}
}
