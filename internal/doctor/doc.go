// Package doctor checks, through the AWS APIs, the account side of the
// checklist phicrypt exists for (Storage, Transit, Keys, Audit) and
// samples a prefix for unencrypted objects (Client). It is the work of
// `s3crypt doctor`.
//
// Each check yields an Item: PASS when the API shows the line holds, FAIL
// when it shows it does not (with a Fix), UNKNOWN when the API cannot say
// (access denied, an operation the endpoint does not implement, or any
// other error: the item is unverified, not passed), INFO for what is
// reported but not required (object lock, encryption context conditions
// in the key policy). A "no such configuration" answer
// (NoSuchBucketPolicy, NoSuchPublicAccessBlockConfiguration,
// ServerSideEncryptionConfigurationNotFoundError) is a FAIL.
//
// What is checked:
//   - Storage: GetBucketEncryption is aws:kms (or aws:kms:dsse) with a key
//     other than aws/s3 whose DescribeKey KeyManager is CUSTOMER, and
//     BucketKeyEnabled; GetPublicAccessBlock has all four settings true
//     (bucket level; the account level is not read); GetBucketVersioning
//     is Enabled; GetObjectLockConfiguration (INFO); GetBucketLogging is
//     on, or a logging trail has data events for the bucket.
//   - Transit: the bucket policy has a Deny statement for principal "*"
//     whose Action covers s3:GetObject and s3:PutObject, whose Resource
//     covers every object, and whose only Condition is Bool (or
//     BoolIfExists) aws:SecureTransport "false"; a deny narrowed by
//     another condition does not count.
//   - Keys (--key, else the bucket's default key): DescribeKey KeyManager
//     CUSTOMER, Enabled, SYMMETRIC_DEFAULT and ENCRYPT_DECRYPT;
//     GetKeyRotationStatus; GetKeyPolicy has no Allow statement whose
//     principal is "*" (alone, as {"AWS":"*"}, or among others) with no
//     Condition; its kms:EncryptionContext conditions are listed (INFO).
//   - Audit: DescribeTrails (shadow trails included) finds a
//     multi-region trail that GetTrailStatus shows logging, preferring one
//     with log file validation and a KmsKeyId; GetEventSelectors, basic
//     or advanced, log read and write S3 data events for every object of
//     the bucket under --prefix. An advanced selector with a field other
//     than eventCategory, resources.type, resources.ARN and readOnly is
//     taken as not covering.
//   - Client: batch.Scan reads the header of at most Options.Sample
//     objects under s3://Bucket/Prefix (s3crypt's default 1000); any
//     object that is not encrypted is a FAIL. Whether the Go FIPS 140-3
//     module runs in FIPS mode (crypto/fips140) and whether each client
//     resolves AWS FIPS endpoints is reported (INFO).
//
// Limits: at most 50 trails are examined; policy documents over 1 MiB
// are not parsed (UNKNOWN); every string from a service or a policy is
// quoted and cut to 200 bytes in evidence, lists to 5 names.
package doctor
