package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// startInProcess runs the command in this process on 127.0.0.1:0 with
// limits lim until the test ends, and returns its URL.
func startInProcess(t *testing.T, lim kmslocal.Limits, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), pw, io.Discard, lim)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v", err)
	}
	go io.Copy(io.Discard, br) // the environment block that follows
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "kmslocal listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	return url
}

// closedWithin fails unless the server closes conn within d.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", d)
	}
}

// Attack: clients that send half a request, or open a connection and go
// quiet, each hold a connection (and goroutine) forever.
func TestHostileSlowClients(t *testing.T) {
	lim := kmslocal.Limits{
		ReadHeaderTimeout: 200 * time.Millisecond,
		ReadTimeout:       400 * time.Millisecond,
		WriteTimeout:      2 * time.Second,
		IdleTimeout:       300 * time.Millisecond,
		MaxHeaderBytes:    4 << 10,
	}
	url := startInProcess(t, lim)
	host := strings.TrimPrefix(url, "http://")
	for name, req := range map[string]string{
		"half headers": "POST / HTTP/1.1\r\nHost: " + host + "\r\nX-Amz-Target: TrentService.Encrypt\r\n",
		"half body": "POST / HTTP/1.1\r\nHost: " + host + "\r\nX-Amz-Target: TrentService.ListKeys\r\n" +
			"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{\"Limit\":",
		"idle after a request": "GET " + kmslocal.CountsPath + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			closedWithin(t, conn, 5*time.Second)
		})
	}
	t.Run("huge headers", func(t *testing.T) {
		t.Parallel()
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		// net/http allows 4 KiB over MaxHeaderBytes.
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nX-Big: %s\r\n\r\n", kmslocal.CountsPath, host, strings.Repeat("a", 16<<10))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 431", resp.StatusCode)
		}
	})
}

// Attack: DNS rebinding. A web page at evil.example re-points its name at
// 127.0.0.1 and the browser sends kmslocal requests with Host:
// evil.example:PORT; kmslocal answered them.
func TestHostileHostHeader(t *testing.T) {
	url := startInProcess(t, kmslocal.DefaultLimits(), "--allow-host", "kms.internal:4599")
	host := strings.TrimPrefix(url, "http://")
	_, port, _ := net.SplitHostPort(host)
	for _, h := range []string{"evil.example:" + port, "127.0.0.1:1", "127.0.0.1", "", "localhost.evil.example:" + port} {
		code, body := rawRequest(t, host, h)
		if code != http.StatusMisdirectedRequest || !strings.Contains(body, `"__type":"AccessDeniedException"`) {
			t.Errorf("Host %q: %d %s, want 421 AccessDeniedException", h, code, body)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("Host %q: body %q is not JSON: %v", h, body, err)
		}
	}
	for _, h := range []string{host, "localhost:" + port, "LOCALHOST:" + port, "kms.internal:4599"} {
		if code, body := rawRequest(t, host, h); code != http.StatusOK {
			t.Errorf("Host %q: %d %s, want 200", h, code, body)
		}
	}
	// The stock SDK client sends Host as in the endpoint URL.
	for _, u := range []string{url, "http://localhost:" + port} {
		if _, err := client(u, http.DefaultClient).ListKeys(context.Background(), &kms.ListKeysInput{}); err != nil {
			t.Errorf("SDK client at %s: %v", u, err)
		}
	}
}

// rawRequest sends a ListKeys request to addr with the Host header host
// ("" sends none, as HTTP/1.0) and returns the status and body.
func rawRequest(t *testing.T, addr, host string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	proto, hostLine := "HTTP/1.1", "Host: "+host+"\r\n"
	if host == "" {
		proto, hostLine = "HTTP/1.0", ""
	}
	fmt.Fprintf(conn, "POST / %s\r\n%sX-Amz-Target: TrentService.ListKeys\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", proto, hostLine)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
