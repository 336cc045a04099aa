// Package kmslocal is a KMS-compatible server for development and tests.
//
// It is NOT a secure KMS. Key material is held in memory and stored in
// plaintext on disk (Options.DataDir, Options.SeedFile); requests are not
// authenticated (SigV4 signatures are accepted unchecked, any credentials
// work). Bind it to loopback only and never put real data under its keys.
//
// A *Server is an http.Handler speaking the awsJson1_1 protocol of the
// stock aws-sdk-go-v2 KMS client (POST, X-Amz-Target: TrentService.<Op>):
// point the client's BaseEndpoint at it. Supported operations: CreateKey,
// CreateAlias, DescribeKey, ListKeys, ListAliases, DisableKey, EnableKey,
// GetKeyPolicy, PutKeyPolicy and ListKeyPolicies for every key;
// GenerateDataKey, GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt,
// ReEncrypt, GetKeyRotationStatus, EnableKeyRotation and DisableKeyRotation
// for symmetric (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) keys; GenerateMac and
// VerifyMac (HMAC_SHA_256) for HMAC_256 keys of usage GENERATE_VERIFY_MAC;
// Sign, Verify (ECDSA_SHA_256, MessageType RAW or a 32-byte DIGEST,
// messages of 1 to 4096 bytes, DER signatures) and GetPublicKey for
// ECC_NIST_P256 keys of usage SIGN_VERIFY. CreateKey makes any of the three
// (KeyUsage must be the spec's). A key used for another usage fails with
// InvalidKeyUsageException, the rotation operations on HMAC and ECC keys
// with UnsupportedOperationException (KMS rotates only symmetric keys); a
// MAC or signature that does not verify with KMSInvalidMacException or
// KMSInvalidSignatureException. Other targets fail with
// UnsupportedOperationException. Keys are named by key id, key ARN, alias
// name or alias ARN; responses name keys by ARN. Grant tokens are ignored,
// pagination returns everything at once, and EnableKeyRotation records the
// setting (period 90 to 2560 days, default 365) without rotating material.
//
// # Key policies
//
// A key created without a policy has KMS's default key policy: one
// statement, "Enable IAM User Permissions", allowing kms:* to
// arn:aws:iam::ACCOUNT:root. The only policy name is "default" (others
// fail with NotFoundException). PutKeyPolicy and CreateKey's Policy take a
// policy of at most 32 KiB (LimitExceededException beyond, which the SDK
// retries as throttling) of tab, LF, CR and U+0020..U+00FF
// (ValidationException otherwise) that is a JSON object whose Statement is
// a statement or a non-empty list, each with Effect "Allow" or "Deny" and a
// Principal (MalformedPolicyDocumentException otherwise). Policies are
// stored and returned verbatim, never enforced: kmslocal authenticates no
// one, so there is no lockout safety check.
//
// # Serving
//
// Server.ServeHTTP reads at most 1 MiB of request body. Server.HTTPServer
// adds what a listening service needs, as cmd/kmslocal uses it:
//
//   - DefaultLimits: 5 s to send the request headers (64 KiB at most), 30 s
//     for the whole request and for the response, 60 s idle between
//     requests, so clients that send half a request or go quiet cannot hold
//     connections open.
//   - The Host rule (Server.Handler): a request whose Host header does not
//     name the listening address (ListenHosts: 127.0.0.1:PORT,
//     localhost:PORT or [::1]:PORT on loopback, every interface's address
//     when bound to 0.0.0.0 or ::) or an allowed extra host is refused with
//     421 Misdirected Request and an AccessDeniedException. A web page
//     reaching the server through DNS rebinding sends its own host name.
//
// The bare handler (New's *Server) has no Host rule; wrap it with Handler
// when serving it yourself, as kmstest.Start does.
//
// # Ciphertext blob
//
// CiphertextBlob values are
//
//	 0         1         2            2+n              2+n+12
//	+---------+---------+------------+----------------+---------------------------+
//	| version | n       | key id     | nonce          | AES-256-GCM ciphertext    |
//	| 0x01    | 1..255  | n bytes    | 12 bytes       | ‖ 16-byte tag             |
//	+---------+---------+------------+----------------+---------------------------+
//
// The key id is ASCII [A-Za-z0-9_-] and names the key, so Decrypt needs no
// KeyId. The GCM key is the key's 32-byte material; the additional data is
// the first 2+n bytes followed by the encryption context in canonical form:
//
//	u32 count ‖ for each pair, keys in ascending byte order:
//	    u32 len(key) ‖ key ‖ u32 len(value) ‖ value      (big-endian)
//
// so a wrong, missing or extra context, a truncated or altered blob, all
// fail with InvalidCiphertextException. An absent and an empty context are
// the same.
//
// # Files
//
// Options.SeedFile (see SeedFile) fixes key material and aliases, so
// ciphertexts stored as test fixtures keep decrypting:
//
//	{"region": "us-west-2", "account": "111122223333",
//	 "keys": [{"id": "1234abcd-12ab-34cd-56ef-1234567890ab",
//	           "material": "<base64 of 32 bytes>",
//	           "aliases": ["alias/phicrypt-test"],
//	           "enabled": true, "multiRegion": false, "description": "",
//	           "keySpec": "SYMMETRIC_DEFAULT", "policy": "<key policy JSON>"}]}
//
// Only id and material are required; keySpec may be HMAC_256 or
// ECC_NIST_P256 (material: the HMAC key, or the P-256 private scalar).
//
// Options.DataDir holds kmslocal-state.json (mode 0600, replaced atomically
// on every change) with all keys, their material, rotation settings and
// key policies, and aliases, so keys created through CreateKey survive a
// restart. Server.EnsureKey creates a key for an alias only when the alias
// does not exist yet, as cmd/kmslocal's --key does on every start.
package kmslocal
