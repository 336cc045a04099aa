package kms

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestBoundedTimeout: a request whose context has no deadline ends after
// the client's timeout when KMS never answers, or never ends its answer.
// Before, NewClient's client had no timeout of any kind: the call hung.
func TestBoundedTimeout(t *testing.T) {
	for _, headers := range []bool{false, true} {
		done := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if headers {
				w.WriteHeader(200)
				w.Write([]byte(`{"CiphertextBlob":"`))
				w.(http.Flusher).Flush()
			}
			select {
			case <-done:
			case <-r.Context().Done():
			}
		}))
		b := bounded{next: srv.Client(), timeout: 200 * time.Millisecond}
		start := time.Now()
		req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL, nil)
		resp, err := b.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if el := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || el > 5*time.Second {
			t.Errorf("headers %v: %v after %v, want the deadline at 200ms", headers, err, el)
		}
		close(done)
		srv.Close()
	}
}

// TestBoundedBody: a response body of MaxResponseBytes is read whole; one
// byte more fails with ErrResponseTooLarge once the limit is reached.
func TestBoundedBody(t *testing.T) {
	for _, n := range []int{MaxResponseBytes, MaxResponseBytes + 1} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(bytes.Repeat([]byte{'a'}, n))
		}))
		req, _ := http.NewRequest("POST", srv.URL, nil)
		resp, err := bounded{next: srv.Client(), timeout: time.Minute}.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		switch {
		case n == MaxResponseBytes && (err != nil || len(got) != n):
			t.Errorf("%d bytes: read %d, %v", n, len(got), err)
		case n > MaxResponseBytes && !errors.Is(err, ErrResponseTooLarge):
			t.Errorf("%d bytes: read %d, %v; want ErrResponseTooLarge", n, len(got), err)
		}
	}
}
