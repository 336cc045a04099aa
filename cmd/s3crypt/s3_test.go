package main_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/phicrypt/phicrypt/internal/s3test"
)

// s3Server is an S3 endpoint for the CLI, with a bucket.
type s3Server struct {
	*s3test.Server
	bucket string
}

// gofakes3Server runs gofakes3 in this process behind plain-HTTP httptest
// on 127.0.0.1 (loopback, so the CLI accepts http).
func gofakes3Server(t *testing.T) *s3Server { return withBucket(t, s3test.Fake(t)) }

// versitygwServer uses the server bash scripts/test.sh starts (versitygw
// over TLS with its own CA), or skips.
func versitygwServer(t *testing.T) *s3Server { return withBucket(t, s3test.Real(t)) }

func withBucket(t *testing.T, s *s3test.Server) *s3Server {
	return &s3Server{Server: s, bucket: s.Bucket(t, "s3crypt-cli")}
}

func (s *s3Server) url(key string) string { return "s3://" + s.bucket + "/" + key }

func (s *s3Server) get(t *testing.T, key string) ([]byte, error) {
	t.Helper()
	out, err := s.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func (s *s3Server) put(t *testing.T, key string, data []byte) {
	t.Helper()
	if _, err := s.Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
}

func (s *s3Server) keys(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := s.Client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func TestS3(t *testing.T) {
	for _, srv := range []struct {
		name  string
		start func(*testing.T) *s3Server
	}{{"gofakes3", gofakes3Server}, {"versitygw", versitygwServer}} {
		t.Run(srv.name, func(t *testing.T) { testS3(t, srv.start(t)) })
	}
}

func testS3(t *testing.T, srv *s3Server) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	want := tree(t, filepath.Join(dir, "src"))
	big := randBytes(20 << 20) // several 8 MiB parts
	writeFile(t, filepath.Join(dir, "big.bin"), big)
	s3run := func(t *testing.T, in io.Reader, args ...string) result {
		t.Helper()
		return run(t, dir, in, srv.Env, append(args, "--endpoint-url", srv.Endpoint)...)
	}
	mustS3 := func(t *testing.T, in io.Reader, args ...string) result {
		t.Helper()
		r := s3run(t, in, args...)
		if r.code != 0 {
			t.Fatalf("s3crypt %v: exit %d\n%s", args, r.code, r.stderr)
		}
		return r
	}
	checkTree := func(t *testing.T, root string) {
		t.Helper()
		for name, data := range want {
			if got, err := os.ReadFile(filepath.Join(root, name)); err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: differs after the round trip (%v)", name, err)
			}
		}
	}

	t.Run("local tree to S3 prefix and back", func(t *testing.T) {
		mustS3(t, nil, "encrypt", "--key", key, "--context", "tenant=a", "src", srv.url("enc"))
		if got := strings.Join(srv.keys(t, "enc/"), " "); got != "enc/a.csv.enc enc/empty.txt.enc enc/sub/b.json.enc enc/sub/deeper/c.json.enc enc/sub/skip.tmp.enc" {
			t.Fatalf("objects: %s", got)
		}
		mustS3(t, nil, "decrypt", "--key", key, "--expect-context", "tenant=a", srv.url("enc/"), "dec")
		checkTree(t, filepath.Join(dir, "dec"))
	})
	t.Run("S3 prefix to S3 prefix, both ways", func(t *testing.T) {
		mustS3(t, nil, "decrypt", "--key", key, srv.url("enc"), srv.url("plain/"))
		for name, data := range want {
			if got, err := srv.get(t, "plain/"+name); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("plain/%s: %v", name, err)
			}
		}
		mustS3(t, nil, "encrypt", "--key", key, srv.url("plain"), srv.url("enc2"))
		mustS3(t, nil, "decrypt", "--key", key, srv.url("enc2"), "dec2")
		checkTree(t, filepath.Join(dir, "dec2"))
	})
	t.Run("large file to one object and back", func(t *testing.T) {
		mustS3(t, nil, "encrypt", "--key", key, "--suite", "0x0478", "big.bin", srv.url("big/big.bin.enc"))
		info := mustS3(t, nil, "inspect", srv.url("big/big.bin.enc"))
		if !strings.Contains(info.stdout, "frames:           320") {
			t.Fatalf("inspect:\n%s", info.stdout)
		}
		mustS3(t, nil, "decrypt", "--key", key, srv.url("big/big.bin.enc"), "big.out")
		if got, _ := os.ReadFile(filepath.Join(dir, "big.out")); !bytes.Equal(got, big) {
			t.Fatal("large round trip differs")
		}
		// to S3 in plaintext, through a multipart upload of the verified spool
		mustS3(t, nil, "decrypt", "--key", key, srv.url("big/big.bin.enc"), srv.url("bigplain/"))
		if got, err := srv.get(t, "bigplain/big.bin"); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("plaintext upload: %v", err)
		}
	})
	t.Run("stdin and stdout", func(t *testing.T) {
		data := randBytes(100 << 10)
		mustS3(t, bytes.NewReader(data), "encrypt", "--key", key, "-", srv.url("stdin.enc"))
		r := mustS3(t, nil, "decrypt", "--key", key, srv.url("stdin.enc"), "-")
		if r.stdout != string(data) {
			t.Fatal("stdin -> S3 -> stdout differs")
		}
	})
	t.Run("overwrite refused", func(t *testing.T) {
		before, _ := srv.get(t, "stdin.enc")
		r := s3run(t, strings.NewReader("x"), "encrypt", "--key", key, "-", srv.url("stdin.enc"))
		if r.code != 1 || !strings.Contains(r.stderr, "--overwrite") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if after, _ := srv.get(t, "stdin.enc"); !bytes.Equal(before, after) {
			t.Fatal("object replaced without --overwrite")
		}
		mustS3(t, strings.NewReader("x"), "encrypt", "--overwrite", "--key", key, "-", srv.url("stdin.enc"))
	})
	t.Run("tampered object leaves no output", func(t *testing.T) {
		ct, err := srv.get(t, "enc/sub/b.json.enc")
		if err != nil {
			t.Fatal(err)
		}
		ct[len(ct)-200] ^= 1
		srv.put(t, "bad/b.json.enc", ct)
		for _, dst := range []string{"bad-out", srv.url("bad-out/")} {
			r := s3run(t, nil, "decrypt", "--key", key, srv.url("bad/b.json.enc"), dst)
			if r.code != 1 || !strings.Contains(r.stderr, "FAILED "+strconv.Quote(srv.url("bad/b.json.enc"))) {
				t.Fatalf("to %s: exit %d: %s", dst, r.code, r.stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "bad-out")); err == nil {
			if got := files(t, filepath.Join(dir, "bad-out")); len(got) > 0 {
				t.Fatalf("local output left: %v", got)
			}
		}
		if got := srv.keys(t, "bad-out/"); len(got) > 0 {
			t.Fatalf("objects left: %v", got)
		}
	})
	t.Run("wrong expected context", func(t *testing.T) {
		r := s3run(t, nil, "decrypt", "--key", key, "--expect-context", "tenant=b", srv.url("enc/a.csv.enc"), "wrong")
		if r.code != 1 || !strings.Contains(r.stderr, `another value for "tenant"`) {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("missing object", func(t *testing.T) {
		r := s3run(t, nil, "decrypt", "--key", key, srv.url("nothing-here"), "x")
		if r.code != 1 || !strings.Contains(r.stderr, "nothing under") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("insecure endpoint", func(t *testing.T) {
		r := run(t, dir, nil, srv.Env, "encrypt", "--key", key, "--endpoint-url", "http://s3.example.com", "big.bin", srv.url("x"))
		if r.code != 1 || !strings.Contains(r.stderr, "insecure") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	// No multipart upload is left behind by any of the above.
	ups, err := srv.Client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &srv.bucket})
	var nf *types.NoSuchBucket
	if err != nil && !errors.As(err, &nf) {
		t.Logf("ListMultipartUploads: %v", err)
	} else if err == nil && len(ups.Uploads) > 0 {
		t.Fatalf("%d multipart uploads left", len(ups.Uploads))
	}
}
