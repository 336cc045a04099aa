// Package keyring provides the local keyrings of the AWS Encryption SDK
// for package envelope: raw AES, raw RSA and multi. Each implements
// envelope.Keyring. AWS KMS keyrings are in package keyring/kms.
//
//	kr, err := keyring.NewRawAES("my-org", "records-key", key)
//	c, err := envelope.New(kr)
//
// # Encrypted data keys
//
// A raw keyring's key namespace is the provider ID of its encrypted data
// keys and its key name is in the provider info; a message names the key
// that wraps each data key, so a keyring of another namespace or name skips
// the data key. Namespaces starting "aws-kms" belong to AWS KMS.
// Integers are big-endian.
//
// Raw AES (NewRawAES), wrapping with AES-GCM under a 16, 24 or 32-byte key:
//
//	provider ID:   namespace
//	provider info: key name | tag length in bits (4) = 128 | IV length (4) = 12 | IV (12)
//	ciphertext:    AES-GCM(wrapping key, IV, data key, AAD = serialized context) | tag (16)
//
// The serialized context is the message's encryption context as the header
// writes it, so a data key unwraps only under the context it was wrapped
// for.
//
// Raw RSA (NewRawRSA):
//
//	provider ID:   namespace
//	provider info: key name
//	ciphertext:    RSA(data key) under the padding scheme; the context is not bound
//
// The padding (RSAPadding) is not in the message: reader and writer agree
// on it out of band. OAEP uses the same hash for MGF1 and an empty label.
//
// A multi-keyring (NewMulti) writes no format of its own: its generator
// makes the data key and every keyring adds its own encrypted data keys.
//
// # Guarantees
//
// Raw RSA keyrings unwrap PKCS #1 v1.5 data keys with implicit rejection: a
// bad padding yields a random key that then fails the key commitment or
// header tag, exactly as a wrong key does, so a padding oracle learns
// nothing. A keyring that finds no data key it can unwrap returns an
// *envelope.NoDecryptionKeyError naming each of its data keys that failed.
// The raw AES keyring keeps only its key schedule; the caller may zero the
// key it passed.
package keyring
