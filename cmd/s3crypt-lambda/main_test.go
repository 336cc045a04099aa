package main

import (
	"bytes"
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

// mainProc is main running in a process of its own (see startMain).
type mainProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	exited chan struct{} // closed once the process ended and stderr is whole
}

// startMain runs main in a process of its own with env added to this
// test's environment, until the test ends. The process is waited for
// once, here: read stderr and cmd.ProcessState only after exited.
func startMain(t *testing.T, env ...string) *mainProc {
	t.Helper()
	p := &mainProc{cmd: exec.Command(os.Args[0], "-test.run=^$"), exited: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), runMainEnv+"=1"), env...)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.stop)
	return p
}

// stop kills the process, if it still runs, and waits until it ended.
func (p *mainProc) stop() {
	p.cmd.Process.Kill()
	<-p.exited
}

// failure returns what the process wrote to stderr, once stopped.
func (p *mainProc) failure() string {
	p.stop()
	return p.stderr.String()
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
	p := startMain(t, append(srv.Env,
		"AWS_LAMBDA_RUNTIME_API="+api,
		"PHICRYPT_KEY="+aesKey(t, "k"), "PHICRYPT_DESTINATION=s3://"+b+"/enc/",
		"PHICRYPT_S3_ENDPOINT_URL="+srv.Endpoint)...)

	var body []byte
	select {
	case body = <-got:
	case <-time.After(30 * time.Second): // a guard, not a synchronization
		t.Fatalf("no response from main; stderr:\n%s", p.failure())
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
	p := startMain(t, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1", "PHICRYPT_KEY=", "PHICRYPT_DESTINATION=s3://b/")
	select {
	case <-p.exited:
		if p.cmd.ProcessState.ExitCode() != 1 || !strings.Contains(p.stderr.String(), "PHICRYPT_KEY") {
			t.Fatalf("exit %d, stderr:\n%s", p.cmd.ProcessState.ExitCode(), &p.stderr)
		}
	case <-time.After(30 * time.Second): // a guard, not a synchronization
		t.Fatalf("main did not exit; stderr:\n%s", p.failure())
	}
}
