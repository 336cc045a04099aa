// Package peers benchmarks phicrypt against peer libraries in one run, on
// the same payloads (1 KiB, 1 MiB, 64 MiB) and against the same raw
// AES-256-GCM baseline (bench/internal/benchutil), so that the ratio table
// of bench/cmd/report -peers compares like with like. It is a module of its
// own so that the library never depends on its peers.
//
//	BenchmarkRawGCM/{seal,open}/frame=64KiB/size=S   the baseline
//	BenchmarkPeers/LIB/{encrypt,decrypt}/size=S
//
// LIB, each with a fresh key, encrypting to and decrypting from memory:
//
//	phicrypt-stream-0478-wN    EncryptWriter/DecryptReader, suite 0x0478,
//	                           64 KiB frames, N workers (1 and all CPUs)
//	phicrypt-oneshot-0578      Encrypt/Decrypt, suite 0x0578 (the default),
//	                           64 KiB frames, all CPUs
//	esdk-go-0478, esdk-go-0578 the official AWS Encryption SDK for Go v0.4.0
//	                           (Dafny-generated) with an MPL raw AES keyring,
//	                           one-shot, 64 KiB frames
//	sio-dare2                  minio/sio v0.4.1, DARE 2.0 AES-256-GCM,
//	                           64 KiB packages, streaming
//	age-x25519                 filippo.io/age v1.3.2, X25519 recipient,
//	                           ChaCha20-Poly1305 in 64 KiB chunks, streaming
//	tink-gcmhkdf-1mb           tink-go v2.9.0 streaming AEAD
//	                           AES256_GCM_HKDF_1MB, streaming
//
// The ratio of a row is its MB/s over the baseline's of the same direction
// and payload with 64 KiB chunks. Per-message costs (key wrapping, X25519,
// HKDF, ECDSA for 0x0578) dominate 1 KiB rows; age uses ChaCha20-Poly1305,
// not AES-GCM, so its ratio also measures that cipher against AES-NI.
// chainifynet/aws-encryption-sdk-go, a Go ESDK of another author, is not on the
// module proxy here and is not measured.
//
// Run: go run ./bench/cmd/report -peers (from the repository root), or
// go test -run '^$' -bench . here. The first build of the official SDK
// takes minutes.
package peers
