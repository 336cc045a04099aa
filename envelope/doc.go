// Package envelope encrypts and decrypts data in the AWS Encryption SDK
// message format, so that every official SDK (Java, Python, C, JavaScript,
// .NET, Go) reads what it writes and it reads theirs.
//
// A Client takes its data keys from a Keyring (raw AES, raw RSA and multi
// in package keyring, AWS KMS in package keyring/kms) through a
// MaterialsManager, and writes
// version 2 messages with a key-committing suite: 0x0578 (signed, the
// default) or 0x0478. It reads every suite and version 1 messages under
// its CommitmentPolicy.
//
// # Message
//
//	message = header | body | footer (signing suites only)
//
// Header, version 2 (version 1 differs as noted; integers big-endian):
//
//	version (1) = 02                     v1: 01, then type (1) = 80
//	suite ID (2)
//	message ID (32)                      v1: 16 bytes
//	context length (2) | context         empty context: length 0, nothing else
//	EDK count (2) | EDKs                 each: len (2) | provider ID | len (2) | provider info | len (2) | ciphertext
//	content type (1) = 02 framed         v1: 01 non-framed also read; then reserved (4) = 0, IV length (1) = 12
//	frame length (4)
//	commit key (32)                      v1: absent
//	                                     v1: header IV (12)
//	header auth tag (16)                 AES-GCM(key, IV 0, "", header body | required pairs)
//
// Context: count (2) | { key len (2) | key | value len (2) | value } with keys
// sorted bytewise, all UTF-8. Keys starting "aws-crypto-" belong to the SDK;
// "aws-crypto-public-key" holds the base64 compressed ECDSA point that
// verifies the footer.
//
// Key derivation (suite 0x0478/0x0578):
//
//	prk        = HKDF-Extract(SHA-512, salt = message ID, data key)
//	message key = HKDF-Expand(prk, suite ID | "DERIVEKEY", 32)
//	commit key = HKDF-Expand(prk, "COMMITKEY", 32), compared in constant time
//
// The body is framed AES-GCM under the message key; package stream owns
// its layout. The footer is signature length (2) | DER ECDSA signature of
// the SHA-384 (P-384) or SHA-256 (P-256) of header and body, hashed on a
// goroutine of its own while the frames are sealed or opened, so that a
// signed message costs about its hash alone.
//
// # Guarantees
//
// Decrypt returns plaintext only when every byte of the message verified.
// A DecryptReader returns plaintext frame by frame, each after its GCM tag
// verified, and withholds the final frame until the signature verified;
// see DecryptReader for what that means for signed messages. Every failure
// is a wrapped sentinel error (ErrAuthentication, ErrMalformedHeader, ...)
// and no input makes the package panic. Errors read as this package's
// ("envelope: frame 3: authentication failed"), the frame codec's too;
// the sentinels shared with package stream are its values, so errors.Is
// holds against either.
//
// A message's encrypted data keys are unlimited by default, as in the
// official SDKs; WithMaxEncryptedDataKeys refuses a header with more as it
// is parsed, before any keyring call. Whatever their number, a
// NoDecryptionKeyError prints at most 8 reasons of at most 256 bytes each.
//
// Options are typed by the calls they apply to: Encrypt and
// NewEncryptWriter take EncryptOptions, the decrypt calls DecryptOptions,
// and CommonOptions (WithCommitmentPolicy, WithMaxEncryptedDataKeys,
// WithFrameWorkers) are both, so WithSuite given to Decrypt does not
// compile. New and Client.With take any option as a default for the calls
// it applies to. Two decrypt options fit only some decrypt calls and fail
// the others with ErrInvalidOption: WithMaxFrameLength (not Decrypt, which
// holds the whole message already) and WithMaxNonFramedLength (not
// NewDecryptReaderAt, which reads only framed messages).
//
// # Re-encryption
//
// Client.Reencrypt rewrites a message under another Client's keys in one
// streaming pass (DecryptReader into EncryptWriter), re-encrypting the
// whole body: a new header over the old message key would reuse the v2
// header's fixed GCM IV. The new message keeps the old context less the
// "aws-crypto-" pairs unless the caller gives one; its final frame and
// footer are written only once the old message verified whole, so a
// failed Reencrypt leaves no complete message in its destination.
//
// # Limits
//
// A frame is authenticated whole, so a streaming reader buffers whole
// frames: DecryptReader and DecryptReaderAt refuse a frame length above
// DefaultMaxFrameLength (16 MiB) with ErrFrameTooLong, and memory grows
// only with the bytes a frame actually delivers, never with its declared
// length; WithMaxFrameLength changes the limit. Legacy non-framed bodies
// are buffered up to 64 MiB (WithMaxNonFramedLength). Decrypt holds the
// whole message already and applies neither.
//
// Data keys are zeroed once the message key is derived; derived key bytes
// once the AES key schedule holds them.
package envelope
