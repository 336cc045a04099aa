package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/s3crypt"
	"github.com/phicrypt/phicrypt/stream"
)

const MiB = 1 << 20

var testContext = map[string]string{"tenant": "clinic-7", "patient-record": "mrn-000123"}

func newClient(t testing.TB, api s3crypt.API, opts ...s3crypt.ClientOption) *s3crypt.Client {
	t.Helper()
	c, err := s3crypt.New(api, rawAESClient(t), append([]s3crypt.ClientOption{s3crypt.WithPartSize(5 * MiB)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getAll(t testing.TB, c *s3crypt.Client, bucket, key string, opts ...s3crypt.GetOption) ([]byte, *s3crypt.Reader, error) {
	t.Helper()
	r, err := c.Get(context.Background(), getIn(bucket, key), opts...)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, r)
	return buf.Bytes(), r, err
}

func TestPutGetRoundTrip(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	for _, tc := range []struct {
		size    int
		unknown bool
		suite   envelope.SuiteID
		frame   int
		parts   int // 0: one PutObject
	}{
		{size: 0, suite: envelope.AES256GCMHKDFSHA512Commit},
		{size: 1, suite: envelope.AES256GCMHKDFSHA512CommitP384},
		{size: 1, unknown: true, suite: envelope.AES256GCMHKDFSHA512Commit},
		{size: 4096, suite: envelope.AES256GCMHKDFSHA512Commit, frame: 4096},
		{size: 5*MiB - 1000, suite: envelope.AES256GCMHKDFSHA512Commit},
		{size: 5*MiB - 1, suite: envelope.AES256GCMHKDFSHA512Commit, parts: 2},
		{size: 5 * MiB, suite: envelope.AES256GCMHKDFSHA512Commit, parts: 2},
		{size: 5*MiB + 1, suite: envelope.AES256GCMHKDFSHA512CommitP384, parts: 2},
		{size: 5*MiB + 1, unknown: true, suite: envelope.AES256GCMHKDFSHA512Commit, parts: 2},
		{size: 11*MiB + 3, suite: envelope.AES256GCMHKDFSHA512Commit, frame: 4096, parts: 3},
		{size: 11*MiB + 3, unknown: true, suite: envelope.AES256GCMHKDFSHA512CommitP384, frame: 100000, parts: 3},
	} {
		name := fmt.Sprintf("%d-%s-frame%d-unknown%v", tc.size, tc.suite, tc.frame, tc.unknown)
		t.Run(name, func(t *testing.T) {
			counts := &countingAPI{API: api}
			c := newClient(t, counts)
			data := randomBytes(tc.size, uint64(tc.size))
			var r io.Reader = bytes.NewReader(data)
			size := int64(tc.size)
			if tc.unknown {
				r, size = onlyReader{r}, -1
			}
			eopts := []envelope.EncryptOption{envelope.WithSuite(tc.suite)}
			if tc.frame != 0 {
				eopts = append(eopts, envelope.WithFrameLength(tc.frame))
			}
			res, err := c.Put(ctx, putIn(testBucket, name, r, size), testContext, s3crypt.WithEncryptOptions(eopts...))
			if err != nil {
				t.Fatal(err)
			}
			if res.Parts != tc.parts || res.PlaintextLength != int64(tc.size) {
				t.Errorf("Put: %d parts, %d bytes; want %d parts, %d bytes", res.Parts, res.PlaintextLength, tc.parts, tc.size)
			}
			if tc.parts == 0 && counts.puts.Load() != 1 {
				t.Errorf("%d PutObject calls, want 1", counts.puts.Load())
			}
			got, rd, err := getAll(t, c, testBucket, name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(data))
			}
			if ec := rd.EncryptionContext(); ec["tenant"] != "clinic-7" || rd.Header().Suite != tc.suite {
				t.Errorf("Get: context %v, suite %s", ec, rd.Header().Suite)
			}
			obj, err := c.Head(ctx, headIn(testBucket, name))
			if err != nil {
				t.Fatal(err)
			}
			if obj.Size != res.Size || obj.PlaintextLength != int64(tc.size) || obj.Header.Suite != tc.suite ||
				!maps.Equal(obj.Header.EncryptionContext, res.Header.EncryptionContext) {
				t.Errorf("Head: size %d, plaintext %d, suite %s; want %d, %d, %s", obj.Size, obj.PlaintextLength, obj.Header.Suite, res.Size, tc.size, tc.suite)
			}
			checkMetadata(t, obj, tc.suite, tc.unknown, tc.size)
		})
	}
}

// checkMetadata checks the object's metadata describes it and holds no
// context value.
func checkMetadata(t *testing.T, obj *s3crypt.Object, suite envelope.SuiteID, unknown bool, size int) {
	t.Helper()
	meta := map[string]string{}
	for k, v := range obj.Metadata {
		meta[strings.ToLower(k)] = v
	}
	if meta[s3crypt.MetaSuite] != suite.String() || meta[s3crypt.MetaFormat] != "aws-esdk-v2" ||
		meta[s3crypt.MetaFrameLength] != fmt.Sprint(obj.Header.FrameLength) {
		t.Errorf("metadata %v", meta)
	}
	if pl, ok := meta[s3crypt.MetaPlaintextLength]; ok == unknown || (!unknown && pl != fmt.Sprint(size)) {
		t.Errorf("metadata plaintext length %q (present %v), unknown size %v", pl, ok, unknown)
	}
	for k, v := range meta {
		for ck, cv := range testContext {
			if strings.Contains(v, cv) || strings.Contains(k, ck) {
				t.Errorf("metadata %s=%s leaks context %s", k, v, ck)
			}
		}
	}
}

// TestPartsHoldWholeFrames checks the part layout: part 1 is the header
// and whole frames, every other part but the last whole frames, all parts
// the same number of frames.
func TestPartsHoldWholeFrames(t *testing.T) {
	api := fakeS3(t)
	counts := &countingAPI{API: api}
	c := newClient(t, counts, s3crypt.WithPartSize(6*MiB), s3crypt.WithPartConcurrency(3))
	data := randomBytes(40*MiB+12345, 1)
	res, err := c.Put(context.Background(), putIn(testBucket, "aligned", onlyReader{bytes.NewReader(data)}, -1), testContext,
		s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(10000)))
	if err != nil {
		t.Fatal(err)
	}
	R := int64(10000 + stream.RegularOverhead)
	H := int64(res.Header.Len())
	m := (6*MiB + R - 1) / R
	if len(counts.partSizes) != res.Parts || res.Parts < 7 {
		t.Fatalf("%d parts uploaded, %d reported", len(counts.partSizes), res.Parts)
	}
	var total int64
	for i := int32(1); i <= int32(res.Parts); i++ {
		n := counts.partSizes[i]
		total += n
		switch {
		case i == 1 && n != H+m*R, i > 1 && i < int32(res.Parts) && n != m*R:
			t.Errorf("part %d: %d bytes, want %d frames of %d", i, n, m, R)
		}
	}
	if total != res.Size {
		t.Errorf("parts hold %d bytes, object %d", total, res.Size)
	}
}

func TestPutFailureLeavesNothing(t *testing.T) {
	api := fakeS3(t)
	data := randomBytes(23*MiB, 2)
	for _, tc := range []struct {
		name    string
		reader  func() io.Reader
		size    int64
		failAt  int32
		cancel  bool
		wantErr error
	}{
		{"reader fails after 12 MiB", func() io.Reader { return &failingReader{data: data, n: 12 * MiB} }, -1, 0, false, errInjected},
		{"reader short of its size", func() io.Reader { return bytes.NewReader(data[:20*MiB]) }, int64(len(data)), 0, false, envelope.ErrPlaintextLength},
		{"upload of part 3 fails", func() io.Reader { return bytes.NewReader(data) }, int64(len(data)), 3, false, errInjected},
		{"context cancelled", func() io.Reader { return bytes.NewReader(data) }, int64(len(data)), 0, true, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counts := &countingAPI{API: api, failPart: tc.failAt}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			c := newClient(t, counts, s3crypt.WithProgress(func(done, _ int64) {
				if tc.cancel && done >= 10*MiB {
					once.Do(cancel)
				}
			}))
			key := "fail/" + tc.name
			_, err := c.Put(ctx, putIn(testBucket, key, tc.reader(), tc.size), testContext)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Put: %v, want %v", err, tc.wantErr)
			}
			if counts.aborts.Load() != 1 {
				t.Errorf("%d aborts, want 1", counts.aborts.Load())
			}
			assertNoUpload(t, api, testBucket, key)
		})
	}
}

