package main_test

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestManifest(t *testing.T) {
	for _, srv := range []struct {
		name  string
		start func(*testing.T) *s3Server
	}{{"gofakes3", gofakes3Server}, {"versitygw", versitygwServer}} {
		t.Run(srv.name, func(t *testing.T) { testManifest(t, srv.start(t)) })
	}
}

func testManifest(t *testing.T, srv *s3Server) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	ep := func(args ...string) []string { return append(args, "--endpoint-url", srv.Endpoint) }
	objects := map[string][]byte{
		"in/a.csv":           randBytes(100),
		"in/sp ace+plus.csv": randBytes(40 << 10), // < 64 KiB: gofakes3 sends a whole-object checksum with a ranged GET (scan)
		"in/deep/c.json":     randBytes(5),
		"in/not-listed.csv":  randBytes(5),
	}
	for k, v := range objects {
		srv.put(t, k, v)
	}
	listed := []string{"in/a.csv", "in/sp ace+plus.csv", "in/deep/c.json"}
	var csv strings.Builder
	for _, k := range listed {
		fmt.Fprintf(&csv, "%s,%s\n", srv.bucket, url.QueryEscape(k))
	}
	writeFile(t, filepath.Join(dir, "batch.csv"), []byte(csv.String()))

	t.Run("batch operations CSV, local manifest", func(t *testing.T) {
		mustRun(t, dir, nil, srv.Env, ep("encrypt", "--key", key, "--manifest", "batch.csv", srv.url("enc/"))...)
		got := srv.keys(t, "enc/")
		want := []string{"enc/in/a.csv.enc", "enc/in/deep/c.json.enc", "enc/in/sp ace+plus.csv.enc"}
		if !slices.Equal(got, want) {
			t.Fatalf("outputs %q, want %q", got, want)
		}
		mustRun(t, dir, nil, srv.Env, ep("decrypt", "--key", key, srv.url("enc/"), "dec")...)
		for _, k := range listed {
			if b, err := os.ReadFile(filepath.Join(dir, "dec", k)); err != nil || !bytes.Equal(b, objects[k]) {
				t.Fatalf("%s differs after the round trip (%v)", k, err)
			}
		}
	})
	t.Run("inventory manifest.json in S3, sharded scan", func(t *testing.T) {
		var data bytes.Buffer
		zw := gzip.NewWriter(&data)
		for _, k := range listed {
			fmt.Fprintf(zw, "%q,%q,%q\n", srv.bucket, url.QueryEscape("enc/"+k+".enc"), "0")
		}
		zw.Close()
		sum := md5.Sum(data.Bytes())
		srv.put(t, "inv/data/1.csv.gz", data.Bytes())
		m := fmt.Sprintf(`{"sourceBucket": %q, "destinationBucket": "arn:aws:s3:::%s", "version": "2016-11-30",
  "creationTimestamp": "1514944800000", "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size",
  "files": [{"key": "inv/data/1.csv.gz", "size": %d, "MD5checksum": %q}]}`, srv.bucket, srv.bucket, data.Len(), hex.EncodeToString(sum[:]))
		srv.put(t, "inv/manifest.json", []byte(m))
		mustRun(t, dir, nil, srv.Env, ep("decrypt", "--key", key, "--manifest", srv.url("inv/manifest.json"), "dec2")...)
		for _, k := range listed {
			if b, err := os.ReadFile(filepath.Join(dir, "dec2/enc", k)); err != nil || !bytes.Equal(b, objects[k]) {
				t.Fatalf("%s differs after decrypt from an inventory (%v)", k, err)
			}
		}
		// Two shards of a scan cover the manifest once.
		seen := 0
		for i := range 2 {
			r := mustRun(t, dir, nil, srv.Env, ep("scan", "--shard", fmt.Sprintf("%d/2", i), "--manifest", srv.url("inv/manifest.json"))...)
			seen += strings.Count(r.stdout, "esdk")
		}
		if seen != len(listed) {
			t.Fatalf("two shards scanned %d objects, want %d", seen, len(listed))
		}
	})
	t.Run("hostile keys and usage", func(t *testing.T) {
		// A manifest's keys are the manifest writer's: one that would
		// leave the destination fails by name; the others go on.
		bad := fmt.Sprintf("%s,%s\n%s,%s\n", srv.bucket, url.QueryEscape("../../escape"), srv.bucket, url.QueryEscape("in/a.csv"))
		writeFile(t, filepath.Join(dir, "bad.csv"), []byte(bad))
		r := run(t, dir, nil, srv.Env, ep("encrypt", "--key", key, "--manifest", "bad.csv", "out")...)
		if r.code != 1 || !strings.Contains(r.stderr, "not a plain relative path") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if got := files(t, filepath.Join(dir, "out")); !slices.Equal(got, []string{"in/a.csv.enc"}) {
			t.Fatalf("outputs %q", got)
		}
		if _, err := os.Stat(filepath.Join(dir, "..", "escape.enc")); err == nil {
			t.Fatal("an output left the destination")
		}
		writeFile(t, filepath.Join(dir, "garbage.csv"), []byte("only-one-column\n"))
		if r := run(t, dir, nil, srv.Env, ep("encrypt", "--key", key, "--manifest", "garbage.csv", "out2")...); r.code != 1 || !strings.Contains(r.stderr, "manifest") {
			t.Fatalf("malformed manifest: exit %d\n%s", r.code, r.stderr)
		}
		if r := run(t, dir, nil, srv.Env, ep("encrypt", "--key", key, "--manifest", "batch.csv", "src", "out3")...); r.code != 2 {
			t.Fatalf("SRC and --manifest: exit %d\n%s", r.code, r.stderr)
		}
	})
}
