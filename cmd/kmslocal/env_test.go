package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// startRun runs the command in-process with args until the test ends and
// returns its stdout lines up to the last line of the environment block.
func startRun(t *testing.T, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, pw, io.Discard, kmslocal.DefaultLimits()) }()
	t.Cleanup(func() {
		cancel()
		pr.Close()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			got = append(got, sc.Text())
			if sc.Text() == "export AWS_EC2_METADATA_DISABLED=true" {
				break
			}
		}
		lines <- got
	}()
	select {
	case got := <-lines:
		return got
	case err := <-done:
		t.Fatalf("run returned %v before printing the environment", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no environment block")
	}
	return nil
}

// exports parses the "export K=V ..." lines (unquoted values).
func exports(t *testing.T, lines []string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l, "export ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("export line %q", l)
			}
			env[k] = v
		}
	}
	return env
}

var aliasLine = regexp.MustCompile(`^# (alias/\S+) (arn:aws:kms:[a-z0-9-]+:\d{12}:key/\S+)( +\(created\))?$`)

// aliasARNs maps the aliases of the block's comment lines to their ARNs;
// created lists those marked "(created)".
func aliasARNs(t *testing.T, lines []string) (arns map[string]string, created []string) {
	t.Helper()
	arns = map[string]string{}
	for _, l := range lines {
		if m := aliasLine.FindStringSubmatch(l); m != nil {
			arns[m[1]] = m[2]
			if m[3] != "" {
				created = append(created, m[1])
			}
		}
	}
	return arns, created
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// --key makes keys on first start only; the printed environment takes the
// stock SDK's default config and the aws CLI to them.
func TestKeysAndEnvironment(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	addr := "127.0.0.1:" + freePort(t)

	// --print-env creates the keys in --data and prints the block for --addr.
	var out strings.Builder
	if err := run(context.Background(), []string{"--addr", addr, "--data", data, "--region", "eu-west-1",
		"--key", "alias/app", "--key", "alias/mac:HMAC_256", "--print-env"}, &out, io.Discard, kmslocal.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	printed := strings.Split(strings.TrimSpace(out.String()), "\n")
	arns, created := aliasARNs(t, printed)
	if len(arns) != 2 || !slices.Equal(created, []string{"alias/app", "alias/mac"}) || printed[0][0] != '#' {
		t.Fatalf("--print-env output:\n%s", out.String())
	}

	// The server on that address and data dir reuses them and says so.
	lines := startRun(t, "--addr", addr, "--data", data, "--region", "eu-west-1", "--key", "alias/app", "--key", "alias/mac:HMAC_256")
	if lines[0] != "kmslocal listening on http://"+addr {
		t.Fatalf("first line %q", lines[0])
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "# ") && !strings.HasPrefix(l, "export ") && !strings.HasPrefix(l, "unset ") {
			t.Fatalf("line %q is not a shell comment or command", l)
		}
	}
	again, created := aliasARNs(t, lines)
	if len(created) != 0 || again["alias/app"] != arns["alias/app"] || again["alias/mac"] != arns["alias/mac"] {
		t.Fatalf("restart made new keys:\n%s", strings.Join(lines, "\n"))
	}
	env := exports(t, lines)
	want := map[string]string{
		"AWS_ENDPOINT_URL_KMS": "http://" + addr, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
		"AWS_ACCESS_KEY_ID": "kmslocal", "AWS_SECRET_ACCESS_KEY": "kmslocal", "AWS_EC2_METADATA_DISABLED": "true",
	}
	for k, v := range want {
		if env[k] != v {
			t.Fatalf("%s=%q, want %q; block:\n%s", k, env[k], v, strings.Join(lines, "\n"))
		}
	}
	if exports(t, strings.Split(out.String(), "\n"))["AWS_ENDPOINT_URL_KMS"] != env["AWS_ENDPOINT_URL_KMS"] {
		t.Fatal("--print-env and the server print different endpoints")
	}

	// The stock SDK configured from the environment alone.
	home := t.TempDir()
	hermetic := map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
		"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "", "AWS_ENDPOINT_URL": "", "AWS_CA_BUNDLE": "",
	}
	for k, v := range hermetic {
		t.Setenv(k, v)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx := t.Context()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := kms.NewFromConfig(cfg)
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	if err != nil || aws.ToString(d.KeyMetadata.Arn) != arns["alias/app"] {
		t.Fatalf("SDK DescribeKey alias/app: %v", err)
	}
	if _, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String("alias/mac"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: []byte("m")}); err != nil {
		t.Fatalf("SDK GenerateMac alias/mac: %v", err)
	}

	// The aws CLI (v1 or v2) with the same environment and nothing else.
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		t.Log("aws CLI not installed; skipping its check")
		return
	}
	cmd := exec.CommandContext(ctx, awsCLI, "kms", "list-aliases", "--output", "json")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	for k, v := range hermetic {
		if v != "" { // the CLI takes an empty AWS_PROFILE as a profile name
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws kms list-aliases: %v\n%s", err, stderr.String())
	}
	var la struct {
		Aliases []struct{ AliasName, TargetKeyId string }
	}
	if err := json.Unmarshal(b, &la); err != nil {
		t.Fatalf("aws output: %v\n%s", err, b)
	}
	got := map[string]string{}
	for _, a := range la.Aliases {
		got[a.AliasName] = a.TargetKeyId
	}
	for name, arn := range arns {
		if id := arn[strings.LastIndex(arn, "/")+1:]; got[name] != id {
			t.Fatalf("aws list-aliases: %s -> %q, want %q\n%s", name, got[name], id, b)
		}
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Errorf("aws CLI stderr: %s", s)
	}
}

// With TLS the block names the certificate as the CA bundle, quoted for
// the shell.
func TestEnvBlockTLS(t *testing.T) {
	srv, err := kmslocal.New(kmslocal.Options{Region: "us-gov-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := srv.CreateKey(t.Context(), kmslocal.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := envBlock(srv, "https://127.0.0.1:4599", "/tmp/my certs/it's.pem", nil)
	for _, want := range []string{
		"# (no alias) arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/" + k.ID + "\n",
		"export AWS_ENDPOINT_URL_KMS=https://127.0.0.1:4599\n",
		`export AWS_CA_BUNDLE='/tmp/my certs/it'\''s.pem'` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("block lacks %q:\n%s", want, got)
		}
	}
	if clientHost("0.0.0.0", "80") != "127.0.0.1:80" || clientHost("::", "1") != "127.0.0.1:1" || clientHost("::1", "2") != "[::1]:2" {
		t.Fatal("clientHost")
	}
}