func TestOpenReadsOnlyNeededFrames(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	const frame = 4096
	data := randomBytes(12*MiB+777, 3)
	c := newClient(t, api)
	if _, err := c.Put(ctx, putIn(testBucket, "ranged", bytes.NewReader(data), int64(len(data))), testContext,
		s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(frame))); err != nil {
		t.Fatal(err)
	}
	counts := &countingAPI{API: api}
	rc := newClient(t, counts)
	ra, err := rc.Open(ctx, getIn(testBucket, "ranged"), s3crypt.WithExpectedContext(map[string]string{"tenant": "clinic-7"}))
	if err != nil {
		t.Fatal(err)
	}
	if ra.Size() != int64(len(data)) {
		t.Fatalf("Size %d, want %d", ra.Size(), len(data))
	}
	headerBytes := counts.getBytes.Load()
	n := int64(len(data))
	for _, tc := range []struct{ off, n int64 }{
		{0, 1}, {0, frame}, {frame - 1, 2}, {5 * MiB, 3 * MiB}, {n - 1, 1}, {n - 5000, 5000}, {n - 10, 100}, {1, n - 1},
	} {
		counts.getBytes.Store(0)
		p := make([]byte, tc.n)
		got, err := ra.ReadAt(p, tc.off)
		want := min(tc.n, n-tc.off)
		if int64(got) != want || (err != nil && !(err == io.EOF && want < tc.n)) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v; want %d", tc.n, tc.off, got, err, want)
		}
		if !bytes.Equal(p[:got], data[tc.off:tc.off+want]) {
			t.Fatalf("ReadAt(%d, %d): wrong bytes", tc.n, tc.off)
		}
		frames := (tc.off+want-1)/frame - tc.off/frame + 2 // the range's frames, perhaps the final one
		if limit := frames * (frame + stream.FinalOverhead); counts.getBytes.Load() > limit {
			t.Errorf("ReadAt(%d, %d) fetched %d bytes, want at most %d", tc.n, tc.off, counts.getBytes.Load(), limit)
		}
	}
	if headerBytes > 64<<10 {
		t.Errorf("Open fetched %d bytes", headerBytes)
	}
	if _, err := ra.ReadAt(make([]byte, 1), n); err != io.EOF {
		t.Errorf("ReadAt at the end: %v, want io.EOF", err)
	}
}

