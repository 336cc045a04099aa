package kmslocal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// Attack: DNS rebinding. A page at evil.example re-points its name at the
// loopback server; the browser's requests carry Host: evil.example:PORT.
func TestHostileHostRule(t *testing.T) {
	e := kmstest.Start(t, kmslocal.Options{})
	c := e.Client
	if _, err := c.ListKeys(t.Context(), &kms.ListKeysInput{}); err != nil {
		t.Fatalf("stock SDK client refused: %v", err)
	}
	host := strings.TrimPrefix(e.Endpoint, "http://")
	_, port, _ := net.SplitHostPort(host)
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{host, true},
		{"localhost:" + port, true},
		{"evil.example:" + port, false},
		{"127.0.0.1:" + port + "0", false},
		{strings.Repeat("x", 5000) + ":" + port, false},
	} {
		t.Run(fmt.Sprintf("%.40s", tc.host), func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.Endpoint, strings.NewReader("{}"))
			req.Host = tc.host
			req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
			resp, err := e.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			switch {
			case tc.ok && resp.StatusCode != http.StatusOK:
				t.Errorf("Host %.40q: status %d, want 200", tc.host, resp.StatusCode)
			case !tc.ok && (resp.StatusCode != http.StatusMisdirectedRequest || derr != nil || body.Type != "AccessDeniedException"):
				t.Errorf("Host %.40q: status %d, %q (%v), want 421 AccessDeniedException", tc.host, resp.StatusCode, body.Type, derr)
			case len(body.Message) > 200:
				t.Errorf("Host %.40q: message of %d bytes repeats the host unbounded", tc.host, len(body.Message))
			}
		})
	}
}

func TestListenHosts(t *testing.T) {
	for _, tc := range []struct {
		addr *net.TCPAddr
		want []string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4599}, []string{"localhost:4599", "127.0.0.1:4599"}},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 4599}, []string{"localhost:4599", "[::1]:4599"}},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 80}, []string{"10.0.0.5:80", "10.0.0.5"}},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 443}, []string{"localhost:443", "localhost", "[::1]:443", "[::1]"}},
	} {
		t.Run(tc.addr.String(), func(t *testing.T) {
			if got := kmslocal.ListenHosts(tc.addr); !slices.Equal(got, tc.want) {
				t.Errorf("ListenHosts(%v) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
	got := kmslocal.ListenHosts(&net.TCPAddr{IP: net.IPv4zero, Port: 4599})
	for _, h := range []string{"localhost:4599", "127.0.0.1:4599", "[::1]:4599"} {
		if !slices.Contains(got, h) {
			t.Errorf("ListenHosts(0.0.0.0:4599) = %q, lacks %q", got, h)
		}
	}
}

// FuzzHandler posts arbitrary targets and bodies, as a local process or a
// web page can: the server must not panic and must answer in JSON.
func FuzzHandler(f *testing.F) {
	s, err := kmslocal.New(kmslocal.Options{})
	if err != nil {
		f.Fatal(err)
	}
	k, err := s.CreateKey(f.Context(), kmslocal.KeyOptions{Aliases: []string{"alias/fuzz"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct{ target, body string }{
		{"Encrypt", `{"KeyId":"alias/fuzz","Plaintext":"aGk=","EncryptionContext":{"a":"b"}}`},
		{"Decrypt", `{"CiphertextBlob":"AQVmdXp6eg=="}`},
		{"GenerateDataKey", `{"KeyId":"` + k.ARN + `","NumberOfBytes":32}`},
		{"GenerateDataKeyWithoutPlaintext", `{"KeyId":"` + k.ID + `","KeySpec":"AES_128"}`},
		{"ReEncrypt", `{"CiphertextBlob":"","DestinationKeyId":"alias/fuzz"}`},
		{"DescribeKey", `{"KeyId":"arn:aws:kms:us-east-1:111122223333:alias/fuzz"}`},
		{"CreateAlias", `{"AliasName":"alias/x","TargetKeyId":"alias/fuzz"}`},
		{"ListKeys", `{"Limit":-1}`},
		{"ListAliases", `null`},
		{"DisableKey", `{"KeyId":[]}`},
		{"PutKeyPolicy", `{"KeyId":"alias/fuzz","Policy":"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\"}}"}`},
		{"GetKeyPolicy", `{"KeyId":"alias/fuzz","PolicyName":"default"}`},
		{"EnableKeyRotation", `{"KeyId":"alias/fuzz","RotationPeriodInDays":90}`},
		{"GetKeyRotationStatus", `{"KeyId":"alias/fuzz"}`},
		{"Nope", `{`},
		{"Encrypt", "\xff\x00"},
	} {
		f.Add(seed.target, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, target string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "TrentService."+target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s: status %d, body not JSON: %q", target, w.Code, w.Body.Bytes())
		}
		if ct := w.Header().Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Fatalf("%s: Content-Type %q", target, ct)
		}
	})
}
