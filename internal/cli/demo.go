package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/kmslocal"
)

// The demo's KMS keys, made in its kmslocal on the first run.
const (
	DemoKey      = "alias/phicrypt-demo"       // symmetric: wraps the data keys
	DemoAuditKey = "alias/phicrypt-demo-audit" // HMAC_256: signs the audit log's digests
	// DemoAddr is where the printed commands start kmslocal.
	DemoAddr = "127.0.0.1:4599"
)

// demoCredentials are placeholders: kmslocal accepts any credentials.
var demoCredentials = [2]string{"demo", "demo"}

// Demo is s3crypt's main job on embedded defaults, as it runs on AWS but
// with no AWS account: it starts kmslocal in this process on loopback,
// keeping its keys in dir/kms (a symmetric key and an HMAC key, made on the
// first run), writes a tree of synthetic lab results, encrypts it under
// data keys from GenerateDataKey through the data key cache with an
// encryption context on every file, decrypts it checking that context,
// checks the two plaintext trees are equal, appends to an audit log whose
// digests KMS signs, verifies the log with the key, and prints the KMS
// calls made and saved and the same steps as CLI commands against a
// kmslocal process.
func Demo(ctx context.Context, dir string, w io.Writer) error {
	records := filepath.Join(dir, "lab-results")
	encrypted := filepath.Join(dir, "encrypted")
	decrypted := filepath.Join(dir, "decrypted")
	audit := filepath.Join(dir, "audit-log.jsonl")
	kmsDir := filepath.Join(dir, "kms")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	srv, err := kmslocal.New(kmslocal.Options{DataDir: kmsDir})
	if err != nil {
		return fmt.Errorf("kmslocal: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := srv.HTTPServer(ln.Addr(), kmslocal.DefaultLimits())
	go hs.Serve(ln)
	defer hs.Close()
	endpoint := "http://" + ln.Addr().String()
	cfg := aws.Config{
		Region:      srv.Region(),
		Credentials: credentials.NewStaticCredentialsProvider(demoCredentials[0], demoCredentials[1], ""),
	}
	api := awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = &endpoint })
	fmt.Fprintf(w, "kmslocal (in this process) at %s, keys kept in %s:\n", endpoint, kmsDir)
	for _, k := range []struct {
		alias, what string
		spec        types.KeySpec
	}{{DemoKey, "data keys", types.KeySpecSymmetricDefault}, {DemoAuditKey, "audit log digests", types.KeySpecHmac256}} {
		arn, made, err := demoKMSKey(ctx, api, k.alias, k.spec)
		if err != nil {
			return fmt.Errorf("kmslocal key %s: %w", k.alias, err)
		}
		now := ""
		if made {
			now = ", made now"
		}
		fmt.Fprintf(w, "  %-26s %s (%s, for %s%s)\n", k.alias, arn, k.spec, k.what, now)
	}

	n, err := sampleLabResults(records)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "sample records: %d synthetic lab results in %s\n", n, records)

	ec := map[string]string{"purpose": "demo", "data-class": "phi"}
	ko := batch.KeyOptions{
		Specs: []string{DemoKey}, KMSEndpoint: endpoint, Config: &cfg,
		CacheMaxAge: batch.DefaultCacheMaxAge, CacheMaxMessages: batch.DefaultCacheMaxMessages,
	}
	ao := batch.AuditOptions{Key: "kms-hmac:" + DemoAuditKey, Keys: ko}
	run := func(op batch.Op, src, dst string, o batch.Options) (*batch.Summary, error) {
		srv.ResetCounts()
		o.Keys, o.Overwrite = ko, true
		a, err := batch.OpenAudit(ctx, audit, ao)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", audit, err)
		}
		o.Audit = a
		s, err := batch.Run(ctx, op, src, dst, o)
		if cerr := a.Close(); err == nil {
			err = cerr
		}
		return s, err
	}
	s, err := run(batch.Encrypt, records, encrypted, batch.Options{Context: ec})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "encrypted %d files (%s) into %s in %.3fs, each with encryption context %s\n", s.OK, FormatBytes(s.BytesIn), encrypted, s.Seconds, formatPairs(ec))
	fmt.Fprintf(w, "  KMS calls: %s; %s\n", formatCounts(srv.Counts()), cacheSaved(s))
	if s, err = run(batch.Decrypt, encrypted, decrypted, batch.Options{ExpectContext: ec}); err != nil {
		return err
	}
	fmt.Fprintf(w, "decrypted %d files into %s in %.3fs, each message's context checked\n", s.OK, decrypted, s.Seconds)
	fmt.Fprintf(w, "  KMS calls: %s; %s\n", formatCounts(srv.Counts()), cacheSaved(s))
	if err := sameTrees(records, decrypted); err != nil {
		return err
	}
	fmt.Fprintf(w, "checked: %s and %s hold the same bytes\n", records, decrypted)
	res, err := batch.VerifyAudit(ctx, audit, ao)
	if err != nil {
		return fmt.Errorf("%s: %w", audit, err)
	}
	fmt.Fprintf(w, "audit log %s: chain verified, %d lines, all signed (%d digests verified with %s), head %s\n", audit, res.Lines, res.Digests, ao.Key, res.Head)

	kmsFlags := "--kms-endpoint-url http://" + DemoAddr
	q := shellQuote
	fmt.Fprintf(w, `
The same with the CLI, against a kmslocal process holding the same keys (it
keeps key material in plaintext: development only) and the placeholder
credentials it accepts (go install github.com/phicrypt/phicrypt/cmd/kmslocal@latest
github.com/phicrypt/phicrypt/cmd/s3crypt@latest):
  kmslocal --addr %[1]s --data %[2]s &
  export AWS_REGION=%[3]s AWS_ACCESS_KEY_ID=%[4]s AWS_SECRET_ACCESS_KEY=%[5]s
  s3crypt encrypt %[6]s --key %[7]s --context purpose=demo --context data-class=phi --metadata-output %[9]s --audit-key kms-hmac:%[8]s --overwrite %[10]s %[11]s
  s3crypt decrypt %[6]s --key %[7]s --expect-context purpose=demo --expect-context data-class=phi --metadata-output %[9]s --audit-key kms-hmac:%[8]s --overwrite %[11]s %[12]s
  s3crypt inspect %[13]s
  s3crypt verify-log %[6]s --audit-key kms-hmac:%[8]s %[9]s
On AWS: your key's alias or ARN for --key and --audit-key, your region and
credentials, and no --kms-endpoint-url.
`, DemoAddr, q(kmsDir), srv.Region(), demoCredentials[0], demoCredentials[1], kmsFlags, DemoKey, DemoAuditKey,
		q(audit), q(records), q(encrypted), q(decrypted), q(filepath.Join(encrypted, "clinic-1", "patient-0001.json.enc")))
	return nil
}

