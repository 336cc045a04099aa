package s3crypt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/endpoint/endpointtest"
	"github.com/phicrypt/phicrypt/internal/s3test"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// memAPI is an in-memory S3 of one object that records every input it is
// given; conditions, SSE and the like are recorded, not applied.
type memAPI struct {
	s3crypt.API // nil: a call memAPI does not implement panics

	mu    sync.Mutex
	calls []any // the inputs, in order
	obj   []byte
	parts map[int32][]byte
}

const memETag = `"mem-etag"`

func (m *memAPI) record(in any) {
	m.mu.Lock()
	m.calls = append(m.calls, in)
	m.mu.Unlock()
}

// inputs returns the recorded inputs of type T.
func inputs[T any](m *memAPI) []*T {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*T
	for _, c := range m.calls {
		if in, ok := c.(*T); ok {
			out = append(out, in)
		}
	}
	return out
}

func (m *memAPI) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, err := io.ReadAll(in.Body)
	m.record(in)
	m.mu.Lock()
	m.obj = b
	m.mu.Unlock()
	return &s3.PutObjectOutput{ETag: aws.String(memETag)}, err
}

func (m *memAPI) CreateMultipartUpload(_ context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	m.record(in)
	m.mu.Lock()
	m.parts = map[int32][]byte{}
	m.mu.Unlock()
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String("upload-1")}, nil
}

func (m *memAPI) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	b, err := io.ReadAll(in.Body)
	m.record(in)
	m.mu.Lock()
	m.parts[*in.PartNumber] = b
	m.mu.Unlock()
	return &s3.UploadPartOutput{ETag: aws.String(fmt.Sprintf(`"part-%d"`, *in.PartNumber))}, err
}

func (m *memAPI) CompleteMultipartUpload(_ context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	m.record(in)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.obj = nil
	for _, p := range in.MultipartUpload.Parts {
		m.obj = append(m.obj, m.parts[*p.PartNumber]...)
	}
	return &s3.CompleteMultipartUploadOutput{ETag: aws.String(memETag)}, nil
}

func (m *memAPI) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	m.record(in)
	m.mu.Lock()
	obj := m.obj
	m.mu.Unlock()
	var lo, hi int64
	if _, err := fmt.Sscanf(aws.ToString(in.Range), "bytes=%d-%d", &lo, &hi); err != nil {
		return nil, err
	}
	hi = min(hi, int64(len(obj))-1)
	return &s3.GetObjectOutput{
		Body: io.NopCloser(bytes.NewReader(obj[lo : hi+1])), ContentLength: aws.Int64(hi + 1 - lo),
		ContentRange: aws.String(fmt.Sprintf("bytes %d-%d/%d", lo, hi, len(obj))), ETag: aws.String(memETag),
	}, nil
}

// fillFields sets every settable field of the struct *p that skip does
// not name to a value derived from its name.
func fillFields(t *testing.T, p any, skip func(name string) bool) {
	t.Helper()
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		if skip(name) || !v.Type().Field(i).IsExported() {
			continue
		}
		switch ptr := f.Interface().(type) {
		case *string:
			f.Set(reflect.ValueOf(aws.String("v-" + name)))
		case *bool:
			f.Set(reflect.ValueOf(aws.Bool(true)))
		case *int32:
			f.Set(reflect.ValueOf(aws.Int32(3)))
		case *int64:
			f.Set(reflect.ValueOf(aws.Int64(5)))
		case *time.Time:
			f.Set(reflect.ValueOf(aws.Time(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC))))
		default:
			if f.Kind() != reflect.String {
				t.Fatalf("fillFields: field %s of type %T: teach the test its values", name, ptr)
			}
			f.Set(reflect.ValueOf("v-" + name).Convert(f.Type()))
		}
	}
}

