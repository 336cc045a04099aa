package batch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/testkit"
	"github.com/phicrypt/phicrypt/keyring"
)

func scanTree(t *testing.T, dir string, o ScanOptions) (map[string]*ScanResult, *ScanSummary, error) {
	t.Helper()
	got := map[string]*ScanResult{}
	var order []string
	sum, err := Scan(context.Background(), dir, o, func(r *ScanResult) {
		got[filepath.Base(r.Input)] = r
		order = append(order, filepath.Base(r.Input))
	})
	if sum != nil && len(order) != sum.Inputs {
		t.Fatalf("%d results for %d inputs", len(order), sum.Inputs)
	}
	return got, sum, err
}

func TestScanLocal(t *testing.T) {
	dir := t.TempDir()
	kr, err := keyring.NewRawAES(KeyNamespace, "k1", bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := keyring.NewRawAES(KeyNamespace, "other", bytes.Repeat([]byte{2}, 32))
	enc := func(kr envelope.Keyring, ec map[string]string) []byte {
		c, err := envelope.New(kr, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit), envelope.WithFrameLength(4096))
		if err != nil {
			t.Fatal(err)
		}
		ct, err := c.Encrypt(context.Background(), []byte("record"), ec)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	files := map[string][]byte{
		"good.enc":     enc(kr, map[string]string{"tenant": "a"}),
		"wrongctx.enc": enc(kr, map[string]string{"tenant": "b"}),
		"foreign.enc":  enc(other, map[string]string{"tenant": "a"}),
		"plain.txt":    []byte("patient,result\n"),
		"empty":        nil,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	got, sum, err := scanTree(t, dir, ScanOptions{MaxEDKs: 10})
	if !errors.Is(err, ErrFlagged) || sum.Inputs != 5 || sum.ESDK != 3 || sum.Plaintext != 2 || sum.Flagged != 2 {
		t.Fatalf("no policy: %+v, %v; want 3 encrypted, 2 flagged plaintext", sum, err)
	}
	g := got["good.enc"]
	if g.Kind != KindESDK || g.Flagged || g.Suite != "0x0478" || len(g.Keys) != 1 || g.Keys[0] != (EDKInfo{KeyNamespace, "k1"}) ||
		strings.Join(g.ContextKeys, ",") != "tenant" || g.FrameLength == nil || *g.FrameLength != 4096 {
		t.Fatalf("good.enc: %+v", g)
	}
	if line := FormatScanLine(g); !strings.HasPrefix(line, "ok ") || !strings.Contains(line, "keys=phicrypt/k1") || !strings.Contains(line, "frame=4096") {
		t.Fatalf("line: %s", line)
	}

	got, sum, err = scanTree(t, dir, ScanOptions{MaxEDKs: 10, RequireKeys: []string{"phicrypt/k1"}, RequireContext: map[string]string{"tenant": "a"}})
	if !errors.Is(err, ErrFlagged) || sum.Flagged != 4 {
		t.Fatalf("policy: %+v, %v; want 4 flagged", sum, err)
	}
	for name, want := range map[string]string{"good.enc": "", "wrongctx.enc": `another value for "tenant"`,
		"foreign.enc": "no data key wrapped by a required key", "plain.txt": "not encrypted", "empty": "not encrypted"} {
		r := got[name]
		if r.Flagged != (want != "") || !strings.Contains(strings.Join(r.Reasons, ";"), want) {
			t.Errorf("%s: flagged %v, reasons %q; want %q", name, r.Flagged, r.Reasons, want)
		}
	}

	// Only the good one: nothing flagged, no error.
	if _, sum, err := scanTree(t, dir, ScanOptions{Include: []string{"good.enc"}, RequireKeys: []string{"phicrypt/k1"}}); err != nil || sum.Flagged != 0 || sum.Skipped != 4 {
		t.Fatalf("good only: %+v, %v", sum, err)
	}
}

// TestHostileScanManyEncryptedDataKeys: a header claiming more data keys
// than the limit is reported malformed, from its count alone.
func TestHostileScanManyEncryptedDataKeys(t *testing.T) {
	p := testkit.EDKHeader(11, func(int) string { return "k1" })
	r := &ScanResult{}
	classify(r, p, true, nil, &ScanOptions{MaxEDKs: 10})
	if r.Kind != KindMalformed || !r.Flagged || !strings.Contains(r.Reasons[0], "11 encrypted data keys") {
		t.Fatalf("%+v", r)
	}
	r = &ScanResult{}
	classify(r, p, true, nil, &ScanOptions{MaxEDKs: 11})
	if r.Kind != KindESDK || r.Flagged || len(r.Keys) != 11 {
		t.Fatalf("within the limit: %+v", r)
	}
}

// TestHostileScanLongHeader: a file whose header goes on past the bound
// (here 2,000 data keys of 200-byte names, limit lifted) is reported
// malformed after reading at most scanMaxHeader+1 bytes.
func TestHostileScanLongHeader(t *testing.T) {
	dir := t.TempDir()
	h := testkit.EDKHeader(2000, func(int) string { return strings.Repeat("n", 200) })
	if len(h) <= scanMaxHeader {
		t.Fatalf("header of %d bytes is not over the bound", len(h))
	}
	os.WriteFile(filepath.Join(dir, "long.enc"), h, 0o600)
	got, sum, err := scanTree(t, dir, ScanOptions{})
	if r := got["long.enc"]; !errors.Is(err, ErrFlagged) || sum.Malformed != 1 || !strings.Contains(r.Reasons[0], "header longer than") {
		t.Fatalf("%+v, %+v, %v", r, sum, err)
	}
}

type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) { e.n += int64(len(p)); return len(p), nil }
func (e *endless) Close() error               { return nil }

type endlessSource struct{ r *endless }

func (endlessSource) single(context.Context) (bool, error) { return true, nil }
func (endlessSource) list(context.Context, func(string) bool, func(item) error) (int, error) {
	return 0, nil
}
func (s endlessSource) open(context.Context, item) (io.ReadCloser, error) { return s.r, nil }

// TestHostileScanEndlessInput: an input that never ends (a device, a
// FIFO) is read for at most a bounded prefix.
func TestHostileScanEndlessInput(t *testing.T) {
	e := &endless{}
	r := scanOne(context.Background(), endlessSource{e}, item{name: "x", size: -1}, &ScanOptions{})
	if e.n > scanMaxHeader+64<<10 || r.Kind != KindPlaintext {
		t.Fatalf("read %d bytes, %+v", e.n, r)
	}
}

func TestScanS3ECMetadata(t *testing.T) {
	meta := map[string]string{"x-amz-key-v2": "AQID", "x-amz-iv": "AAAA", "x-amz-wrap-alg": "kms+context",
		"x-amz-cek-alg": "AES/GCM/NoPadding", "x-amz-matdesc": `{"aws:x-amz-cek-alg":"AES/GCM/NoPadding","tenant":"a"}`}
	r := &ScanResult{}
	classify(r, []byte("\x8a\x01ciphertext"), true, meta, &ScanOptions{RequireContext: map[string]string{"tenant": "a"}})
	if r.Kind != KindS3EC || r.Flagged || r.S3EC.Version != "v2" || r.S3EC.WrapAlg != "kms+context" || strings.Join(r.ContextKeys, ",") != "aws:x-amz-cek-alg,tenant" {
		t.Fatalf("%+v %+v", r, r.S3EC)
	}
	r = &ScanResult{}
	classify(r, []byte("x"), true, meta, &ScanOptions{RequireKeys: []string{"arn:aws:kms:us-east-1:111122223333:key/k"}})
	if r.Kind != KindS3EC || !r.Flagged {
		t.Fatalf("unknown key passed --require-key: %+v", r)
	}
	v1 := map[string]string{"X-Amz-Key": "AQID", "X-Amz-Iv": "AAAA", "X-Amz-Matdesc": `{"kms_cmk_id":"arn:aws:kms:us-east-1:111122223333:key/k"}`}
	r = &ScanResult{}
	classify(r, []byte("x"), true, v1, &ScanOptions{RequireKeys: []string{"arn:aws:kms:us-east-1:111122223333:key/k"}})
	if r.Kind != KindS3EC || r.Flagged || r.S3EC.Version != "v1" {
		t.Fatalf("v1 with its key: %+v", r)
	}
	// A wrapped key without an IV is not S3EC metadata.
	r = &ScanResult{}
	classify(r, []byte("x"), true, map[string]string{"x-amz-key-v2": "AQID"}, &ScanOptions{})
	if r.Kind != KindPlaintext || !r.Flagged {
		t.Fatalf("%+v", r)
	}
}