func TestOpenRefusesSigned(t *testing.T) {
	api := fakeS3(t)
	c := newClient(t, api)
	ctx := context.Background()
	if _, err := c.Put(ctx, putIn(testBucket, "signed", strings.NewReader("x"), 1), testContext); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ctx, getIn(testBucket, "signed")); !errors.Is(err, envelope.ErrSignedMessage) {
		t.Fatalf("Open of a signed message: %v, want ErrSignedMessage", err)
	}
}

// putRaw stores b as bucket/key, bypassing encryption.
func putRaw(t *testing.T, api *s3.Client, key string, b []byte) {
	t.Helper()
	if _, err := api.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: &key, Body: bytes.NewReader(b)}); err != nil {
		t.Fatal(err)
	}
}

func getRaw(t *testing.T, api *s3.Client, key string) []byte {
	t.Helper()
	out, err := api.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTamperedObjects(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	c := newClient(t, api)
	data := randomBytes(6*MiB, 4)
	for _, suite := range []envelope.SuiteID{envelope.AES256GCMHKDFSHA512Commit, envelope.AES256GCMHKDFSHA512CommitP384} {
		key := "orig-" + suite.String()
		if _, err := c.Put(ctx, putIn(testBucket, key, bytes.NewReader(data), int64(len(data))), testContext,
			s3crypt.WithEncryptOptions(envelope.WithSuite(suite))); err != nil {
			t.Fatal(err)
		}
		orig := getRaw(t, api, key)
		obj, err := c.Head(ctx, headIn(testBucket, key))
		if err != nil {
			t.Fatal(err)
		}
		tagAt := obj.Header.Len() - 1
		for _, tc := range []struct {
			name    string
			edit    func([]byte) []byte
			wantErr error
		}{
			{"flipped body bit", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, envelope.ErrAuthentication},
			{"flipped header tag bit", func(b []byte) []byte { b[tagAt] ^= 0x80; return b }, envelope.ErrAuthentication},
			{"flipped message ID bit", func(b []byte) []byte { b[5] ^= 1; return b }, envelope.ErrCommitmentMismatch},
			{"truncated", func(b []byte) []byte { return b[:len(b)-200] }, nil},
			{"trailing data", func(b []byte) []byte { return append(b, 0) }, envelope.ErrTrailingData},
		} {
			t.Run(suite.String()+"/"+tc.name, func(t *testing.T) {
				key := "tampered-" + suite.String() + tc.name
				putRaw(t, api, key, tc.edit(bytes.Clone(orig)))
				got, _, err := getAll(t, c, testBucket, key)
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("Get: %v, want %v", err, tc.wantErr)
				}
				if len(got) >= len(data) {
					t.Errorf("Get released all %d bytes of a tampered object", len(got))
				}
			})
		}
	}
	// Random access to a tampered frame fails; other frames still read.
	key := "orig-" + envelope.AES256GCMHKDFSHA512Commit.String()
	b := getRaw(t, api, key)
	b[len(b)-100] ^= 1 // in the final frame
	putRaw(t, api, "tampered-ra", b)
	ra, err := c.Open(ctx, getIn(testBucket, "tampered-ra"))
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 10)
	if _, err := ra.ReadAt(p, ra.Size()-10); !errors.Is(err, envelope.ErrAuthentication) {
		t.Errorf("ReadAt of a tampered frame: %v, want ErrAuthentication", err)
	}
	if _, err := ra.ReadAt(p, 0); err != nil || !bytes.Equal(p, data[:10]) {
		t.Errorf("ReadAt of an intact frame: %v", err)
	}
}

