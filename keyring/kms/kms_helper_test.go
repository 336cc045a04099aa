package kms_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// The KMS of these tests is kmslocal behind the stock aws-sdk-go-v2 client,
// through kmstest, which records each request and each data key released.

func newKMSClient(url, region string) *awskms.Client {
	return awskms.New(awskms.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKMSLOCAL", "kmslocal-accepts-any", ""),
		BaseEndpoint: aws.String(url),
	})
}

// ops returns the operation names of calls.
func ops(calls []kmstest.Call) []string {
	var s []string
	for _, c := range calls {
		s = append(s, c.Op)
	}
	return s
}

// checkNoKeyMaterial fails if the text of err holds any data key the KMS
// of e released, raw, hex or base64.
func checkNoKeyMaterial(t *testing.T, e *kmstest.Env, err error) {
	t.Helper()
	msg := err.Error()
	keys := e.DataKeys()
	if len(keys) == 0 {
		t.Fatal("no data key recorded: the check would be empty")
	}
	for _, k := range keys {
		for _, form := range []string{string(k), hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)),
			base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k)} {
			if strings.Contains(msg, form) {
				t.Fatalf("error text holds a data key: %q", msg)
			}
		}
	}
}

// mrkPair starts two kmslocal servers, in us-east-1 and us-west-2, holding
// the same multi-Region key (same id, same material), and returns them
// with the key's ARN in each.
func mrkPair(t *testing.T) (east, west *kmstest.Env, eastARN, westARN string) {
	t.Helper()
	const id = "mrk-0123456789abcdef0123456789abcdef"
	material := bytes.Repeat([]byte{0x5a}, 32)
	var envs []*kmstest.Env
	for _, region := range []string{"us-east-1", "us-west-2"} {
		seed := kmslocal.SeedFile{Region: region, Keys: []kmslocal.SeedKey{{ID: id, Material: material, MultiRegion: true}}}
		b, err := json.Marshal(seed)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "seed.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, kmstest.Start(t, kmslocal.Options{SeedFile: p}))
	}
	east, west = envs[0], envs[1]
	return east, west, east.Server.KeyARN(id), west.Server.KeyARN(id)
}
