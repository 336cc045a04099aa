// Command s3crypt-lambda is an AWS Lambda function that S3 Batch Operations
// invokes (operation LambdaInvoke) to encrypt, decrypt or re-encrypt each
// object of a job's manifest with package batch, writing one AWS
// Encryption SDK message (or its plaintext) per object to a destination
// prefix. docs/lambda.md shows how to deploy it, create a job, and the
// IAM policies it needs. Build it for the provided.al2023 runtime as:
//
//	GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap ./cmd/s3crypt-lambda
//
// # Configuration
//
// Read once, at a cold start, from the environment:
//
//	PHICRYPT_OP                  encrypt (default), decrypt or reencrypt
//	PHICRYPT_KEY                 key specs, comma-separated, as s3crypt --key: aes:FILE,
//	                             rsa:FILE.pem, arn:aws:kms:…, alias/NAME; the first makes the data key
//	PHICRYPT_DECRYPT_KEY         reencrypt: the keys that open the inputs (default PHICRYPT_KEY)
//	PHICRYPT_DESTINATION         s3://bucket/prefix the outputs go below (required but in place)
//	PHICRYPT_CONTEXT             k=v,… encryption context of every message written
//	PHICRYPT_EXPECT_CONTEXT      k=v,… pairs every input must carry (decrypt, reencrypt)
//	PHICRYPT_ALLOW_OPS           ops a job's "op" argument may choose besides PHICRYPT_OP
//	PHICRYPT_ALLOW_DESTINATIONS  s3://bucket/prefix,… a job's "destination" must lie under
//	                             (default PHICRYPT_DESTINATION)
//	PHICRYPT_IN_PLACE            true: reencrypt writes each output over its input as a new
//	                             version (versioned buckets only; no PHICRYPT_DESTINATION)
//	PHICRYPT_OVERWRITE           true: replace existing outputs (default: skip complete ones)
//	PHICRYPT_CACHE_MAX_AGE       data key cache entry lifetime (default 5m; 0 turns it off)
//	PHICRYPT_CACHE_MAX_MESSAGES  messages per cached data key (default 1000)
//	PHICRYPT_CACHE_MAX_BYTES     bytes per cached data key (default 0: no limit)
//	PHICRYPT_MAX_ENCRYPTED_DATA_KEYS  data keys a message may carry (default 10; 0: no limit)
//	PHICRYPT_CONCURRENCY         frame workers and S3 parts in flight (default: per CPU)
//	PHICRYPT_DEADLINE_MARGIN     stop a task this long before the invocation's deadline (default 3s)
//	PHICRYPT_KMS_ENDPOINT_URL, PHICRYPT_S3_ENDPOINT_URL  other endpoints (https, or http to loopback)
//	PHICRYPT_FIPS                true: FIPS 140-3, the AWS FIPS endpoints of KMS and S3; needs
//	                             GODEBUG=fips140=on, and an endpoint above to be a FIPS one or loopback
//
// Credentials and the region come from the function's role, as for any
// AWS SDK program. A configuration that does not parse, or keys that do
// not load, fail the cold start: every invocation then fails and S3
// Batch Operations reports it, rather than tasks succeeding wrongly.
//
// # Jobs
//
// Invocation schemas 1.0 (s3BucketArn) and 2.0 (s3Bucket, userArguments)
// are read. Task keys are URL-encoded, as in the job's manifest, and are
// decoded as a form value ("%XX", and "+" for a space; a literal "+" is
// "%2B"); a key that does not decode, is empty, ends in "/" or is longer
// than 1024 bytes fails its task. s3VersionId, when given, is the version
// read. A prefix is a folder ("s3://b/p" is "s3://b/p/"), and an input's
// output is the destination prefix joined to its whole key, with ".enc" added on encrypt, removed on decrypt (".dec" added to a
// name without it), and the same name on reencrypt.
//
// A schema 2.0 job may give the user arguments "op", "destination" and
// "context" (k=v,…, added to PHICRYPT_CONTEXT, whose pairs it cannot
// change); any other argument fails every task. Keys are never among them:
// whoever may create a job must not be able to have objects encrypted to,
// or opened with, a key of their choosing. The environment bounds what
// the arguments can choose (PHICRYPT_ALLOW_OPS, PHICRYPT_ALLOW_DESTINATIONS).
//
// # Results
//
//	Succeeded         the output was written, or (without PHICRYPT_OVERWRITE) it
//	                  exists and is complete: a retried task does not write twice
//	TemporaryFailure  the invocation's deadline (less the margin) came first, or S3 or
//	                  KMS throttled, answered 5xx or 429, timed out or dropped the
//	                  connection: S3 Batch Operations retries the task
//	PermanentFailure  everything else: a tampered or truncated message, no key that
//	                  opens it, a missing object, bad user arguments, an existing output
//
// resultString names the output, or the error: at most 1000 bytes, not
// printable characters escaped, and never key material nor plaintext.
// Unknown tasks are treated as PermanentFailure (treatMissingKeysAs).
//
// # Resources
//
// The handler, its keys, its data key cache and its S3 client are made
// once per cold start and serve every invocation of a warm function, so a
// job's objects share data keys (PHICRYPT_CACHE_*) instead of one KMS call
// each. Decrypting spools each plaintext to an unlinked file in the
// function's /tmp until the message verified: give the function ephemeral
// storage for the largest object. Encrypting streams.
package main
