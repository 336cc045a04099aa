// Package batch is the engine of bulk jobs: where inputs come from (a local
// tree, stdin, an S3 prefix) and outputs go, which keys are used, how outputs
// become visible, resuming, sharding, the header scan and the audit log. The
// s3crypt command (cmd/s3crypt, which only maps flags onto it and prints),
// the S3 Batch Operations Lambda handler and Go programs all call it. Flag
// names below are s3crypt's; each has its field in Options.
//
// # Inputs and outputs
//
// A location is a local path, "-" (stdin or stdout) or s3://bucket/prefix.
// A file, an object and stdin are single inputs; a directory or a prefix is a
// tree, listed as the work goes (see Listing), and mirrored below the destination
// with Options.Suffix (--suffix, default ".enc") added on encrypt and removed
// on decrypt (a decrypted tree holds only the names with the suffix; the
// others are skipped, each named in Summary.Skips). Every output is one AWS Encryption SDK message,
// byte for byte the format of package envelope; nothing is added to it.
//
// Names in a tree come from whoever wrote the tree or the bucket, so:
//   - Every local read of a source directory and every local write below a
//     destination goes through an os.Root opened on it: no name and no
//     symbolic link takes a read or a write out of it.
//   - A relative name that is not plain (a ".." or "." segment, an empty
//     segment as in "a//b", an absolute path, a NUL byte, or anything
//     filepath.IsLocal refuses) fails that input with ErrUnsafeName, for
//     local and S3 destinations alike; of two inputs whose outputs would
//     be one local file (on macOS and Windows, names differing only in
//     case too), or one S3 object (a manifest naming a key twice, or in
//     two buckets), the later in listing order fails with ErrSameOutput
//     and the earlier, which may be written already, stands. The rest of
//     the batch goes on.
//   - A local source is walked at most 256 directories deep (each
//     directory is opened from the root, one name at a time): a deeper one
//     fails the listing with ErrTreeTooDeep. --skip-existing looks for an
//     output through the destination's root, as it would be written: a
//     link leading out of it fails the input.
//   - A symbolic link in a source directory is followed when its target is
//     inside the directory (relative or absolute link alike); a link
//     leading out of it is skipped with a notice on stderr unless
//     --follow-symlinks is given. Links to directories are never walked.
//     In a destination, a link where an output goes counts as an existing
//     output (dangling or not): refused without --overwrite, replaced
//     (the link itself, never what it points to) with it.
//   - Strings from inputs (file names, object keys, context keys and
//     values, key names, error texts built from them) are quoted Go-style
//     on the terminal and in the text summary, cut to 1 KiB; JSON output
//     escapes them.
//
// Invariants:
//   - An input is never written to, and an output is never the input.
//   - A local output is written, mode 0600, to a temporary file in its
//     target's directory, fsync'd, and linked (or, with --overwrite, linked
//     to a temporary name and renamed) into place; on any failure or
//     interrupt the temporary file is removed. On Linux the temporary file
//     is unnamed (O_TMPFILE) until it is linked, so even SIGKILL leaves no
//     unverified plaintext behind. Elsewhere, or where the file system
//     refuses O_TMPFILE, it is named ".NAME.s3crypt-p<PID>-<N>.tmp"; a later
//     run writing into that directory removes such files whose process has
//     ended and that predate the run, with a notice — but for a directory
//     written into itself, whose files so named are inputs: they are
//     skipped, neither read nor removed. An output of that form fails with
//     ErrReservedName.
//   - Local source and destination are compared with every symbolic link
//     resolved: a destination inside the source tree, or a source inside
//     the destination tree (where the output of src/x could be the input
//     x.enc), is refused with ErrUsage. A directory written into itself
//     (also through a link) skips, on encrypt, the names that end in the
//     suffix and, on decrypt, those whose output would end in it (another
//     input's name).
//   - Local outputs are committed in groups: those finished while a group
//     is being made durable form the next. A group's data is synced first
//     (syncfs(2) of the destination's file system for a group of several
//     on Linux 5.8 or later, and an fsync of each output on another file
//     system, below a mount point in the destination; else an fsync per
//     file; a failure fails the
//     whole group and names none of it), then each output is linked or renamed into place, then
//     the parent of each directory the run created is fsync'd, and each
//     directory holding an output once; the next group's data
//     syncs meanwhile. Only then is an output reported done and its audit
//     line written. Up to 128 outputs may wait for their group beyond
//     --concurrency files being processed; they hold one open file
//     descriptor each (their input is closed, their directory's shared),
//     not buffers. While a local output is written, the write-back of
//     every 8 MiB starts as soon as they are written (sync_file_range(2)
//     on Linux), and of the rest once the output joins its group, so the
//     group's sync finds the data mostly on its way to disk already; it
//     is still what makes the output durable.
//   - A local input of at most 1 MiB going to a local output is read
//     whole and encrypted or decrypted in one call (envelope's
//     EncryptAppend or DecryptAppend) through buffers the run reuses,
//     cleared of plaintext after each file, and written with one write; a
//     larger one streams. Either way the output is the same message, and
//     decrypt refuses the same inputs (--max-frame-length included). An
//     input whose size or modification time changes while it is read, or
//     whose size differs from the listing's, fails with ErrInputChanged
//     and writes nothing, small or streamed; so does one that is no
//     longer a regular file when it is opened (opened non-blocking: a
//     FIFO put in its place cannot stall the run).
//   - On decrypt nothing is committed before the whole message verified,
//     the signature included: a local output stays temporary, stdout and
//     plaintext S3 uploads are fed from an unlinked spool file only after
//     verification.
//   - S3 objects appear only whole: s3crypt.Put aborts its multipart upload
//     on failure, and plaintext uploads are aborted likewise.
//
// # Listing
//
// The listing streams into the workers: an S3 prefix is listed one
// ListObjectsV2 page (1,000 keys) at a time and a directory walked in
// lexical order (each directory's entries are read whole, to sort them);
// each name goes through the filters and --shard as it is listed, and
// the shard's inputs wait in a queue of at most 1,000 from which the
// workers take them in listing order. Work thus starts with the first page,
// and memory does not grow with the number of inputs but for one set: for
// a tree written to a local destination, or a manifest to an S3 one, a
// 64-bit hash (seeded anew each run) of each output, 8 to 16 bytes an
// input (16 MB for a million), to find inputs sharing an output
// (ErrSameOutput). Two distinct names
// whose hashes collide (odds about n²/2⁶⁵: 1 in 37 million for a million
// inputs) fail the later input too; a rerun, seeded anew, does not.
// Measured (scripts/bench-listing.sh): listing 1,000,000 objects from a
// local S3 server peaks at 67 MiB of RSS under --shard 0/100000 into a
// local directory, 21 MiB when --include keeps no name (no output hash is
// kept).
//
// Whether SRC is a single input or a tree, and so whether it may be
// written to stdout, is decided before anything is listed. A Progress
// hears of inputs as they are listed (Listed) and when the listing ends
// (ListingDone); totals exist only from then on. A Summary names the
// first 1,000 failures (MaxFailures), sorted by input, and counts the
// rest in FailuresOmitted; the audit log has a line for each input run.
// It also names the first 1,000 inputs skipped for a reason other than the
// filters (Skips; the rest in SkipsOmitted) and counts the names the
// filters refused (Filtered, also in Skipped). A tree that listed names of
// which the filters and the suffix kept none fails with ErrNothingMatched;
// an empty tree does not.
// On an interrupt the listing stops at once, and the inputs listed but
// not started count as failed, "not started". A listing that fails
// midway (an S3 error) ends the run once the inputs listed before it are
// done, and Run returns the listing's error.
//
// # Filters
//
// Options.Filters (--include, --exclude) choose the names below a tree's
// root as aws s3 cp and sync do: every name starts included, each filter
// whose glob matches it includes or excludes it, in the order given, and
// the last match wins. A glob matches the whole slash-separated relative
// path with Python's fnmatch rules, which aws s3 uses: "*" matches any
// characters, "/" included, "?" one, "[seq]" and "[!seq]" one in or not in
// seq; there is no escape character. So "--exclude '*' --include '*.csv'"
// keeps the CSV files at any depth, and an --include before any --exclude
// changes nothing. On decrypt the filters see the input names, suffix
// included. The older Options.Include and Exclude (path.Match, a glob
// without "/" matching base names; kept when some include and no exclude
// matches) still apply, and with Filters both must keep a name.
//
// # Dry runs
//
// Options.DryRun (--dryrun) lists, filters, shards, maps and (with
// --skip-existing) checks every input as the run would, and prints one
// line each, "(dryrun) encrypt: IN to OUT", "(dryrun) skip: …" or
// "(dryrun) would fail: …", instead of processing it: no key is loaded (no
// KMS request), nothing is written, and no audit line is appended.
// Options.DryRunFunc, if set, receives each input's Record instead of its
// line (s3crypt --dryrun --json prints one JSON object each).
//
// # Resuming and sharding
//
// --skip-existing skips an input whose output exists and is complete, and
// counts it as skipped: a local output that exists as a regular file (local
// outputs only ever appear whole), an S3 object that exists and, on encrypt,
// carries the phicrypt-format metadata s3crypt.Put writes (and the chosen
// suite in phicrypt-suite), so a plaintext object under an output's name is
// still refused as "output exists". A rerun after a crash, even SIGKILL,
// thus writes each output exactly once. A skipped input writes no audit
// line (the run that wrote its output did). It excludes --overwrite. On S3
// the check and the upload are not atomic: two runs writing one prefix at
// once may both write an output.
//
// --shard I/N (0 ≤ I < N) keeps the inputs whose name below the source
// (the relative path or key, before any output name is made) hashes, by
// FNV-1a 64 mod N, to I; N processes given the same source and N each take
// a disjoint share and together cover every input exactly once. The others'
// inputs are not counted, not even as skipped. --shard auto/N takes I from
// JOB_COMPLETION_INDEX, which a Kubernetes Indexed Job sets in each pod
// (examples/k8s/indexed-job.yaml); unset, it is a usage error. Combined
// with --skip-existing, a retried shard resumes where it stopped.
//
// # Manifests
//
// Options.Manifest (s3crypt --manifest) names the inputs instead of SRC: an
// S3 Batch Operations CSV or an S3 Inventory manifest.json with its gzip
// CSV data files (package manifest; formats and limits there), read from a
// local file or an s3:// object as it streams. Each row is an S3 object
// (its version, when the row names one) whose name below the source is its
// key, so outputs go to DST/KEY(.enc): a key that is not a plain relative
// path fails by name, as in a listing. Shards, filters and --skip-existing
// apply as to a listing. A malformed row stops the listing with a
// *manifest.Error naming its line; the inputs before it are processed.
//
// # Keys
//
// --key aes:FILE is a raw AES keyring (16, 24 or 32 raw bytes; s3crypt keygen
// writes 32) with namespace "phicrypt" and the file's base name as key name;
// rsa:FILE.pem a raw RSA keyring (OAEP-SHA256) named rsa-<first 8 bytes of the
// SHA-256 of the public key's SPKI, hex>; "FILE#NAME" sets another name.
// Other SDKs read these messages with a raw keyring of the same namespace and
// name. arn:…, alias/… and kms:ID are AWS KMS keys. Several keys make a
// multi-keyring whose first key generates the data key.
//
// Keys.KMSRequests and Summary.KMSRequests count the requests the KMS
// clients send. s3crypt turns on the data key cache for runs with a KMS key
// (DefaultCacheMaxAge, DefaultCacheMaxMessages) unless --cache-max-age is
// given; a Go caller sets KeyOptions.CacheMaxAge itself.
//
// AWS configuration comes from the default chain (LoadAWSConfig), or from
// KeyOptions.Config. When a client's endpoint is on loopback (the flag,
// else AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL), EC2 instance
// metadata is not asked for credentials: a local server takes any, and a
// missing credential fails at once with the fix, with no IMDS warning.
// KeyOptions.FIPS and S3Options.FIPS (--fips) use the AWS FIPS endpoints
// (kms-fips.REGION.amazonaws.com, s3-fips.REGION.amazonaws.com); an
// explicit endpoint, from a flag or the AWS configuration, must then be a
// FIPS one or on loopback, else ErrFIPSEndpoint (wrapping ErrUsage).
//
// # Re-encryption
//
// Reencrypt opens each input with DecryptKeys (default: Keys) and streams
// its plaintext straight into a new message under Keys, with the input's
// encryption context (less the aws-crypto- pairs) unless Context is set.
// The output keeps the input's name and is committed like any other: only
// once the input reached its end, verified, signature included. SRC = DST
// is refused but with InPlace, for an s3:// location in a bucket with
// versioning enabled (GetBucketVersioning, checked before anything is
// listed), where each output is a new version over its input.
//
// --max-encrypted-data-keys (default 10, s3crypt.DefaultMaxEncryptedDataKeys;
// 0: no limit) refuses messages with more data keys as their header is
// parsed: each would be a key attempt, a KMS call for a KMS key.
//
// # Scan
//
// Scan (s3crypt scan SRC) classifies every input under a file, directory,
// "-" or s3:// prefix from its first bytes alone, without any key: an AWS
// Encryption SDK message (suite, data key providers and names, context
// keys, frame length), an S3 Encryption Client object (by its x-amz-key or
// x-amz-key-v2 and x-amz-iv metadata; x-amz-wrap-alg, x-amz-cek-alg and a
// JSON x-amz-matdesc are shown), or not encrypted (the header does not
// parse). Nothing is authenticated: a header or metadata says what its
// writer claimed. --require-key (a KMS key ARN or provider/name;
// repeatable, any one suffices) and --require-context k=v (repeatable, all
// must hold) flag encrypted inputs that fail them; for an S3 Encryption
// Client object the key is x-amz-matdesc's kms_cmk_id and the context is
// x-amz-matdesc. Inputs not encrypted are always flagged, and the exit
// status is 1 when anything is flagged, so a pipeline can gate on it.
//
// Limits: an S3 object is read with one ranged GET of its first 64 KiB, and
// one of its first 256 KiB when the header needs more; a local file for at
// most 256 KiB. A header longer than 256 KiB, or claiming more data keys
// than --max-encrypted-data-keys (default 10, counted before any key is
// parsed), is reported "malformed" and flagged. Inputs are read 16 at a
// time (--concurrency) as the listing streams, results printed in listing
// order.
//
// # Audit log
//
// --metadata-output appends one JSON object per input and a newline:
//
//	{"prev":"<64 hex>","time":"…","op":"encrypt","input":"…","output":"…",
//	 "message_id":"<hex>","suite":"0x0578","keys":["aws-kms arn:…"],
//	 "context_keys":["tenant"],"bytes_in":N,"bytes_out":N,"duration_ms":F,
//	 "result":"ok"|"failed"|"interrupted","error":"…"}
//
// and chains the lines:
//
//	line 1:    prev = "000…0" (64 zeros)
//	line n>1:  prev = hex(SHA-256(bytes of line n-1, newline excluded))
//
// so an edited line breaks the next line's prev and a deleted one the line
// after the gap; VerifyLog names the first line that does not verify. The
// chain alone is unkeyed: whoever can write the file can recompute it. With
// --audit-key (kms-hmac:KEY, kms-sign:KEY, hmac:FILE or ed25519:FILE) a
// signed digest line follows every --digest-every lines (default 1000) and
// ends every run, and --audit-head FILE|s3://bucket/key receives a copy of
// each digest; verify-log --audit-key checks every signature and refuses
// lines after the last digest, and --expect-digest checks the log still
// holds the copied digest, so a cut tail is detected. The format and
// exactly what is and is not detectable are in package auditlog. Appending
// verifies the existing log first and refuses a broken one (and, with a
// key, one with unsigned lines; without one, a signed log); the file is
// locked while a run appends. Each line is on disk before its input is
// reported done; the lines workers write while a sync of the log runs
// share the next one, so a run costs about one sync per group of outputs
// committed, not one per line. Context values, key material and plaintext
// never appear in the log.
package batch