// sameFields returns, of the fields src sets (but except) that dst has by
// name, those whose values differ in dst, and all of them.
func sameFields(src, dst any, except ...string) (differ []string, shared []string) {
	s, d := reflect.ValueOf(src).Elem(), reflect.ValueOf(dst).Elem()
	for i := range s.NumField() {
		name := s.Type().Field(i).Name
		sf, df := s.Field(i), d.FieldByName(name)
		if !df.IsValid() || sf.IsZero() || slices.Contains(except, name) {
			continue
		}
		shared = append(shared, name)
		if !reflect.DeepEqual(sf.Interface(), df.Interface()) {
			differ = append(differ, name)
		}
	}
	return differ, shared
}

// isRefusedPutField names the PutObjectInput fields Put refuses.
func isRefusedPutField(name string) bool {
	return name == "ContentMD5" || name == "WriteOffsetBytes" ||
		strings.HasPrefix(name, "Checksum") && name != "ChecksumAlgorithm"
}

// Every PutObjectInput field Put does not refuse reaches each of the
// calls of a PutObject or a multipart upload that has a field of that name
// (SSE-C, ExpectedBucketOwner and RequestPayer on every UploadPart too),
// and none is dropped: a field an SDK upgrade adds fails this test until
// Put handles it.
func TestPutPassesInputFields(t *testing.T) {
	for _, size := range []int{1000, 2*s3crypt.MinPartSize + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			api := &memAPI{}
			c, err := s3crypt.New(api, rawAESClient(t), s3crypt.WithPartSize(s3crypt.MinPartSize))
			if err != nil {
				t.Fatal(err)
			}
			in := &s3.PutObjectInput{}
			fillFields(t, in, func(name string) bool {
				return isRefusedPutField(name) || name == "Body" || name == "ContentLength" || name == "Metadata"
			})
			data := randomBytes(size, 5)
			in.Body, in.Metadata = bytes.NewReader(data), map[string]string{"batch": "7"}
			before := *in
			if _, err := c.Put(context.Background(), in, testContext); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, *in) {
				t.Error("Put modified its input")
			}
			var calls []any
			for _, p := range inputs[s3.PutObjectInput](api) {
				calls = append(calls, p)
			}
			for _, p := range inputs[s3.CreateMultipartUploadInput](api) {
				calls = append(calls, p)
			}
			for _, p := range inputs[s3.UploadPartInput](api) {
				calls = append(calls, p)
			}
			for _, p := range inputs[s3.CompleteMultipartUploadInput](api) {
				calls = append(calls, p)
			}
			if want := map[bool]int{true: 1, false: 5}[size == 1000]; len(calls) != want {
				t.Fatalf("%d calls, want %d", len(calls), want)
			}
			reached := map[string]bool{}
			for _, call := range calls {
				differ, shared := sameFields(in, call, "Body", "ContentLength", "Metadata")
				if len(differ) > 0 {
					t.Errorf("%T: fields %v differ from the input's", call, differ)
				}
				for _, f := range shared {
					reached[f] = true
				}
			}
			for _, f := range reflect.VisibleFields(reflect.TypeFor[s3.PutObjectInput]()) {
				if set := !reflect.ValueOf(in).Elem().FieldByName(f.Name).IsZero(); set && !reached[f.Name] &&
					f.Name != "Body" && f.Name != "ContentLength" && f.Name != "Metadata" {
					t.Errorf("field %s reached no call", f.Name)
				}
			}
			for _, call := range calls {
				var meta map[string]string
				switch in := call.(type) {
				case *s3.PutObjectInput:
					meta = in.Metadata
				case *s3.CreateMultipartUploadInput:
					meta = in.Metadata
				default:
					continue
				}
				if meta["batch"] != "7" || meta[s3crypt.MetaSuite] == "" {
					t.Errorf("%T metadata %v, want the caller's and phicrypt's", call, meta)
				}
			}
			r, err := c.Get(context.Background(), getIn("b", "k"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get: %v, %d bytes", err, len(got))
			}
		})
	}
}

