package s3crypt_test

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// A PHI bucket whose policy asks for SSE-KMS with a bucket key on top of
// the client-side encryption: the fields go to S3 as for PutObject.
func ExampleClient_Put() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	api, err := s3crypt.NewS3Client(cfg) // or s3.NewFromConfig(cfg, …, s3crypt.SecureEndpoint)
	if err != nil {
		log.Fatal(err)
	}
	var enc *envelope.Client // e.g. envelope.New(a KMS keyring)
	c, err := s3crypt.New(api, enc)
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open("results.csv")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	res, err := c.Put(ctx, &s3.PutObjectInput{
		Bucket:               aws.String("phi-bucket"),
		Key:                  aws.String("lab/2026/results.csv"),
		Body:                 f, // the plaintext
		ServerSideEncryption: types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          aws.String("arn:aws:kms:us-east-1:111122223333:key/bucket-key"),
		BucketKeyEnabled:     aws.Bool(true),
		ContentType:          aws.String("text/csv"),
		Tagging:              aws.String("class=phi"),
	}, map[string]string{"tenant": "clinic-7"})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("stored %d bytes, ETag %s", res.Size, res.ETag)
}
