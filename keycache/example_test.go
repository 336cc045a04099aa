package keycache_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keycache"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
)

// A data key cache in front of an AWS KMS keyring: a service encrypting
// many small records makes one GenerateDataKey call per tenant and cache
// entry instead of one per record, and decrypting them one Decrypt call per
// data key. Here an in-process kmslocal stands in for KMS and counts the
// calls; against AWS, build the client with config.LoadDefaultConfig and
// kms.NewClient(ctx, cfg, "").
func ExampleNewWithKeyring() {
	ctx := context.Background()
	srv, err := kmslocal.New(kmslocal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	key, err := srv.CreateKey(ctx, kmslocal.KeyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cfg := aws.Config{Region: srv.Region(), Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "kmslocal", "")}
	client, err := kms.NewClient(ctx, cfg, ts.URL)
	if err != nil {
		log.Fatal(err)
	}
	kr, err := kms.New(client, key.ARN)
	if err != nil {
		log.Fatal(err)
	}

	// One Cache per process, shared; one Manager per trust boundary
	// (Partition). The limits bound how much one data key protects and
	// how long a key policy change takes to apply.
	cache, err := keycache.NewCache(100)
	if err != nil {
		log.Fatal(err)
	}
	cmm, err := keycache.NewWithKeyring(kr, cache, keycache.Options{
		MaxAge:      5 * time.Minute,
		MaxMessages: 1000,
		Partition:   "lab-results",
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := envelope.NewWithMaterialsManager(cmm)
	if err != nil {
		log.Fatal(err)
	}

	// 100 records of two tenants: the context is part of the cache key,
	// so each tenant gets its own data key.
	var msgs [][]byte
	for i := range 100 {
		ec := map[string]string{"tenant": fmt.Sprintf("clinic-%d", i%2)}
		msg, err := c.Encrypt(ctx, fmt.Appendf(nil, "record %d", i), ec)
		if err != nil {
			log.Fatal(err)
		}
		msgs = append(msgs, msg)
	}
	for _, msg := range msgs {
		if _, _, err := c.Decrypt(ctx, msg); err != nil {
			log.Fatal(err)
		}
	}

	calls := srv.Counts()
	fmt.Printf("KMS: %d GenerateDataKey, %d Decrypt for %d records\n", calls["GenerateDataKey"], calls["Decrypt"], len(msgs))
	s := cmm.Stats()
	fmt.Printf("cache: %d hits, %d misses\n", s.Hits, s.Misses)
	// Output:
	// KMS: 2 GenerateDataKey, 2 Decrypt for 100 records
	// cache: 196 hits, 4 misses
}
