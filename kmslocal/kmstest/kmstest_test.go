package kmstest_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// TestRecording: Start records each request of the code under test (not
// CreateKey's) with its key, context and grant tokens, and each data key
// a response released.
func TestRecording(t *testing.T) {
	e := kmstest.Start(t, kmslocal.Options{})
	arn := e.CreateKey(t, "alias/rec")
	if calls := e.TakeCalls(); len(calls) != 0 {
		t.Fatalf("CreateKey recorded %v", calls)
	}
	ec := map[string]string{"purpose": "test"}
	out, err := e.Client.GenerateDataKey(t.Context(), &kms.GenerateDataKeyInput{KeyId: aws.String("alias/rec"), NumberOfBytes: aws.Int32(32),
		EncryptionContext: ec, GrantTokens: []string{"g1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.Decrypt(t.Context(), &kms.DecryptInput{KeyId: aws.String(arn), CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec}); err != nil {
		t.Fatal(err)
	}
	calls := e.TakeCalls()
	want := []kmstest.Call{{Op: "GenerateDataKey", KeyID: "alias/rec", EC: ec, GrantTokens: []string{"g1"}}, {Op: "Decrypt", KeyID: arn, EC: ec}}
	if len(calls) != len(want) {
		t.Fatalf("calls = %+v, want %+v", calls, want)
	}
	for i := range want {
		c, w := calls[i], want[i]
		if c.Op != w.Op || c.KeyID != w.KeyID || c.EC["purpose"] != "test" || !slices.Equal(c.GrantTokens, w.GrantTokens) {
			t.Errorf("call %d = %+v, want %+v", i, c, w)
		}
	}
	if e.TakeCalls() != nil {
		t.Error("TakeCalls did not empty the record")
	}
	keys := e.DataKeys()
	if len(keys) != 2 || !bytes.Equal(keys[0], out.Plaintext) || !bytes.Equal(keys[1], out.Plaintext) {
		t.Errorf("data keys = %d, want the GenerateDataKey and Decrypt plaintexts", len(keys))
	}
	if n := e.Counts(t)["GenerateDataKey"]; n != 1 {
		t.Errorf("Counts[GenerateDataKey] = %d, want 1", n)
	}
}

// TestRecordingPassesLongBodies: a body longer than what is parsed reaches
// kmslocal whole, which refuses it by its own limit.
func TestRecordingPassesLongBodies(t *testing.T) {
	e := kmstest.Start(t, kmslocal.Options{})
	req, _ := http.NewRequest(http.MethodPost, e.Endpoint, bytes.NewReader(make([]byte, 2<<20)))
	req.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	if calls := e.TakeCalls(); len(calls) != 1 || calls[0].Op != "Encrypt" {
		t.Fatalf("calls = %+v", calls)
	}
}