// Every GetObjectInput (HeadObjectInput) field but Range and PartNumber
// reaches every ranged GET of Get, Open and Head; IfMatch is the caller's
// on the first and the first's ETag after.
func TestGetPassesInputFields(t *testing.T) {
	api := &memAPI{}
	c, err := s3crypt.New(api, rawAESClient(t), s3crypt.WithPartSize(s3crypt.MinPartSize))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := randomBytes(3*s3crypt.MinPartSize, 6)
	unsigned := s3crypt.WithEncryptOptions(envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
	if _, err := c.Put(ctx, putIn("b", "k", bytes.NewReader(data), -1), testContext, unsigned); err != nil {
		t.Fatal(err)
	}
	skip := func(name string) bool { return name == "Range" || name == "PartNumber" }
	gin := &s3.GetObjectInput{}
	fillFields(t, gin, skip)
	hin := &s3.HeadObjectInput{}
	fillFields(t, hin, skip)
	for name, call := range map[string]func() (int, any){
		"Get": func() (int, any) {
			r, err := c.Get(ctx, gin)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get: %v, %d bytes", err, len(got))
			}
			return 4, gin
		},
		"Open": func() (int, any) {
			ra, err := c.Open(ctx, gin)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ra.ReadAt(make([]byte, 100), 2*s3crypt.MinPartSize); err != nil {
				t.Fatal(err)
			}
			return 2, gin
		},
		"Head": func() (int, any) {
			if _, err := c.Head(ctx, hin); err != nil {
				t.Fatal(err)
			}
			return 1, hin
		},
	} {
		api.mu.Lock()
		api.calls = nil
		api.mu.Unlock()
		want, in := call()
		gets := inputs[s3.GetObjectInput](api)
		if len(gets) != want {
			t.Errorf("%s: %d GETs, want %d", name, len(gets), want)
		}
		for i, g := range gets {
			differ, _ := sameFields(in, g, "IfMatch")
			if len(differ) > 0 {
				t.Errorf("%s: GET %d: fields %v differ from the input's", name, i, differ)
			}
			if want := map[bool]string{true: "v-IfMatch", false: memETag}[i == 0]; aws.ToString(g.IfMatch) != want {
				t.Errorf("%s: GET %d: IfMatch %q, want %q", name, i, aws.ToString(g.IfMatch), want)
			}
		}
	}
}

// Input fields that cannot apply to the stored ciphertext fail with
// envelope.ErrInvalidOption naming the field, before any S3 call.
func TestInputFieldsRefused(t *testing.T) {
	api := &memAPI{}
	c, err := s3crypt.New(api, rawAESClient(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(f func(*s3.PutObjectInput)) error {
		in := putIn("b", "k", strings.NewReader("x"), -1)
		f(in)
		_, err := c.Put(ctx, in, nil)
		return err
	}
	for name, err := range map[string]error{
		"ContentMD5":         put(func(in *s3.PutObjectInput) { in.ContentMD5 = aws.String("x") }),
		"ChecksumSHA256":     put(func(in *s3.PutObjectInput) { in.ChecksumSHA256 = aws.String("x") }),
		"ChecksumCRC32":      put(func(in *s3.PutObjectInput) { in.ChecksumCRC32 = aws.String("x") }),
		"WriteOffsetBytes":   put(func(in *s3.PutObjectInput) { in.WriteOffsetBytes = aws.Int64(0) }),
		"Metadata":           put(func(in *s3.PutObjectInput) { in.Metadata = map[string]string{"Phicrypt-Suite": "0x0014"} }),
		"Body":               put(func(in *s3.PutObjectInput) { in.Body = nil }),
		"ContentLength":      put(func(in *s3.PutObjectInput) { in.ContentLength = aws.Int64(-1) }),
		"Bucket":             put(func(in *s3.PutObjectInput) { in.Bucket = nil }),
		"nil PutObjectInput": func() error { _, err := c.Put(ctx, nil, nil); return err }(),
		"GetObjectInput.Range": func() error {
			_, err := c.Get(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), Range: aws.String("bytes=0-1")})
			return err
		}(),
		"GetObjectInput.PartNumber": func() error {
			_, err := c.Open(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), PartNumber: aws.Int32(1)})
			return err
		}(),
		"HeadObjectInput.Range": func() error {
			_, err := c.Head(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), Range: aws.String("bytes=0-1")})
			return err
		}(),
		"nil GetObjectInput": func() error { _, err := c.Open(ctx, nil); return err }(),
	} {
		if !errors.Is(err, envelope.ErrInvalidOption) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want ErrInvalidOption naming it", name, err)
		}
	}
	if n := len(api.calls); n != 0 {
		t.Errorf("%d S3 calls made for refused inputs", n)
	}
}