func TestExpectedContext(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	c := newClient(t, api)
	if _, err := c.Put(ctx, putIn(testBucket, "ec", strings.NewReader("record"), 6), testContext,
		s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		expected map[string]string
		wantErr  error
	}{
		{"subset", map[string]string{"tenant": "clinic-7"}, nil},
		{"all pairs", testContext, nil},
		{"other tenant", map[string]string{"tenant": "clinic-8"}, envelope.ErrContextMismatch},
		{"missing pair", map[string]string{"department": "oncology"}, envelope.ErrNoDecryptionKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := getAll(t, c, testBucket, "ec", s3crypt.WithExpectedContext(tc.expected))
			if !errors.Is(err, tc.wantErr) || (err == nil && string(got) != "record") {
				t.Errorf("Get: %q, %v; want %v", got, err, tc.wantErr)
			}
			_, err = c.Open(ctx, getIn(testBucket, "ec"), s3crypt.WithExpectedContext(tc.expected))
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Open: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestNotFoundAndNotEncrypted(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	c := newClient(t, api)
	putRaw(t, api, "plain", []byte("just some text, not a message"))
	putRaw(t, api, "empty", nil)
	for _, tc := range []struct {
		key     string
		wantErr error
	}{
		{"missing", s3crypt.ErrNotFound},
		{"plain", s3crypt.ErrNotEncrypted},
		{"empty", s3crypt.ErrNotEncrypted},
	} {
		if _, err := c.Head(ctx, headIn(testBucket, tc.key)); !errors.Is(err, tc.wantErr) {
			t.Errorf("Head(%s): %v, want %v", tc.key, err, tc.wantErr)
		}
		if _, err := c.Get(ctx, getIn(testBucket, tc.key)); !errors.Is(err, tc.wantErr) {
			t.Errorf("Get(%s): %v, want %v", tc.key, err, tc.wantErr)
		}
		if _, err := c.Open(ctx, getIn(testBucket, tc.key)); !errors.Is(err, tc.wantErr) {
			t.Errorf("Open(%s): %v, want %v", tc.key, err, tc.wantErr)
		}
	}
	if _, err := c.Get(ctx, getIn("no-such-bucket", "k")); !errors.Is(err, s3crypt.ErrNotFound) {
		t.Errorf("Get from a missing bucket: %v, want ErrNotFound", err)
	}
}

func TestObjectReplacedDuringGet(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	c := newClient(t, api, s3crypt.WithReadAhead(1), s3crypt.WithPartConcurrency(1))
	data := randomBytes(20*MiB, 5)
	put := func() {
		if _, err := c.Put(ctx, putIn(testBucket, "replaced", bytes.NewReader(data), int64(len(data))), testContext); err != nil {
			t.Fatal(err)
		}
	}
	put()
	r, err := c.Get(ctx, getIn(testBucket, "replaced"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	put() // same plaintext, new message: a new ETag
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, s3crypt.ErrObjectChanged) {
		t.Fatalf("Get of a replaced object: %v, want ErrObjectChanged", err)
	}
}

func TestProgress(t *testing.T) {
	api := fakeS3(t)
	ctx := context.Background()
	data := randomBytes(16*MiB+5, 6)
	for _, size := range []int64{int64(len(data)), -1} {
		var calls [][2]int64
		c := newClient(t, api, s3crypt.WithProgress(func(done, total int64) { calls = append(calls, [2]int64{done, total}) }))
		res, err := c.Put(ctx, putIn(testBucket, "progress", bytes.NewReader(data), size), testContext)
		if err != nil {
			t.Fatal(err)
		}
		checkProgress(t, "Put", calls, res.Size, size >= 0)
		calls = nil
		if _, _, err := getAll(t, c, testBucket, "progress"); err != nil {
			t.Fatal(err)
		}
		checkProgress(t, "Get", calls, res.Size, true)
	}
}

func checkProgress(t *testing.T, op string, calls [][2]int64, size int64, known bool) {
	t.Helper()
	if len(calls) < 2 {
		t.Fatalf("%s: %d progress calls", op, len(calls))
	}
	for i, c := range calls {
		if i > 0 && c[0] < calls[i-1][0] {
			t.Errorf("%s: progress went back from %d to %d", op, calls[i-1][0], c[0])
		}
		if known && c[1] != size {
			t.Errorf("%s: total %d, want %d", op, c[1], size)
		}
	}
	if last := calls[len(calls)-1]; last != [2]int64{size, size} {
		t.Errorf("%s: last progress %v, want %d of %d", op, last, size, size)
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://s3.eu-west-1.amazonaws.com", true},
		{"https://minio.internal:9000", true},
		{"http://127.0.0.1:9000", true},
		{"http://127.8.9.10", true},
		{"http://[::1]:9000", true},
		{"http://localhost:9000", true},
		{"http://10.0.0.5:9000", false},
		{"http://s3.amazonaws.com", false},
		{"http://[::ffff:10.0.0.1]:80", false},
		{"ftp://127.0.0.1", false},
		{"https://user:pw@s3.example.com", false},
		{"https://s3.example.com/?x=1", false},
		{"https://", false},
		{"::", false},
	} {
		err := s3crypt.CheckEndpoint(tc.url)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, s3crypt.ErrInsecureEndpoint)) {
			t.Errorf("CheckEndpoint(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("CheckEndpoint(%q) error shows the password: %v", tc.url, err)
		}
	}
	if _, err := s3crypt.NewS3Client(aws.Config{}, endpointOpt("http://192.0.2.1")); !errors.Is(err, s3crypt.ErrInsecureEndpoint) {
		t.Errorf("NewS3Client over plain http to a remote host: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	api := fakeS3(t)
	for _, o := range []s3crypt.ClientOption{
		s3crypt.WithPartSize(MiB), s3crypt.WithPartSize(6 << 30), s3crypt.WithPartConcurrency(0), s3crypt.WithReadAhead(-1),
	} {
		if _, err := s3crypt.New(api, rawAESClient(t), o); err == nil {
			t.Error("New accepted a bad option")
		}
	}
}
