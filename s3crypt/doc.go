// Package s3crypt stores S3 objects encrypted on the client, each object
// one AWS Encryption SDK message (package envelope), so that any official
// SDK can decrypt a downloaded object and the bucket holds only
// ciphertext.
//
// # Objects
//
// An object is the message, byte for byte; nothing is added before or
// after it. A Put of more than one part is a multipart upload whose parts
// hold whole frames: with R = frame length + 32 and m = ⌈part size / R⌉,
//
//	part 1:      header | frames 1..m
//	part k > 1:  frames (k-1)m+1 .. km            (m·R bytes)
//	last part:   remaining frames | final frame | footer (signed suites)
//
// so each part can be sealed, uploaded and retried on its own while the
// next frames are sealed. Parts are uploaded concurrently from a bounded
// pool of part buffers: memory is (part concurrency+1) × part size
// whatever the object size. A message of known length that fits one part
// is buffered at its length; one of unknown length in a buffer that
// doubles from 64 KiB. A Client's later Puts reuse its idle part buffers
// until the garbage collector frees them. A failed Put aborts its multipart upload, so no object and
// no parts remain.
//
// The object's user metadata (x-amz-meta-*) describes it for tools and
// humans: phicrypt-format ("aws-esdk-v2"), phicrypt-suite ("0x0478"),
// phicrypt-frame-length and, when known at upload, phicrypt-plaintext-length.
// It holds no key material and no encryption context values (the context
// may name a patient; it lives in the authenticated header and is sent to
// KMS) and is never trusted on read: the header is.
//
// # Reading
//
// Get streams the plaintext: the first part's GET tells the object's size
// and ETag, and its bytes are decrypted as they arrive (the header is
// authenticated while the rest of the part is still coming); later parts
// are fetched by concurrent ranged GETs ahead of the reader from that
// moment, all pinned to the first GET's ETag (If-Match), and fed in order
// to an envelope.DecryptReader. Open reads any plaintext range of an
// unsigned message: with H the header length and F the frame length,
// plaintext [off, end) lies in frames ⌊off/F⌋ .. ⌊(end-1)/F⌋, which are
// object bytes [H + ⌊off/F⌋·R, H + (⌊(end-1)/F⌋+1)·R), fetched by ranged
// GETs and authenticated frame by frame (envelope.DecryptReaderAt). Head
// parses the header from a ranged GET without decrypting anything.
//
// Get and Open buffer whole frames, each authenticated before any of its
// bytes is returned, so they refuse objects whose frame length exceeds
// envelope.DefaultMaxFrameLength (16 MiB) with envelope.ErrFrameTooLong;
// WithMaxFrameLength raises the limit.
//
// WithExpectedContext makes Get and Open refuse objects whose authenticated
// context lacks the caller's pairs: a service reading objects on behalf of
// a tenant cannot be made to decrypt another tenant's object.
//
// An object's header may carry at most DefaultMaxEncryptedDataKeys (10)
// encrypted data keys unless WithMaxEncryptedDataKeys says otherwise: Get
// and Open refuse more as the header is parsed, before any keyring call,
// since anyone who can write an object could otherwise make each read
// attempt up to 65,535 data keys (65,535 KMS calls).
//
// Errors start "s3crypt: " once and name the object
// ("s3crypt: bucket/key: frame 3: authentication failed"); they wrap the
// envelope package's errors and sentinels, so errors.Is(err,
// envelope.ErrAuthentication) holds.
//
// # Re-encryption
//
// Reencrypt rewrites an object under another Client's keys (key
// rotation): Get's plaintext streams into the other Client's Put, and the
// new object is committed only after the source verified whole, signature
// included; otherwise the upload is aborted and nothing is left at the
// destination. The new object keeps the source's context (less the
// "aws-crypto-" pairs), content type and user metadata unless the caller
// sets them. On a versioned bucket, rewriting an object in place adds a
// version: the old one, under the old key, stays until deleted.
//
// # Inputs
//
// Put, Get, Open and Head take the SDK's own inputs (*s3.PutObjectInput,
// *s3.GetObjectInput, *s3.HeadObjectInput), as s3's manager.Uploader
// does, so that whatever a bucket's policy asks for — SSE-KMS with a
// bucket key on top of the client-side encryption, SSE-C, tags, object
// lock, ACLs, ExpectedBucketOwner, RequestPayer, conditional writes —
// is asked as for PutObject and GetObject. Put's Body is the plaintext and
// ContentLength, if set, its length; every other field goes to each S3
// call that has it. Fields that would describe the plaintext's bytes to
// S3 (ContentMD5, Checksum* values), append to an object
// (WriteOffsetBytes), select ciphertext bytes (Range, PartNumber) or take
// phicrypt's metadata keys ("phicrypt-*") fail with
// envelope.ErrInvalidOption naming the field, before any S3 call.
//
// # Endpoints
//
// NewS3Client(cfg, optFns...) is s3.NewFromConfig with SecureEndpoint
// applied last, and refuses at once an endpoint that is neither https nor
// http to a loopback host, whatever its source (cfg.BaseEndpoint, an
// option function, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or endpoint_url
// in the shared config file), so credentials and objects never cross a
// network in the clear. SecureEndpoint, given last to s3.NewFromConfig,
// checks every request's final URL before it is dialed (per-call options
// and redirects included); New takes any client.
//
// Get and Open use ranged GETs, which carry no whole-object checksum: an
// *s3.Client with response checksum validation on (config.LoadDefaultConfig's
// default) logs "Response has no supported checksum" at DEBUG for each
// one. SecureEndpoint turns that off
// (s3.Options.DisableLogOutputChecksumValidationSkipped); set it on a client
// built otherwise. Frames are authenticated by the message itself.
package s3crypt
