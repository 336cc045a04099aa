// Package keycache is a caching materials manager: it reuses data keys
// across messages under hard limits, so that a service encrypting
// thousands of records a second makes a KMS call per thousand messages,
// not per message.
//
// # What is cached
//
// On encrypt, an entry is the whole set of encryption materials (data
// key, encrypted data keys, signing key) for one (partition, suite,
// encryption context); on decrypt, the data key for one (partition,
// suite, encrypted data keys, context). Entry IDs are computed as the AWS
// Encryption SDKs with a caching materials manager (Python, Java, JS, C)
// compute them, with SHA-512:
//
//	encrypt, no suite: SHA512( SHA512(partition) | 00 | SHA512(context) )
//	encrypt, suite:    SHA512( SHA512(partition) | 01 | suite (2) | SHA512(context) )
//	decrypt:           SHA512( SHA512(partition) | suite (2) | sorted SHA512(EDK)… | 00×64 | SHA512(context) )
//
// where context is the serialized encryption context and EDK the header
// serialization of one encrypted data key. (phicrypt adds the caller's
// expected context to the decrypt ID when it is not empty: it changes
// what the materials authenticate.)
//
// Events and logs report these IDs, but no request pays for them: the
// cache looks an entry up by the bytes its ID would hash, laid out
// unambiguously, so two requests share an entry exactly when their IDs
// are equal, at no SHA-512 per message. Only a key longer than 1 KiB
// (five or more data keys, a large context) is replaced by its ID, which
// bounds what an entry holds:
//
//	encrypt: 'e' | SHA512(partition) | 00, or 01 | suite (2) | policy (1) | context
//	decrypt: 'd' | SHA512(partition) | suite (2) | policy (1) | count (2) | EDK… sorted
//	         | len (4) | context | len (4) | expected context
//	longer:  'h' | ID
//
// Both forms serialize a data key with 16-bit lengths, as a header does,
// so a decrypt request whose data keys no header could hold (a field
// past 65535 bytes) is refused with envelope.ErrMalformedHeader before
// any lookup: a wrapped length would let two distinct data keys share an
// entry. FuzzEntryKeys checks that keys and IDs are equal together.
//
// # Limits
//
// Every encrypt entry carries three limits, checked and charged
// atomically under the entry's lock, so no data key ever exceeds them
// whatever the concurrency:
//
//   - MaxAge: required. An older entry is discarded (on encrypt and decrypt).
//   - MaxMessages: messages per data key; default and ceiling 2^32.
//   - MaxBytes: plaintext bytes per data key; default 2^63-1.
//
// A request the limits could never admit, a request of unknown plaintext
// length, and the identity-KDF suites (0x0014, 0x0046, 0x0078, whose data
// key is the message key) bypass the cache, as in the other SDKs.
// Concurrent misses for one entry make one call to the underlying manager,
// and a request makes at most one: the request that made the call is
// served from it, its use charged before the entry is cached, so no other
// request's add can evict the entry (zeroing its key) first.
// A decrypt request whose expected context gives a key another value than
// the message's is refused with envelope.ErrContextMismatch before any
// lookup, counted in Stats.Refused, not as a miss or an underlying call.
// Capacity is bounded by an LRU (hashicorp/golang-lru/v2); data keys
// leaving the cache are zeroed.
//
// # The trade-off
//
// Each cache hit is a message whose data key KMS did not release: fewer
// KMS calls, lower latency and cost, and fewer CloudTrail records — one
// GenerateDataKey record now stands for up to MaxMessages messages, and a
// decrypt record for every message of that data key the cache served.
// Choose MaxAge as the longest window you accept between a key policy
// change and its effect (minutes, not hours), MaxMessages as the number of
// records whose audit trail may share one KMS event, and keep partitions
// per trust boundary: two managers with different partitions never share
// keys even when they share a Cache.
package keycache
