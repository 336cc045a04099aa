// Package kms provides AWS KMS keyrings for package envelope: data
// keys are generated and wrapped by AWS Key Management Service, as in the
// AWS Encryption SDK (specification framework/aws-kms/aws-kms-keyring.md,
// aws-kms-discovery-keyring.md, aws-kms-mrk-keyring.md,
// aws-kms-mrk-discovery-keyring.md and aws-kms-key-arn.md).
//
// # Encrypted data keys
//
// Every AWS KMS encrypted data key in a message header is
//
//	+-------------+------------------------------------------------+---------------------+
//	| provider ID | provider info                                  | ciphertext          |
//	+-------------+------------------------------------------------+---------------------+
//	| "aws-kms"   | the key ARN from the KMS response, e.g.        | the KMS             |
//	|             | arn:aws:kms:us-west-2:111122223333:key/<id>    | CiphertextBlob      |
//	+-------------+------------------------------------------------+---------------------+
//
// The provider info is always the full key ARN from the KMS response, never
// the alias or key id the keyring was configured with. The ciphertext is
// opaque to this package (about 150-185 bytes from AWS KMS); KMS binds it
// to the key and to the encryption context.
//
// # Strict and discovery keyrings
//
// A strict keyring (New) names its keys. It encrypts with GenerateDataKey
// under the generator (or Encrypt, when another keyring already made the
// data key) and Encrypt under each additional key (WithAdditionalKeys). It
// decrypts only data keys whose provider info equals one of its
// identifiers, calling Decrypt with KeyId set to that identifier, so it
// never asks KMS to use a key it was not given. NewMRK is the MRK-aware
// variant: a multi-Region key ARN also matches its replicas' ARNs in other
// regions.
//
// A discovery keyring (NewDiscovery) names no key and cannot encrypt. It
// decrypts any "aws-kms" data key, calling Decrypt with the ARN from the
// provider info: which keys that reaches is decided by the message and the
// caller's IAM permissions. Give it a DiscoveryFilter (partition and
// accounts) to keep it to trusted accounts. NewMRKDiscovery is the
// MRK-aware variant, bound to its client's region: a multi-Region key is
// decrypted by its replica in that region, and other keys only if they are
// in that region.
//
// A provider info that is not a valid AWS KMS key ARN makes OnDecrypt fail
// before any KMS call. Failed attempts are collected in an
// *envelope.NoDecryptionKeyError whose errors name the key ARN and, for
// KMS errors (*Error, found with errors.As), the KMS error type such as DisabledException or
// InvalidCiphertextException; key material never appears in errors.
//
// # Encryption context and CloudTrail
//
// The message's whole encryption context, including aws-crypto-public-key
// for signing suites and the required pairs a required-context materials
// manager keeps out of the header, is sent to KMS as the EncryptionContext
// of every GenerateDataKey, Encrypt and Decrypt call. KMS authenticates it
// and AWS CloudTrail logs it in plaintext with each call: never put secrets
// in an encryption context.
//
// # Clients and endpoints
//
// The keyrings take a Client, satisfied by the *kms.Client of the AWS SDK
// (github.com/aws/aws-sdk-go-v2/service/kms; import it under another name,
// such as awskms, next to this package). Build it from the default
// credential chain (config.LoadDefaultConfig); this package holds no
// credentials. NewClient builds one for a custom endpoint after
// CheckEndpoint refuses plain http to anything but a loopback host.
package kms
