package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/phicrypt/phicrypt/internal/s3test"
)

// runMainEnv makes this test binary run main instead of the tests, as the
// Lambda runtime starts bootstrap.
const runMainEnv = "S3CRYPT_LAMBDA_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// startMain runs main in a process of its own with env added to this
// test's environment, until the test ends.
func startMain(t *testing.T, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), runMainEnv+"=1"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, &stderr
}

// runtimeAPI serves the Lambda Runtime API at the returned host:port: one
// invocation of ev, whose response (or error) main posts to got as its
// path, a space and its body.
func runtimeAPI(t *testing.T, ev []byte) (addr string, got <-chan []byte) {
	var served atomic.Bool
	posted := make(chan []byte, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/2018-06-01/runtime/invocation/next":
			if served.Swap(true) {
				<-r.Context().Done() // one invocation only
				return
			}
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:s3crypt")
			w.Write(ev)
		case "/2018-06-01/runtime/invocation/req-1/response", "/2018-06-01/runtime/invocation/req-1/error":
			body, _ := io.ReadAll(r.Body)
			posted <- append([]byte(r.URL.Path+" "), body...)
			w.WriteHeader(http.StatusAccepted)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	return strings.TrimPrefix(api.URL, "http://"), posted
}

// TestBootstrap runs main as the provided.al2023 runtime would run
// bootstrap: a cold start from the environment, then one schema 2.0
// invocation fetched from a Runtime API served here, whose response main
// posts back.
func TestBootstrap(t *testing.T) {
	awsEnv(t)
	srv := s3test.Fake(t)
	b := srv.Bucket(t, "lambda-main")
	put(t, srv, b, "in.txt", []byte("hello"))
	ev := event(t, "2.0", b, map[string]string{"context": "job=main"}, obj{key: "in.txt"})

	api, got := runtimeAPI(t, ev)
	_, stderr := startMain(t, append(srv.Env,
		"AWS_LAMBDA_RUNTIME_API="+api,
		"PHICRYPT_KEY="+aesKey(t, "k"), "PHICRYPT_DESTINATION=s3://"+b+"/enc/",
		"PHICRYPT_S3_ENDPOINT_URL="+srv.Endpoint)...)

	var body []byte
	select {
	case body = <-got:
	case <-time.After(30 * time.Second): // a guard, not a synchronization
		t.Fatalf("no response from main; stderr:\n%s", stderr)
	}
	path, raw, _ := bytes.Cut(body, []byte(" "))
	var resp events.S3BatchJobResponse
	if string(path) != "/2018-06-01/runtime/invocation/req-1/response" || json.Unmarshal(raw, &resp) != nil ||
		len(resp.Results) != 1 || resp.Results[0].ResultCode != Succeeded || resp.InvocationSchemaVersion != "2.0" {
		t.Fatalf("posted %s", body)
	}
	if out := get(t, srv, b, "enc/in.txt.enc"); len(out) == 0 {
		t.Fatal("no output object")
	}
}

// TestBootstrapBadConfig: a configuration that does not parse fails the
// cold start, naming the variable, before any invocation.
func TestBootstrapBadConfig(t *testing.T) {
	cmd, stderr := startMain(t, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1", "PHICRYPT_KEY=", "PHICRYPT_DESTINATION=s3://b/")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), "PHICRYPT_KEY") {
			t.Fatalf("exit %v, stderr:\n%s", err, stderr)
		}
	case <-ctx.Done():
		t.Fatal("main did not exit")
	}
}