// demoKMSKey returns the ARN of the key alias names, first making a key of
// spec with that alias if there is none.
func demoKMSKey(ctx context.Context, api *awskms.Client, alias string, spec types.KeySpec) (string, bool, error) {
	d, err := api.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &alias})
	if err == nil {
		return aws.ToString(d.KeyMetadata.Arn), false, nil
	}
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		return "", false, err
	}
	in := &awskms.CreateKeyInput{Description: aws.String("s3crypt demo")}
	if spec == types.KeySpecHmac256 {
		in.KeySpec, in.KeyUsage = spec, types.KeyUsageTypeGenerateVerifyMac
	}
	k, err := api.CreateKey(ctx, in)
	if err != nil {
		return "", false, err
	}
	if _, err := api.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: &alias, TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		return "", false, err
	}
	return aws.ToString(k.KeyMetadata.Arn), true, nil
}

// formatCounts formats kmslocal's per-operation counts, by name.
func formatCounts(c map[string]int64) string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%d %s", c[op], op))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// cacheSaved says what the data key cache saved a run.
func cacheSaved(s *batch.Summary) string {
	if s.Cache == nil {
		return "no data key cache"
	}
	files := s.Cache.Hits + s.Cache.Misses
	return fmt.Sprintf("the data key cache served %d of %d files: %s for data keys, not %d", s.Cache.Hits, files, calls(s.Cache.UnderlyingCalls), files)
}

func calls(n int64) string {
	if n == 1 {
		return "1 KMS call"
	}
	return fmt.Sprintf("%d KMS calls", n)
}

func formatPairs(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellQuote quotes s for a POSIX shell, unless it needs no quotes.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sampleLabResults writes synthetic (not real) lab results to dir, leaving
// existing files alone, and returns how many there are.
func sampleLabResults(dir string) (int, error) {
	tests := []struct {
		name, unit string
		base       float64
	}{{"HbA1c", "%", 5.4}, {"LDL", "mg/dL", 110}, {"TSH", "mIU/L", 2.1}, {"Creatinine", "mg/dL", 0.9}}
	n := 0
	for c := 1; c <= 3; c++ {
		sub := filepath.Join(dir, fmt.Sprintf("clinic-%d", c))
		if err := os.MkdirAll(sub, 0o700); err != nil {
			return n, err
		}
		for p := 1; p <= 4; p++ {
			id := (c-1)*4 + p
			path := filepath.Join(sub, fmt.Sprintf("patient-%04d.json", id))
			n++
			if _, err := os.Stat(path); err == nil {
				continue
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "{\"mrn\":\"SYN-%06d\",\"name\":\"Synthetic Patient %d\",\"clinic\":\"clinic-%d\",\"results\":[", id*7919, id, c)
			for i, t := range tests {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "{\"test\":%q,\"value\":%.1f,\"unit\":%q,\"date\":\"2026-0%d-1%d\"}", t.name, t.base*(1+float64((id*(i+3))%7)/20), t.unit, 1+id%9, id%10)
			}
			b.WriteString("]}\n")
			if err := os.WriteFile(path, bytes.Repeat(b.Bytes(), 20*id), 0o600); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// sameTrees reports the first file of a that b lacks or holds differently.
func sameTrees(a, b string) error {
	return filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(a, p)
		if err != nil {
			return err
		}
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("%s differs after the round trip", rel)
		}
		return nil
	})
}
