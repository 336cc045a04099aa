// Command cachedkms is a service's hot path: it encrypts many small
// records with an AWS KMS keyring behind a data key cache, so that KMS sees
// one GenerateDataKey per thousand records instead of one per record.
//
// With no flags it runs against an in-process kmslocal (no AWS account):
//
//	go run ./examples/cachedkms
//
// Against AWS KMS, with the default credential chain (environment, shared
// config, SSO, instance role...):
//
//	go run ./examples/cachedkms -key arn:aws:kms:us-east-1:111122223333:key/...
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keycache"
	"github.com/phicrypt/phicrypt/keyring/kms"
	"github.com/phicrypt/phicrypt/kmslocal"
)

func main() {
	keyID := flag.String("key", "", "AWS KMS key ARN (empty: an in-process kmslocal)")
	endpoint := flag.String("endpoint", "", "KMS endpoint URL (https, or http to loopback)")
	records := flag.Int("records", 20000, "records to encrypt")
	workers := flag.Int("workers", 16, "goroutines encrypting at once")
	flag.Parse()
	r, err := run(context.Background(), *keyID, *endpoint, *records, *workers)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("encrypted %d records in %v (%.0f records/s) on %d goroutines\n",
		r.Records, r.Elapsed.Round(time.Millisecond), float64(r.Records)/r.Elapsed.Seconds(), *workers)
	s := r.Stats
	fmt.Printf("cache: %d hits, %d misses, %d exhausted, %d expired; %d calls to the keyring\n",
		s.Hits, s.Misses, s.Exhausted, s.Expired, s.UnderlyingCalls)
	if r.KMSCalls != nil {
		fmt.Printf("kmslocal saw %d GenerateDataKey and %d Decrypt calls for %d records\n",
			r.KMSCalls["GenerateDataKey"], r.KMSCalls["Decrypt"], r.Records)
	}
}

// A result is what a run did.
type result struct {
	Records  int
	Elapsed  time.Duration
	Stats    keycache.Stats
	KMSCalls map[string]int64 // per operation; nil against AWS KMS
}

func run(ctx context.Context, keyID, endpoint string, records, workers int) (result, error) {
	enc, cmm, calls, err := newClient(ctx, keyID, endpoint)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	if err := encryptRecords(ctx, enc, records, workers); err != nil {
		return result{}, err
	}
	r := result{Records: records, Elapsed: time.Since(start), Stats: cmm.Stats()}
	if calls != nil {
		r.KMSCalls = calls()
	}
	return r, nil
}

// newClient returns a Client whose data keys come from KMS through a
// caching materials manager, and the manager, for its statistics.
func newClient(ctx context.Context, keyID, endpoint string) (*envelope.Client, *keycache.Manager, func() map[string]int64, error) {
	client, keyID, calls, err := kmsClient(ctx, keyID, endpoint)
	if err != nil {
		return nil, nil, nil, err
	}
	kr, err := kms.New(client, keyID)
	if err != nil {
		return nil, nil, nil, err
	}

	// One cache per process; one manager per trust boundary (partition).
	cache, err := keycache.NewCache(1000)
	if err != nil {
		return nil, nil, nil, err
	}
	cmm, err := keycache.NewWithKeyring(kr, cache, keycache.Options{
		MaxAge:      5 * time.Minute, // a key policy change takes effect within 5 minutes
		MaxMessages: 1000,            // one CloudTrail GenerateDataKey per 1,000 records
		MaxBytes:    64 << 20,
		Partition:   "lab-results",
	})
	if err != nil {
		return nil, nil, nil, err
	}
	enc, err := envelope.NewWithMaterialsManager(cmm, envelope.WithSuite(envelope.AES256GCMHKDFSHA512Commit))
	if err != nil {
		return nil, nil, nil, err
	}
	return enc, cmm, calls, nil
}

// encryptRecords is the service: records from many tenants, encrypted
// concurrently by workers goroutines. The tenant goes in the encryption
// context, so data keys are per tenant.
func encryptRecords(ctx context.Context, enc *envelope.Client, records, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(records) {
					return
				}
				if err := encryptRecord(ctx, enc, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// encryptRecord encrypts record i, and checks a round trip of every
// 5,000th.
func encryptRecord(ctx context.Context, enc *envelope.Client, i int64) error {
	ec := map[string]string{"tenant": fmt.Sprintf("clinic-%d", i%4), "kind": "lab-result"}
	record := fmt.Appendf(nil, `{"patient":"P%06d","test":"HbA1c","value":5.%d}`, i, i%10)
	ct, err := enc.Encrypt(ctx, record, ec)
	if err != nil || i%5000 != 0 {
		return err
	}
	pt, _, err := enc.Decrypt(ctx, ct, envelope.WithExpectedContext(ec))
	if err == nil && !bytes.Equal(pt, record) {
		err = fmt.Errorf("record %d: round trip differs", i)
	}
	return err
}

// kmsClient returns a KMS client and key: AWS KMS through the default
// credential chain when keyID is set, else an in-process kmslocal with a
// new key, whose call counts calls returns.
func kmsClient(ctx context.Context, keyID, endpoint string) (*awskms.Client, string, func() map[string]int64, error) {
	if keyID != "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, "", nil, err
		}
		c, err := kms.NewClient(ctx, cfg, endpoint)
		return c, keyID, nil, err
	}
	srv, err := kmslocal.New(kmslocal.Options{})
	if err != nil {
		return nil, "", nil, err
	}
	key, err := srv.CreateKey(ctx, kmslocal.KeyOptions{Description: "cachedkms example"})
	if err != nil {
		return nil, "", nil, err
	}
	ts := httptest.NewServer(srv) // 127.0.0.1; lives as long as the process
	c := awskms.New(awskms.Options{
		Region: srv.Region(),
		// kmslocal accepts any credentials; these are placeholders.
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "kmslocal", ""),
		BaseEndpoint: &ts.URL,
	})
	return c, key.ARN, srv.Counts, nil
}
