package main_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestReencryptLocal(t *testing.T) {
	dir := t.TempDir()
	old, nw := keygen(t, dir, "old.key"), keygen(t, dir, "new.key")
	want := tree(t, filepath.Join(dir, "src"))
	mustRun(t, dir, nil, nil, "encrypt", "--key", old, "--context", "tenant=a", "src", "enc")

	mustRun(t, dir, nil, nil, "reencrypt", "--key", nw, "--decrypt-key", old, "--suite", "0x0478", "enc", "re")
	if r := run(t, dir, nil, nil, "decrypt", "--key", old, "re", "x"); r.code != 1 {
		t.Fatalf("the old key still opens the re-encrypted tree: exit %d", r.code)
	}
	// The context is carried over: the new key opens it with the old pairs.
	mustRun(t, dir, nil, nil, "decrypt", "--key", nw, "--expect-context", "tenant=a", "re", "dec")
	for name, data := range want {
		if got, err := os.ReadFile(filepath.Join(dir, "dec", name)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: differs after re-encryption (%v)", name, err)
		}
	}
	if info := mustRun(t, dir, nil, nil, "inspect", "re/a.csv.enc"); !strings.Contains(info.stdout, "0x0478") {
		t.Fatalf("suite not applied:\n%s", info.stdout)
	}
	// A new context replaces the old one.
	mustRun(t, dir, nil, nil, "reencrypt", "--key", nw, "--decrypt-key", old, "--context", "tenant=b", "enc/a.csv.enc", "b.enc")
	if r := run(t, dir, nil, nil, "decrypt", "--key", nw, "--expect-context", "tenant=a", "b.enc", "b"); r.code != 1 {
		t.Fatalf("--context did not replace the context: exit %d", r.code)
	}

	t.Run("tampered input writes nothing", func(t *testing.T) {
		ct, _ := os.ReadFile(filepath.Join(dir, "enc/sub/b.json.enc"))
		for _, at := range []int{len(ct) - 3, len(ct) - 120, len(ct) / 2} { // signature, final frame, a middle frame
			bad := bytes.Clone(ct)
			bad[at] ^= 1
			writeFile(t, filepath.Join(dir, "bad/b.json.enc"), bad)
			r := run(t, dir, nil, nil, "reencrypt", "--key", nw, "--decrypt-key", old, "bad", "bad-out")
			if r.code != 1 || !strings.Contains(r.stderr, "FAILED") {
				t.Fatalf("byte %d: exit %d\n%s", at, r.code, r.stderr)
			}
			if got := files(t, filepath.Join(dir, "bad-out")); len(got) > 0 {
				t.Fatalf("byte %d: output left: %v", at, got)
			}
		}
	})
	t.Run("never over its input", func(t *testing.T) {
		for _, args := range [][]string{
			{"enc", "enc"},
			{"enc/a.csv.enc", "enc/a.csv.enc"},
			{"--in-place", "enc", "enc"},
			{"--in-place", "enc", "other"},
		} {
			r := run(t, dir, nil, nil, append([]string{"reencrypt", "--key", nw, "--decrypt-key", old}, args...)...)
			if r.code != 2 {
				t.Fatalf("reencrypt %v: exit %d, want 2\n%s", args, r.code, r.stderr)
			}
		}
		if r := run(t, dir, nil, nil, "encrypt", "--in-place", "--key", nw, "src", "x"); r.code != 2 {
			t.Fatalf("encrypt --in-place: exit %d, want 2", r.code)
		}
		mustRun(t, dir, nil, nil, "decrypt", "--key", old, "enc", "still")
	})
}

func TestReencryptS3(t *testing.T) {
	for _, srv := range []struct {
		name  string
		start func(*testing.T) *s3Server
	}{{"gofakes3", gofakes3Server}, {"versitygw", versitygwServer}} {
		t.Run(srv.name, func(t *testing.T) { testReencryptS3(t, srv.start(t), srv.name == "gofakes3") })
	}
}

