package kmslocal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/phicrypt/phicrypt/kmslocal"
)

// Run KMS in the test process: the stock aws-sdk-go-v2 client talks to a
// kmslocal Server on loopback, and the Server counts the calls, so a test
// can assert how many data keys code under test asked for. In a Go test,
// kmstest.Start(t, kmslocal.Options{}) does this setup and also records
// each call.
func ExampleNew() {
	ctx := context.Background()
	srv, err := kmslocal.New(kmslocal.Options{}) // in memory, us-east-1
	if err != nil {
		log.Fatal(err)
	}
	if _, err := srv.CreateKey(ctx, kmslocal.KeyOptions{Aliases: []string{"alias/lab-results"}}); err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv) // 127.0.0.1 only: kmslocal is not a secure KMS
	defer ts.Close()

	client := kms.New(kms.Options{
		Region:       srv.Region(),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "any", ""), // not checked
		BaseEndpoint: aws.String(ts.URL),
	})
	ec := map[string]string{"tenant": "clinic-7"}
	dk, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String("alias/lab-results"),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: ec,
	})
	if err != nil {
		log.Fatal(err)
	}
	out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(dk.Plaintext), bytes.Equal(out.Plaintext, dk.Plaintext))

	// The context is authenticated, as in AWS KMS.
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	var invalid *types.InvalidCiphertextException
	fmt.Println(errors.As(err, &invalid))

	fmt.Println(srv.Counts()) // failed calls included
	// Output:
	// 32 true
	// true
	// map[Decrypt:2 GenerateDataKey:1]
}
