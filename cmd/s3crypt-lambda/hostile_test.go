package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/internal/s3test"
)

// listed returns the keys under prefix in bucket.
func listed(t *testing.T, srv *s3test.Server, bucket, prefix string) []string {
	t.Helper()
	out, err := srv.Client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// Attack: a manifest names a missing object "x" while "x/…" objects exist;
// batch.Run would take the missing object as the prefix "x/" and process
// every object under it (batch.Options.SingleObject stops that).
func TestHostileMissingObjectIsNoPrefix(t *testing.T) {
	awsEnv(t)
	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-hostile")
	put(t, srv, b, "x/secret1", []byte("one"))
	put(t, srv, b, "x/secret2", []byte("two"))
	h := newHandler(t, srv.Client, map[string]string{"PHICRYPT_KEY": aesKey(t, "k"), "PHICRYPT_DESTINATION": "s3://" + b + "/enc/"})
	want(t, invoke(t, context.Background(), h, event(t, "2.0", b, nil, obj{key: "x"})), 1, PermanentFailure, "")
	if keys := listed(t, srv, b, "enc/"); len(keys) != 0 {
		t.Fatalf("a task for one missing object wrote %q", keys)
	}
}

// Attack: a task key naming a prefix ("dir/") or no object at all, to make
// one task process a whole tree.
func TestHostilePrefixKey(t *testing.T) {
	awsEnv(t)
	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-hostile")
	put(t, srv, b, "dir/a", []byte("a"))
	h := newHandler(t, srv.Client, map[string]string{"PHICRYPT_KEY": aesKey(t, "k"), "PHICRYPT_DESTINATION": "s3://" + b + "/enc/"})
	want(t, invoke(t, context.Background(), h, event(t, "2.0", b, nil, obj{key: "dir/"}, obj{key: ""})), 2, PermanentFailure, ErrBadTask.Error())
	if keys := listed(t, srv, b, "enc/"); len(keys) != 0 {
		t.Fatalf("a prefix task wrote %q", keys)
	}
}

// Attack: a job submitter names their own key in the user arguments, so
// that objects are encrypted to (or decrypted with) a key they hold.
func TestHostileUserArgumentKey(t *testing.T) {
	awsEnv(t)
	h := newHandler(t, failingS3(t, 500, "InternalError", false), map[string]string{"PHICRYPT_KEY": aesKey(t, "k"), "PHICRYPT_DESTINATION": "s3://dst/"})
	for _, arg := range []string{"key", "PHICRYPT_KEY", "decryptKey"} {
		rs := invoke(t, context.Background(), h, event(t, "2.0", "src", map[string]string{arg: "aes:/tmp/attacker"}, obj{key: "a"}))
		want(t, rs, 1, PermanentFailure, "unknown user argument")
	}
}

// Attack: an object key (chosen by whoever wrote the bucket or the
// manifest) with terminal escapes, newlines and a kilobyte of text, to
// forge or flood lines of the completion report.
func TestHostileResultString(t *testing.T) {
	awsEnv(t)
	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-hostile")
	h := newHandler(t, srv.Client, map[string]string{"PHICRYPT_KEY": aesKey(t, "k"), "PHICRYPT_DESTINATION": "s3://" + b + "/enc/"})
	key := "a\n\x1b[31mSucceeded\r" + strings.Repeat("é", 490) // 1 KiB, missing
	rs := invoke(t, context.Background(), h, event(t, "2.0", b, nil, obj{key: key}))
	if len(rs) != 1 || rs[0].Code != PermanentFailure || len(rs[0].String) > maxResult ||
		strings.ContainsAny(rs[0].String, "\n\r\x1b") || !strings.Contains(rs[0].String, `\x1b[31mSucceeded`) {
		t.Fatalf("result %+v", rs)
	}
	// Not URL-encoded: refused, not guessed at.
	ev := bytes.Replace(event(t, "2.0", b, nil, obj{key: "KEY"}), []byte(`"KEY"`), []byte(`"%ZZ\u001b"`), 1)
	want(t, invoke(t, context.Background(), h, ev), 1, PermanentFailure, `s3Key "%ZZ\x1b" is not URL-encoded`)
}

// FuzzEvent feeds events a job submitter controls through the parsing,
// the user arguments and the naming of outputs: nothing panics, every
// output stays below the allowed destination, and every resultString is
// bounded and one line.
func FuzzEvent(f *testing.F) {
	for _, v := range []string{"1.0", "2.0"} {
		raw, err := os.ReadFile("testdata/event-" + v + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"invocationSchemaVersion":"2.0","job":{"userArguments":{"op":"decrypt","destination":"s3://dst/p/q","context":"a=b"}},"tasks":[{"s3Bucket":"b","s3Key":"a%2Fb+c.enc"}]}`))
	h := &Handler{cfg: Config{Op: batch.Encrypt, AllowOps: []batch.Op{batch.Decrypt}, Destination: "s3://dst/p/", Context: map[string]string{"k": "v"}}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if r := bound(string(raw)); len(r) > maxResult || strings.ContainsAny(r, "\n\r\x00") {
			t.Fatalf("bound: %q", r)
		}
		_, _, args, tasks, err := parseEvent(raw)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatal(err)
			}
			return
		}
		j, err := h.jobArgs(args)
		if err != nil {
			if !errors.Is(err, ErrBadArguments) {
				t.Fatal(err)
			}
			return
		}
		if j.context["k"] != "v" {
			t.Fatalf("context %v lost PHICRYPT_CONTEXT", j.context)
		}
		for _, tk := range tasks {
			src, dst, err := h.locations(j, tk)
			if err != nil {
				if !errors.Is(err, ErrBadTask) {
					t.Fatal(err)
				}
				continue
			}
			if !strings.HasPrefix(dst, "s3://dst/p/") || src == dst || !strings.HasPrefix(src, "s3://"+tk.bucket+"/") {
				t.Fatalf("task %+v: %s -> %s", tk, src, dst)
			}
		}
	})
}

// TestHostileResultStringControls: an object key carrying what
// batch.Printable quotes but bound let through raw: C1 controls (U+009B
// is CSI to a terminal), DEL's neighbours, bidi overrides that reorder
// what a person reads (U+202E), line and paragraph separators.
func TestHostileResultStringControls(t *testing.T) {
	for _, s := range []string{"a\u009b2Kb", "a\u0085b", "invoice\u202Efdp.exe", "a\u2028b", "a\u2029b", "a\u200bb", "a\ufeffb"} {
		r := bound("s3://dst/" + s)
		if strings.ContainsFunc(r, func(c rune) bool { return !strconv.IsPrint(c) }) {
			t.Errorf("bound(%q) = %q: raw", s, r)
		}
	}
	if r := bound("s3://dst/plain é key.enc"); r != "s3://dst/plain é key.enc" {
		t.Errorf("a printable key changed: %q", r)
	}
}
