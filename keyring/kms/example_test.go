package kms_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
)

// Encrypt under an AWS KMS key and decrypt with the same keyring. Against
// AWS, build the client with config.LoadDefaultConfig and awskms.NewFromConfig;
// here a local kmslocal server stands in for KMS.
func ExampleNew() {
	ctx := context.Background()
	srv, _ := kmslocal.New(kmslocal.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cfg := aws.Config{Region: srv.Region(), Credentials: credentials.NewStaticCredentialsProvider("AKID", "any", "")}
	client, err := kms.NewClient(ctx, cfg, ts.URL)
	if err != nil {
		log.Fatal(err)
	}
	key, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		log.Fatal(err)
	}

	kr, err := kms.New(client, aws.ToString(key.KeyMetadata.Arn))
	if err != nil {
		log.Fatal(err)
	}
	c, err := envelope.New(kr)
	if err != nil {
		log.Fatal(err)
	}
	msg, err := c.Encrypt(ctx, []byte("lab result"), map[string]string{"patient-record": "r-17"})
	if err != nil {
		log.Fatal(err)
	}
	pt, h, err := c.Decrypt(ctx, msg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s; data key wrapped by %s\n", pt, h.EncryptedDataKeys[0].ProviderID)
	// Output: lab result; data key wrapped by aws-kms
}