func testReencryptS3(t *testing.T, srv *s3Server, versioning bool) {
	dir := t.TempDir()
	old, nw := keygen(t, dir, "old.key"), keygen(t, dir, "new.key")
	big := randBytes(20 << 20) // several 8 MiB parts
	writeFile(t, filepath.Join(dir, "src/big.bin"), big)
	writeFile(t, filepath.Join(dir, "src/small.txt"), []byte("lab result"))
	ep := func(args ...string) []string { return append(args, "--endpoint-url", srv.Endpoint) }
	mustRun(t, dir, nil, srv.Env, ep("encrypt", "--key", old, "--suite", "0x0478", "src", srv.url("enc/"))...)

	mustRun(t, dir, nil, srv.Env, ep("reencrypt", "--key", nw, "--decrypt-key", old, srv.url("enc/"), srv.url("re/"))...)
	mustRun(t, dir, nil, srv.Env, ep("decrypt", "--key", nw, srv.url("re/"), "dec")...)
	if got, _ := os.ReadFile(filepath.Join(dir, "dec/big.bin")); !bytes.Equal(got, big) {
		t.Fatal("large object differs after re-encryption")
	}

	t.Run("tampered object: no object, no upload left", func(t *testing.T) {
		ct, err := srv.get(t, "enc/big.bin.enc")
		if err != nil {
			t.Fatal(err)
		}
		ct[len(ct)-100] ^= 1 // the final frame: every part but the last already uploaded
		srv.put(t, "bad/big.bin.enc", ct)
		r := run(t, dir, nil, srv.Env, ep("reencrypt", "--key", nw, "--decrypt-key", old, srv.url("bad/"), srv.url("bad-out/"))...)
		if r.code != 1 || !strings.Contains(r.stderr, "FAILED") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if got := srv.keys(t, "bad-out/"); len(got) > 0 {
			t.Fatalf("objects left: %v", got)
		}
		ups, err := srv.Client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &srv.bucket})
		if err == nil && len(ups.Uploads) > 0 {
			t.Fatalf("%d multipart uploads left", len(ups.Uploads))
		}
	})
	t.Run("tampered signature after whole frames: no object", func(t *testing.T) {
		// 64 KiB of plaintext in 64 KiB frames ends with an empty final
		// frame: every plaintext byte is out before the signature is
		// checked, so an upload that stopped at the plaintext length would
		// never see the signature fail.
		writeFile(t, filepath.Join(dir, "frames/exact.bin"), randBytes(64<<10))
		mustRun(t, dir, nil, nil, "encrypt", "--key", old, "frames/exact.bin", "exact.enc")
		ct, _ := os.ReadFile(filepath.Join(dir, "exact.enc"))
		ct[len(ct)-2] ^= 1
		srv.put(t, "sig/exact.bin.enc", ct)
		for _, dst := range []string{srv.url("sig-out/"), "sig-out"} {
			r := run(t, dir, nil, srv.Env, ep("reencrypt", "--key", nw, "--decrypt-key", old, srv.url("sig/exact.bin.enc"), dst)...)
			if r.code != 1 || !strings.Contains(r.stderr, "signature") {
				t.Fatalf("to %s: exit %d\n%s", dst, r.code, r.stderr)
			}
		}
		if got := srv.keys(t, "sig-out/"); len(got) > 0 {
			t.Fatalf("objects left: %v", got)
		}
	})
	if !versioning {
		return
	}
	t.Run("in place needs versioning", func(t *testing.T) {
		r := run(t, dir, nil, srv.Env, ep("reencrypt", "--in-place", "--key", nw, "--decrypt-key", old, srv.url("enc/"), srv.url("enc/"))...)
		if r.code != 1 || !strings.Contains(r.stderr, "versioning is not enabled") {
			t.Fatalf("unversioned bucket: exit %d\n%s", r.code, r.stderr)
		}
		if r := run(t, dir, nil, srv.Env, ep("reencrypt", "--key", nw, "--decrypt-key", old, srv.url("enc/"), srv.url("enc/"))...); r.code != 2 {
			t.Fatalf("same prefix without --in-place: exit %d\n%s", r.code, r.stderr)
		}
		if _, err := srv.Client.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{
			Bucket: &srv.bucket, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		}); err != nil {
			t.Fatal(err)
		}
		mustRun(t, dir, nil, srv.Env, ep("reencrypt", "--in-place", "--key", nw, "--decrypt-key", old, srv.url("enc/"), srv.url("enc/"))...)
		mustRun(t, dir, nil, srv.Env, ep("decrypt", "--key", nw, srv.url("enc/small.txt.enc"), "small.txt")...)
		vs, err := srv.Client.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: &srv.bucket, Prefix: strPtr("enc/small.txt.enc")})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs.Versions) != 2 {
			t.Fatalf("versions of enc/small.txt.enc: %d, want the old and the new", len(vs.Versions))
		}
	})
}

func strPtr(s string) *string { return &s }
