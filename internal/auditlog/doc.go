// Package auditlog writes and verifies the s3crypt audit log: JSON lines in
// a SHA-256 hash chain, with digest lines signed by a key the writer of the
// file does not hold, after the model of CloudTrail log file validation.
//
// # Format
//
// Every line is one JSON object and a newline, at most MaxLine (1 MiB)
// bytes. Its "prev" field chains it to the line before:
//
//	line 1:    prev = "000…0" (64 zeros)
//	line n>1:  prev = hex(SHA-256(bytes of line n-1, newline excluded))
//
// A record line has no "type" field. A digest line is
//
//	{"prev":"<64 hex>","type":"digest","time":"<RFC 3339>","lines":N,
//	 "prev_digest":"<64 hex>","key":"<signer id>","alg":"<algorithm>",
//	 "sig":"<base64>"}
//
// where lines is the number of lines before it, prev_digest the SHA-256 of
// the previous digest line (64 zeros for the first), and sig signs
//
//	"phicrypt audit digest v1\nlines N\nhead <prev>\nprev_digest <…>\n" +
//	"time <time>\nkey <key>\nalg <alg>\n"
//
// Since prev is the head of the hash chain, a digest vouches for every line
// before it. Signers (Signer): a KMS HMAC_256 key (GenerateMac, alg
// HMAC_SHA_256), a KMS ECC_NIST_P256 key (Sign with ECDSA_SHA_256 over the
// message's SHA-256 as MessageType DIGEST), a local HMAC-SHA256 key of at
// least 32 bytes, or a local Ed25519 key (verifiable with the public key
// alone). The key field names the key and is not trusted: the verifier
// gives the key.
//
// A Writer with a Signer appends a digest every DigestEvery lines
// (DefaultDigestEvery, 1000) and at Close, so a finished run always ends
// with one, and copies each digest line to a HeadStore (the "second
// place": a file, or an S3 object in package cli). Resume refuses to
// append to a log that does not verify; with a Signer, to one with lines
// after its last digest (they would be vouched for unseen); without one, to
// a signed log; and with a HeadStore that holds a digest, to a log that
// does not hold it.
//
// Verify checks the chain and every digest's line count and link, and with
// a Signer its signature; it names the first bad line (ChainError), or the
// first digest that does not verify and the lines it covers (DigestError).
// Lines after the last verified digest are reported (Result.Unverified,
// CheckSigned), never passed as signed; a log without digests, as written
// before digests existed or without a key, is all unverified. With Expect
// (the second-place copy), the log must hold that digest line at its
// place, byte for byte.
//
// # What is and is not detectable
//
// With the signing key's verifier, Verify detects:
//   - any edit, deletion, insertion or reordering of lines before the last
//     digest, whether or not the attacker recomputes the hash chain: the
//     chain breaks, or the digest after the change does not verify (the
//     error names that digest and the lines since the previous one; which
//     of them changed is not known, DigestEvery bounds the range);
//   - the deletion, edit or insertion of a digest line (line counts and
//     prev_digest links);
//   - lines cut from the end, the last digest included, when checked
//     against the second-place copy of the latest digest (Expect);
//   - a log or second-place copy signed with another key.
//
// It does not detect:
//   - changes to lines after the last digest (a run killed before its
//     final digest, or lines appended later) unless checked against the
//     expected digest: they are reported as unverified, never as signed;
//   - forgery by anyone who can sign with the key: holding the local key
//     file, or the KMS permission kms:GenerateMac or kms:Sign on the key
//     (the writing program has it, so whoever controls that program's
//     credentials can rewrite the log and re-sign it);
//   - replacing both the log and its second-place copy together, by someone
//     with that signing permission; without it, a replaced copy fails its
//     signature check. The second place must not be writable by whoever can
//     write the log (e.g. an S3 object under versioning or Object Lock):
//     writing back an older genuine digest there, and cutting the log to
//     it, is not detected;
//   - a cut tail, without the second-place copy: the log then verifies as a
//     shorter, complete log;
//   - anything about lines the writer never wrote (a run that skipped the
//     log), or the truth of what a record claims.
package auditlog