// recordingClient records the method, URL and headers of each request.
type recordingClient struct {
	next aws.HTTPClient
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recordingClient) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, &http.Request{Method: req.Method, URL: req.URL, Header: req.Header.Clone()})
	r.mu.Unlock()
	return r.next.Do(req)
}

// SSE-KMS with a bucket key (HIPAA: server-side and client-side
// encryption of PHI), content type, user metadata and tags reach the
// server, on PutObject and on CreateMultipartUpload.
func TestPutFieldsReachServer(t *testing.T) {
	rec := &recordingClient{next: http.DefaultClient}
	c, api := fakeClient(t, aws.Config{HTTPClient: rec})
	ctx := context.Background()
	const kmsKey = "arn:aws:kms:us-east-1:111122223333:key/phi-bucket"
	for _, size := range []int{100, s3crypt.MinPartSize + 1} {
		key := fmt.Sprint("fields-", size)
		in := putIn(testBucket, key, bytes.NewReader(randomBytes(size, 8)), int64(size))
		in.ContentType = aws.String("text/csv")
		in.Metadata = map[string]string{"batch": "7"}
		in.Tagging = aws.String("class=phi")
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(kmsKey)
		in.BucketKeyEnabled = aws.Bool(true)
		rec.mu.Lock()
		rec.reqs = nil
		rec.mu.Unlock()
		if _, err := c.Put(ctx, in, testContext); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		first := rec.reqs[0]
		rec.mu.Unlock()
		want := map[string]string{
			"X-Amz-Server-Side-Encryption":                    "aws:kms",
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id":     kmsKey,
			"X-Amz-Server-Side-Encryption-Bucket-Key-Enabled": "true",
			"X-Amz-Tagging":    "class=phi",
			"Content-Type":     "text/csv",
			"X-Amz-Meta-Batch": "7",
		}
		for h, v := range want {
			if got := first.Header.Get(h); got != v {
				t.Errorf("size %d: %s %s: header %s = %q, want %q", size, first.Method, first.URL.RawQuery, h, got, v)
			}
		}
		if multipart := size > s3crypt.MinPartSize; multipart != (first.Method == http.MethodPost) {
			t.Errorf("size %d: first request %s %s", size, first.Method, first.URL)
		}
		head, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(head.ContentType) != "text/csv" || head.Metadata["batch"] != "7" || head.Metadata[s3crypt.MetaSuite] == "" {
			t.Errorf("size %d: stored content type %q, metadata %v", size, aws.ToString(head.ContentType), head.Metadata)
		}
	}
}

// SecureEndpoint given to s3.NewFromConfig refuses plain http to a remote
// host at each request, before it is dialed.
func TestSecureEndpointOption(t *testing.T) {
	hc := &endpointtest.CountingClient{}
	api := s3.NewFromConfig(aws.Config{Region: s3test.Region, HTTPClient: hc}, endpointOpt(endpointtest.Remote), s3crypt.SecureEndpoint)
	_, err := api.GetObject(context.Background(), getIn("b", "k"))
	if !errors.Is(err, s3crypt.ErrInsecureEndpoint) || hc.N.Load() != 0 {
		t.Fatalf("GetObject = %v after %d requests, want ErrInsecureEndpoint and none", err, hc.N.Load())
	}
}
