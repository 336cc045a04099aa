package envelope

import (
	"bufio"
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/phicrypt/phicrypt/internal/alias"
	"github.com/phicrypt/phicrypt/internal/iocheck"
	"github.com/phicrypt/phicrypt/internal/wire"
	"github.com/phicrypt/phicrypt/stream"
)

// DefaultFrameLength is the frame length written when none is chosen.
// 64 KiB frames keep the per-frame cost (32 bytes, one AES-GCM setup and
// one write) under 0.1% of the work while a frame still fits in L2 cache;
// see the README for the measurements. The official SDKs default to 4096.
const DefaultFrameLength = 64 << 10

// defaultMaxNonFramedLength bounds the legacy non-framed bodies a reader
// buffers before it can authenticate them.
const defaultMaxNonFramedLength = 64 << 20

type config struct {
	suite           SuiteID
	frameLength     int
	policy          CommitmentPolicy
	maxEDKs         int
	expected        map[string]string
	requiredKeys    []string
	unsignedOnly    bool
	plaintextLength int64
	noNetV400Retry  bool
	maxNonFramed    int64
	workers         int

	maxFrameLength int64

	call   call   // the call being configured; 0 for New
	misfit string // the first option that does not apply to call
}

// call is a Client method a DecryptOption may apply to.
type call uint8

const (
	callDecrypt call = 1 << iota
	callDecryptReader
	callDecryptReaderAt
)

func (k call) String() string {
	switch k {
	case callDecrypt:
		return "Decrypt"
	case callDecryptReader:
		return "NewDecryptReader"
	case callDecryptReaderAt:
		return "NewDecryptReaderAt"
	}
	return "New"
}

// use records that the option name, which applies to the decrypting calls
// in to, was given. The types of the options keep encrypt options from
// decrypt calls and the reverse; use checks what they cannot: an option
// that fits only some of the decrypt calls (WithMaxFrameLength,
// WithMaxNonFramedLength) fails any other with ErrInvalidOption. Options
// given to New are defaults for every call and are not checked.
func (c *config) use(name string, to call) {
	if c.call != 0 && c.call&to == 0 && c.misfit == "" {
		c.misfit = name
	}
}

func defaultConfig() config {
	return config{frameLength: DefaultFrameLength, plaintextLength: -1, maxNonFramed: defaultMaxNonFramedLength, maxFrameLength: DefaultMaxFrameLength}
}

func (c *config) check() error {
	if c.misfit != "" {
		return fmt.Errorf("envelope: option %s does not apply to %s: %w", c.misfit, c.call, ErrInvalidOption)
	}
	if c.frameLength < 1 || int64(c.frameLength) > stream.MaxFrameLength {
		return fmt.Errorf("envelope: frame length %d outside 1..%d: %w", c.frameLength, int64(stream.MaxFrameLength), ErrInvalidOption)
	}
	if !c.policy.valid() {
		return fmt.Errorf("envelope: unknown commitment policy %d: %w", c.policy, ErrInvalidOption)
	}
	if c.workers < 0 || c.workers > stream.MaxWorkers {
		return fmt.Errorf("envelope: %d frame workers, want 0..%d: %w", c.workers, stream.MaxWorkers, ErrInvalidOption)
	}
	if c.maxEDKs < 0 {
		return fmt.Errorf("envelope: negative maximum of encrypted data keys: %w", ErrInvalidOption)
	}
	if c.suite != 0 && !c.suite.known() {
		return fmt.Errorf("envelope: suite %s: %w", c.suite, ErrUnsupportedSuite)
	}
	return c.checkMaxFrameLength()
}

// A ClientOption sets a default of a Client: given to New,
// NewWithMaterialsManager or Client.With, an option applies to every call
// it fits. Every option of this package is a ClientOption; other types
// cannot implement the option interfaces.
type ClientOption interface {
	isClientOption()
}

// An EncryptOption configures Encrypt and NewEncryptWriter, or, given to
// New, sets their default. Decrypt calls do not take one: passing
// WithSuite to Decrypt does not compile.
type EncryptOption interface {
	ClientOption
	isEncryptOption()
}

// A DecryptOption configures Decrypt, NewDecryptReader and
// NewDecryptReaderAt, or, given to New, sets their default. Encrypt calls
// do not take one: passing WithExpectedContext to Encrypt does not
// compile. Two options fit only some decrypt calls, which no type tells
// apart: WithMaxFrameLength (the streaming readers) and
// WithMaxNonFramedLength (Decrypt and NewDecryptReader) fail the other
// call with ErrInvalidOption when given to it.
type DecryptOption interface {
	ClientOption
	isDecryptOption()
}

// A CommonOption configures encrypt and decrypt calls alike.
type CommonOption interface {
	EncryptOption
	DecryptOption
}

// The options' implementations: func types, whose methods only mark the
// interfaces they implement. set applies them through a type switch, not
// a method call, so that an option's closure does not escape: passing
// options to a call allocates nothing for them.
type (
	encryptOption func(*config)
	decryptOption func(*config)
	commonOption  func(*config)
)

func (encryptOption) isClientOption()  {}
func (encryptOption) isEncryptOption() {}
func (decryptOption) isClientOption()  {}
func (decryptOption) isDecryptOption() {}
func (commonOption) isClientOption()   {}
func (commonOption) isEncryptOption()  {}
func (commonOption) isDecryptOption()  {}

// set applies o to c. An option of another type (an option interface
// embedded in a struct) is refused with ErrInvalidOption by check.
func (c *config) set(o any) {
	switch f := o.(type) {
	case encryptOption:
		f(c)
	case decryptOption:
		f(c)
	case commonOption:
		f(c)
	default:
		if c.misfit == "" {
			c.misfit = "of another package" // not %T: o would escape
		}
	}
}

// WithSuite sets the algorithm suite messages are written with. The
// default is AES256GCMHKDFSHA512CommitP384 (0x0578), as in the official
// SDKs; AES256GCMHKDFSHA512Commit (0x0478) drops the signature for
// producers and consumers that trust each other equally.
func WithSuite(id SuiteID) EncryptOption {
	return encryptOption(func(c *config) { c.suite = id })
}

// WithFrameLength sets the plaintext bytes per frame, 1 to 2^32-1.
func WithFrameLength(n int) EncryptOption {
	return encryptOption(func(c *config) { c.frameLength = n })
}

// WithCommitmentPolicy sets the commitment policy. The default,
// RequireEncryptRequireDecrypt, reads only key-committing messages;
// reading legacy messages needs RequireEncryptAllowDecrypt.
func WithCommitmentPolicy(p CommitmentPolicy) CommonOption {
	return commonOption(func(c *config) { c.policy = p })
}

// WithMaxEncryptedDataKeys limits the encrypted data keys a message may
// carry, on encrypt and decrypt; 0 means no limit. Set it when decrypting
// messages from untrusted sources.
func WithMaxEncryptedDataKeys(n int) CommonOption {
	return commonOption(func(c *config) { c.maxEDKs = n })
}

// WithExpectedContext sets, on decrypt, pairs the message's encryption
// context must hold. Pairs the header lacks are taken as required pairs
// kept out of the header and must authenticate; a message written
// without them then fails with ErrAuthentication, or earlier with
// ErrNoDecryptionKey from keyrings that bind the context (raw AES).
func WithExpectedContext(ec map[string]string) DecryptOption {
	return decryptOption(func(c *config) { c.expected = maps.Clone(ec) })
}

// WithRequiredContextKeys sets, on decrypt, context keys the message must
// have, whatever their values.
func WithRequiredContextKeys(keys ...string) DecryptOption {
	return decryptOption(func(c *config) { c.requiredKeys = slices.Clone(keys) })
}

// WithUnsignedOnly makes decryption refuse signed messages before reading
// their body, with ErrSignedMessage: for streaming consumers that act on
// plaintext before the end of the message.
func WithUnsignedOnly() DecryptOption {
	return decryptOption(func(c *config) { c.unsignedOnly = true })
}

// WithPlaintextLength declares the length of a streamed plaintext. The
// materials manager sees it (caching needs it) and Close fails with
// ErrPlaintextLength if a different number of bytes was written. Encrypt
// declares the length itself, and fails with ErrPlaintextLength if this
// option says otherwise.
func WithPlaintextLength(n int64) EncryptOption {
	return encryptOption(func(c *config) { c.plaintextLength = n })
}

// WithFrameWorkers sets how many goroutines seal or open the frames of one
// message, at most stream.MaxWorkers (256; more fails with
// ErrInvalidOption): 0 (the default) uses runtime.GOMAXPROCS(0), capped
// there, one fewer (at least 1) for signing suites, whose hash has a goroutine of its own; 1
// works serially in the calling goroutine. It is a most: where more
// goroutines would cost more than they save, fewer work — the calling
// goroutine alone for a one-shot message of up to 128 KiB, a stream
// declared (WithPlaintextLength) under stream.MinParallel (4 MiB), or one
// decrypted from a source that tells a length under it (NewDecryptReader).
// The bytes written are the same for any value.
func WithFrameWorkers(n int) CommonOption {
	return commonOption(func(c *config) { c.workers = n })
}

// withoutNetV400Retry turns off the retry the official SDKs make for
// messages of ESDK-NET 4.0.0, which authenticated headers wrongly; tests
// use it to see the retry happen.
func withoutNetV400Retry() DecryptOption {
	return decryptOption(func(c *config) { c.noNetV400Retry = true })
}

// WithMaxNonFramedLength bounds the legacy non-framed bodies a reader
// buffers before authenticating them (default 64 MiB). It applies to
// Decrypt and NewDecryptReader; NewDecryptReaderAt reads only framed
// messages.
func WithMaxNonFramedLength(n int64) DecryptOption {
	return decryptOption(func(c *config) { c.use("WithMaxNonFramedLength", callDecrypt|callDecryptReader); c.maxNonFramed = n })
}

// Client encrypts and decrypts AWS Encryption SDK messages with the
// materials of one MaterialsManager. It is safe for concurrent use.
type Client struct {
	cmm MaterialsManager
	cfg config

	// sealers holds zeroed sealers for one-shot encryption, shared by
	// the Clients With derives: a sealer is put back only after a call
	// that succeeded, when nothing else refers to it.
	sealers *sync.Pool
	// buffers holds the large buffers of finished streams for the next,
	// zeroed; shared likewise.
	buffers *stream.Buffers
}

// New returns a Client whose data keys come from kr through the default
// materials manager.
func New(kr Keyring, opts ...ClientOption) (*Client, error) {
	if kr == nil {
		return nil, errors.New("envelope: nil keyring")
	}
	return NewWithMaterialsManager(NewDefaultMaterialsManager(kr), opts...)
}

// NewWithMaterialsManager returns a Client over a materials manager, such
// as a keycache or NewRequiredContextMaterialsManager's.
func NewWithMaterialsManager(cmm MaterialsManager, opts ...ClientOption) (*Client, error) {
	if cmm == nil {
		return nil, errors.New("envelope: nil materials manager")
	}
	c := &Client{cmm: cmm, cfg: defaultConfig(), sealers: new(sync.Pool), buffers: new(stream.Buffers)}
	for _, o := range opts {
		c.cfg.set(o)
	}
	if err := c.cfg.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// With returns a Client over c's materials manager whose defaults are c's
// with opts applied, as if they had been given to New.
func (c *Client) With(opts ...ClientOption) (*Client, error) {
	d := &Client{cmm: c.cmm, cfg: c.cfg, sealers: c.sealers, buffers: c.buffers}
	for _, o := range opts {
		d.cfg.set(o)
	}
	if err := d.cfg.check(); err != nil {
		return nil, err
	}
	return d, nil
}

// MaxEncryptedDataKeys returns the Client's default limit on encrypted
// data keys (WithMaxEncryptedDataKeys); 0 means no limit.
func (c *Client) MaxEncryptedDataKeys() int { return c.cfg.maxEDKs }

// encryptConfig returns the Client's defaults with an encrypt call's
// options applied.
func (c *Client) encryptConfig(opts []EncryptOption) (config, error) {
	if len(opts) == 0 {
		return c.cfg, nil // checked by New; no escaping copy
	}
	cfg := c.cfg
	for _, o := range opts {
		cfg.set(o)
	}
	return cfg, cfg.check()
}

// decryptConfig returns the Client's defaults with a decrypt call's
// options applied, refusing those that do not apply to the call k.
func (c *Client) decryptConfig(opts []DecryptOption, k call) (config, error) {
	if len(opts) == 0 {
		return c.cfg, nil // checked by New; no escaping copy
	}
	cfg := c.cfg
	cfg.call = k
	for _, o := range opts {
		cfg.set(o)
	}
	return cfg, cfg.check()
}

// sealer is a message being written: its header and derived key.
type sealer struct {
	header  *Header
	aead    cipher.AEAD
	signKey *ecdsa.PrivateKey
	suite   *suite

	// Storage for the materials request, the default materials manager's
	// materials, the header, its message ID, commitment, auth tag, the
	// (zero) header IV and a header body of up to sealerHeaderBytes bytes:
	// one allocation.
	req    EncryptionRequest
	m      EncryptionMaterials
	h      Header
	id     [32]byte
	commit [commitKeyLen]byte
	tag    [16]byte
	iv     [ivLen]byte
	body   [sealerHeaderBytes]byte
}

// sealerHeaderBytes is the header body a sealer holds without an allocation
// of its own: a context of a few pairs and one raw keyring's data key.
const sealerHeaderBytes = 384

// begin gets materials and builds the header of a new message in sl, a
// zeroed sealer. exposed says whether the caller will see the Header
// (EncryptWriter.Header): if not, the header may share the materials'
// context, read-only.
func (c *Client) begin(ctx context.Context, ec map[string]string, cfg *config, exposed bool, sl *sealer) error {
	if ec == nil {
		ec = map[string]string{}
	}
	var pbuf [16]wire.Pair
	pairs, err := checkEncryptRequest(ec, cfg, pbuf[:0])
	if err != nil {
		return err
	}
	sl.req = EncryptionRequest{
		EncryptionContext: ec,
		Suite:             cfg.suite,
		CommitmentPolicy:  cfg.policy,
		PlaintextLength:   cfg.plaintextLength,
	}
	var m *EncryptionMaterials
	if d, ok := c.cmm.(*defaultMaterialsManager); ok {
		// The materials in sl; unexposed, they share the caller's context.
		m = &sl.m
		err = d.encryptionMaterials(ctx, &sl.req, m, !exposed)
	} else {
		m, err = c.cmm.GetEncryptionMaterials(ctx, &sl.req)
	}
	if err != nil {
		return err
	}
	defer clear(m.DataKey)
	s, err := checkEncryptionMaterials(m, cfg)
	if err != nil {
		return err
	}
	return seal(sl, s, m, cfg.frameLength, exposed, pairs)
}

// checkEncryptRequest checks the caller's context and suite before any
// materials are asked for, and returns the context's sorted pairs,
// appended to pairs[:0].
func checkEncryptRequest(ec map[string]string, cfg *config, pairs []wire.Pair) ([]wire.Pair, error) {
	pairs, _, err := wire.SortedPairs(ec, pairs)
	if err != nil {
		return nil, err
	}
	if err := checkCallerContext(pairs); err != nil {
		return nil, err
	}
	if cfg.suite != 0 && !cfg.policy.allowsEncrypt(cfg.suite) {
		return nil, fmt.Errorf("envelope: encrypt with suite %s under %s: %w", cfg.suite, cfg.policy, ErrCommitmentPolicy)
	}
	return pairs, nil
}

// checkEncryptionMaterials checks that m, from the materials manager, fits
// the call's configuration and the interface contract, and returns its
// suite.
func checkEncryptionMaterials(m *EncryptionMaterials, cfg *config) (*suite, error) {
	s, ok := lookupSuite(m.Suite)
	switch {
	case !ok:
		return nil, fmt.Errorf("envelope: materials for suite %s: %w", m.Suite, ErrUnsupportedSuite)
	case cfg.suite != 0 && m.Suite != cfg.suite:
		return nil, fmt.Errorf("envelope: materials for suite %s, %s requested: %w", m.Suite, cfg.suite, ErrInvalidMaterials)
	case !cfg.policy.allowsEncrypt(m.Suite):
		return nil, fmt.Errorf("envelope: encrypt with suite %s under %s: %w", m.Suite, cfg.policy, ErrCommitmentPolicy)
	case len(m.DataKey) != s.keyLen:
		return nil, fmt.Errorf("envelope: %d-byte data key for suite %s: %w", len(m.DataKey), m.Suite, ErrInvalidMaterials)
	}
	if err := checkEDKCount(len(m.EncryptedDataKeys), cfg.maxEDKs); err != nil {
		return nil, err
	}
	if (s.curve != nil) != (m.signingKey != nil) {
		return nil, fmt.Errorf("envelope: signing key does not match suite %s: %w", m.Suite, ErrInvalidMaterials)
	}
	for _, k := range m.requiredContextKeys {
		if _, ok := m.EncryptionContext[k]; !ok {
			return nil, fmt.Errorf("envelope: required context key %q not in the context: %w", k, ErrInvalidMaterials)
		}
	}
	return s, nil
}

// checkEDKCount checks the number of encrypted data keys a message is
// written with: at least one, at most limit (if > 0) and what the header
// can hold.
func checkEDKCount(n, limit int) error {
	switch {
	case n == 0:
		return fmt.Errorf("envelope: no encrypted data keys: %w", ErrInvalidMaterials)
	case limit > 0 && n > limit:
		return fmt.Errorf("envelope: %d encrypted data keys, at most %d allowed: %w", n, limit, ErrTooManyEncryptedDataKeys)
	case n > maxEncryptedDataKeys:
		return fmt.Errorf("envelope: %d encrypted data keys: %w", n, ErrTooManyEncryptedDataKeys)
	}
	return nil
}

// seal builds and authenticates in sl the header of a new message of
// suite s from the checked materials m; exposed as for begin. pairs are
// the caller's context's, serialized instead of the header's context if
// they still hold exactly its pairs.
func seal(sl *sealer, s *suite, m *EncryptionMaterials, frameLength int, exposed bool, pairs []wire.Pair) error {
	sl.signKey, sl.suite = m.signingKey, s
	sl.h = Header{
		Version:           s.version,
		Suite:             s.id,
		MessageID:         sl.id[:16*int(s.version)],
		EncryptionContext: m.EncryptionContext, // read-only unless cloned below
		EncryptedDataKeys: m.EncryptedDataKeys,
		FrameLength:       uint32(frameLength),
	}
	h := &sl.h
	sl.header = h
	if exposed || len(m.requiredContextKeys) > 0 {
		h.EncryptionContext = maps.Clone(m.EncryptionContext)
		for _, k := range m.requiredContextKeys {
			delete(h.EncryptionContext, k)
		}
	}
	if _, err := rand.Read(h.MessageID); err != nil {
		return err
	}
	aead, commit, err := deriveKey(s, m.DataKey, h.MessageID, false)
	if err != nil {
		return err
	}
	if s.committing {
		sl.commit = commit
		h.commitKey = sl.commit[:]
	}
	if h.Version == 1 {
		h.iv = make([]byte, ivLen)
	}
	if !holds(pairs, h.EncryptionContext) {
		pairs = nil
	}
	if err := h.marshalBody(sl.body[:0], pairs); err != nil {
		return err
	}
	aad, err := headerAAD(h.body, subset(m.EncryptionContext, m.requiredContextKeys), false)
	if err != nil {
		return err
	}
	h.authTag = aead.Seal(sl.tag[:0], sl.iv[:], nil, aad)
	sl.aead = aead
	return nil
}

// headerAAD returns what the header tag authenticates: the header body and
// the serialized required pairs. netV400 appends an empty pair count for
// an empty set, as ESDK-NET 4.0.0 did.
func headerAAD(body []byte, required map[string]string, netV400 bool) ([]byte, error) {
	aad := slices.Clip(body)
	if netV400 && len(required) == 0 {
		return append(aad, 0, 0), nil
	}
	return wire.AppendContext(aad, required)
}

// Encrypt returns plaintext encrypted in one message under the context ec.
func (c *Client) Encrypt(ctx context.Context, plaintext []byte, ec map[string]string, opts ...EncryptOption) ([]byte, error) {
	return c.EncryptAppend(ctx, nil, plaintext, ec, opts...)
}

// EncryptAppend encrypts plaintext as Encrypt does and appends the message
// to dst, as crypto/cipher's Seal does: a caller that passes a buffer
// with room for the message (dst[:0] of the last one) allocates nothing
// per byte. dst grows by at most the message's length, which is known
// before anything is sealed. dst's spare capacity must not overlap
// plaintext, in place (dst = plaintext[:0]) included: the message starts
// with its header and is longer than plaintext, so it would overwrite
// plaintext before it is sealed. Such a call fails with ErrBufferOverlap
// before a data key is requested. On error it returns nil; dst past
// len(dst) may then hold a partial message.
func (c *Client) EncryptAppend(ctx context.Context, dst, plaintext []byte, ec map[string]string, opts ...EncryptOption) ([]byte, error) {
	if alias.SpareOverlaps(dst, plaintext) {
		return nil, fmt.Errorf("envelope: dst's spare capacity overlaps the plaintext: %w", ErrBufferOverlap)
	}
	cfg, err := c.encryptConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.plaintextLength >= 0 && cfg.plaintextLength != int64(len(plaintext)) {
		return nil, fmt.Errorf("envelope: plaintext of %d bytes, %d declared: %w", len(plaintext), cfg.plaintextLength, ErrPlaintextLength)
	}
	cfg.plaintextLength = int64(len(plaintext))
	bodyLen, err := stream.SealedLength(int64(len(plaintext)), cfg.frameLength)
	if err != nil {
		return nil, fromStream(err)
	}
	s := c.sealer()
	if err := c.begin(ctx, ec, &cfg, false, s); err != nil {
		return nil, err
	}
	size := int64(s.header.Len()) + bodyLen
	if s.signKey != nil {
		size += 2 + int64(signatureLen(s.signKey.Curve))
	}
	start := len(dst)
	out := s.header.appendTo(growExact(dst, int(size)))
	bc := stream.Config{AEAD: s.aead, MessageID: s.header.MessageID, FrameLength: cfg.frameLength, Workers: cfg.workers}
	if s.signKey != nil {
		out, err = sealSigned(out, start, plaintext, bc, s.signKey, s.suite.signHash()())
	} else {
		out, err = stream.Seal(out, plaintext, bc)
	}
	if err != nil {
		return nil, fromStream(err)
	}
	c.putSealer(s)
	return out, nil
}

// sealer returns a zeroed sealer, from c's pool if it holds one.
func (c *Client) sealer() *sealer {
	if sl, ok := c.sealers.Get().(*sealer); ok {
		return sl
	}
	return new(sealer)
}

// putSealer zeroes sl and keeps it for another one-shot call. Only a
// sealer no goroutine, keyring or returned value refers to may be put.
func (c *Client) putSealer(sl *sealer) {
	*sl = sealer{}
	c.sealers.Put(sl)
}

// growExact returns dst with room for n more bytes: dst itself if it has
// the room, else a copy of exactly len(dst)+n capacity.
func growExact(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	g := make([]byte, len(dst), len(dst)+n)
	copy(g, dst)
	return g
}

// appendFooter signs the digest in h and appends the footer:
//
//	signature length (2) | DER ECDSA signature
func appendFooter(b []byte, key *ecdsa.PrivateKey, h hash.Hash) ([]byte, error) {
	sig, err := sign(key, h.Sum(nil))
	if err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sig)))
	return append(b, sig...), nil
}

// Decrypt authenticates and decrypts a whole message. It returns no
// plaintext unless every byte of the message verified.
func (c *Client) Decrypt(ctx context.Context, ciphertext []byte, opts ...DecryptOption) ([]byte, *Header, error) {
	return c.DecryptAppend(ctx, nil, ciphertext, opts...)
}

// DecryptAppend decrypts ciphertext as Decrypt does and appends the
// plaintext to dst, as crypto/cipher's Open does: a caller that passes a
// buffer with room for it allocates nothing per byte. dst grows by the
// plaintext's length, known from the frames before any is opened (for a
// legacy non-framed body, its declared length, checked first against
// WithMaxNonFramedLength and the input). dst's spare capacity must not
// overlap ciphertext, in place (dst = ciphertext[:0]) included: frames
// opened on several cores, and the signature's hash, read ciphertext the
// output would already have overwritten. Such a call fails with
// ErrBufferOverlap before a data key is requested. On error it returns
// nil and zeroes what it had appended.
func (c *Client) DecryptAppend(ctx context.Context, dst, ciphertext []byte, opts ...DecryptOption) ([]byte, *Header, error) {
	if alias.SpareOverlaps(dst, ciphertext) {
		return nil, nil, fmt.Errorf("envelope: dst's spare capacity overlaps the ciphertext: %w", ErrBufferOverlap)
	}
	cfg, err := c.decryptConfig(opts, callDecrypt)
	if err != nil {
		return nil, nil, err
	}
	// The header, the materials request and the default materials
	// manager's materials in one allocation, the header read straight from
	// ciphertext. The materials do not outlive the call: they may share
	// the header's context.
	op := &openStorage{src: ciphertext, share: true}
	h, s, m, aead, err := c.openMessageWith(ctx, nil, &cfg, op)
	op.src = nil // the returned Header holds op: not the ciphertext
	if err != nil {
		return nil, nil, err
	}
	msg := ciphertext
	body := ciphertext[h.Len():]
	bc := stream.Config{AEAD: aead, MessageID: h.MessageID, FrameLength: int(h.FrameLength), Workers: cfg.workers}
	var digest func() []byte // the digest of header and body, if signed
	if s.curve != nil {
		bc.Workers = signedWorkers(bc.Workers)
		// Hash header and body while the frames are opened.
		n, err := bodyLength(body, h, &cfg)
		if err != nil {
			return nil, nil, fromStream(err)
		}
		msg = ciphertext[:h.Len()+n]
		hash := func() []byte {
			hh := s.signHash()()
			hh.Write(msg)
			return hh.Sum(nil)
		}
		if len(msg) <= asyncHashChunk {
			// A small message is hashed after its frames are opened, on
			// this goroutine: starting another costs more than the overlap
			// saves.
			digest = hash
		} else {
			ch := make(chan []byte, 1)
			go func() { ch <- hash() }()
			digest = func() []byte { return <-ch }
		}
	}
	start := len(dst)
	var pt []byte
	var n int
	if h.FrameLength == 0 {
		// Legacy non-framed: one block, opened straight into dst.
		pt, n, err = stream.OpenNonFramed(dst, body, bc, cfg.maxNonFramed)
	} else {
		pt, n, err = stream.Open(dst, body, bc)
	}
	err = fromStream(err)
	rest := body[n:]
	if digest != nil {
		d := digest()
		if err == nil {
			var sig []byte
			if sig, rest, err = splitFooter(rest); err == nil && !ecdsa.VerifyASN1(m.verificationKey, d, sig) {
				err = fmt.Errorf("envelope: %w", ErrSignature)
			}
		}
	}
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("envelope: %d bytes after the message: %w", len(rest), ErrTrailingData)
	}
	if err != nil {
		if pt != nil {
			clear(pt[start:])
		}
		return nil, nil, err
	}
	return pt, h, nil
}

// bodyLength returns the length of the body of h at the start of body,
// framed or not, from its frame headers alone.
func bodyLength(body []byte, h *Header, cfg *config) (int, error) {
	if h.FrameLength == 0 {
		return stream.NonFramedLength(body, cfg.maxNonFramed)
	}
	return stream.BodyLength(body, int(h.FrameLength))
}

// splitFooter splits the footer (signature length (2) | signature) from
// the bytes after the body.
func splitFooter(b []byte) (sig, rest []byte, err error) {
	if len(b) < 2 || len(b)-2 < int(binary.BigEndian.Uint16(b)) {
		return nil, nil, fmt.Errorf("envelope: footer: %w", ErrTruncated)
	}
	n := 2 + int(binary.BigEndian.Uint16(b))
	return b[2:n], b[n:], nil
}

// EncryptWriter encrypts a stream into one message. Close must be called
// to write the final frame and the signature.
type EncryptWriter struct {
	sealer   *sealer
	dst      io.Writer
	hash     *asyncHash // over header and body, for signing suites
	body     *stream.Writer
	declared int64
	written  int64
	err      error
	closed   bool
}

// NewEncryptWriter writes the header of a new message to w and returns a
// writer for its plaintext. Memory stays within one frame whatever the
// size of the stream.
func (c *Client) NewEncryptWriter(ctx context.Context, w io.Writer, ec map[string]string, opts ...EncryptOption) (*EncryptWriter, error) {
	cfg, err := c.encryptConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.plaintextLength >= 0 {
		if _, err := stream.SealedLength(cfg.plaintextLength, cfg.frameLength); err != nil {
			return nil, fromStream(err)
		}
	}
	s := new(sealer)
	if err := c.begin(ctx, ec, &cfg, true, s); err != nil {
		return nil, err
	}
	ew := &EncryptWriter{sealer: s, dst: w, declared: cfg.plaintextLength}
	workers := cfg.workers
	if s.signKey != nil {
		// Hashed on another goroutine, overlapping the frame encryption.
		ew.hash = newAsyncHash(s.suite.signHash()())
		w = io.MultiWriter(w, ew.hash)
		workers = signedWorkers(workers)
	}
	workers = workersForLength(cfg.plaintextLength, workers)
	if _, err := iocheck.Write(w, s.header.appendTo(nil)); err != nil {
		return nil, err
	}
	ew.body, err = stream.NewWriter(w, stream.Config{AEAD: s.aead, MessageID: s.header.MessageID, FrameLength: cfg.frameLength, Workers: workers, Buffers: c.buffers})
	if err != nil {
		return nil, fromStream(err)
	}
	return ew, nil
}

// Header returns the header of the message being written.
func (w *EncryptWriter) Header() *Header { return w.sealer.header }

// Write encrypts p.
func (w *EncryptWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		w.err = fmt.Errorf("envelope: more than %d bytes written: %w", w.declared, ErrPlaintextLength)
		return 0, w.err
	}
	n, err := w.body.Write(p)
	w.written += int64(n)
	if err != nil {
		err = fromStream(err)
		w.err = err
	}
	return n, err
}

// ReadFrom encrypts what it reads from r until io.EOF, reading straight
// into the frame buffers; io.Copy uses it. With a declared plaintext
// length (WithPlaintextLength) it reads at most that many bytes, then one
// more to see the end: a byte past the length fails with
// ErrPlaintextLength and no frame holding it is written. An error of r
// leaves the writer usable: the bytes read before it are kept. With more
// than one frame worker the workers take turns reading r and writing to
// the destination, so r's Read and the destination's Write are called
// from several goroutines, one call at a time and each ordered after the
// one before; a panic in either reaches the caller.
func (w *EncryptWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	src := &errSource{r: r}
	var body io.Reader = src
	if w.declared >= 0 {
		body = &io.LimitedReader{R: src, N: w.declared - w.written}
	}
	n, err := w.body.ReadFrom(body)
	w.written += n
	switch {
	case err != nil && src.err != nil && err == error(src.err):
		return n, src.err.err // the source's error; the writer is sound
	case err != nil:
		w.err = fromStream(err)
		return n, w.err
	case w.declared >= 0 && w.written == w.declared:
		var one [1]byte
		m, err := io.ReadFull(&iocheck.Reader{R: r}, one[:])
		clear(one[:])
		if m > 0 {
			w.err = fmt.Errorf("envelope: more than %d bytes written: %w", w.declared, ErrPlaintextLength)
			return n, w.err
		}
		if err != io.EOF {
			return n, err
		}
	}
	return n, nil
}

// errSource records the error its reader returned other than io.EOF,
// telling a source's failure from the writer's.
type errSource struct {
	r   io.Reader
	err *sourceError // its last
}

// sourceError is a source's error as the writer passes it on: a pointer,
// so that telling it apart compares no error values (one of a type
// holding a slice panics when compared with ==).
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func (s *errSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = &sourceError{err}
		return n, s.err
	}
	return n, err
}

// Close writes the final frame and, for signing suites, the signature. It
// does not close the underlying writer.
//
// A writer that failed, or whose length differs from the declared one,
// is ended by Close without writing anything more (no final frame, no
// signature: the message stays incomplete): its frame workers and hash
// goroutine stop, its buffers are released, and Close returns the error.
func (w *EncryptWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err == nil && w.declared >= 0 && w.written != w.declared {
		w.err = fmt.Errorf("envelope: %d bytes written, %d declared: %w", w.written, w.declared, ErrPlaintextLength)
	}
	if w.err != nil {
		w.body.Abort(w.err)
		if w.hash != nil {
			w.hash.flush()
		}
		return w.err
	}
	w.err = errors.New("envelope: EncryptWriter closed")
	if err := w.body.Close(); err != nil {
		if w.hash != nil {
			w.hash.flush()
		}
		return fromStream(err)
	}
	if w.hash == nil {
		return nil
	}
	footer, err := appendFooter(nil, w.sealer.signKey, w.hash)
	if err != nil {
		return err
	}
	_, err = iocheck.Write(w.dst, footer)
	return err
}

// DecryptReader decrypts a message as it is read.
//
// Every Read returns only plaintext from frames whose AES-GCM tag
// verified, in order. For signed suites the ECDSA signature covers the
// whole message and can only be checked at its end: the reader withholds
// the final frame until the signature verified, and a bad signature is
// returned by Read as ErrSignature. Plaintext returned before that came
// from a holder of the data key but is not yet proven to come from the
// signer; a consumer that acts on plaintext before Read returns io.EOF
// should decrypt one-shot or refuse signed messages with WithUnsignedOnly.
type DecryptReader struct {
	header    *Header
	materials *DecryptionMaterials
	body      *stream.Reader
	hash      *asyncHash // the body's, if signed
}

// NewDecryptReader reads and authenticates the header of the message in r
// and returns a reader of its plaintext.
//
// A message r tells the length of (an in-memory reader's Len, a regular
// file's size) under stream.MinParallel is opened in the calling
// goroutine alone, whatever WithFrameWorkers says.
func (c *Client) NewDecryptReader(ctx context.Context, r io.Reader, opts ...DecryptOption) (*DecryptReader, error) {
	return c.newDecryptReader(ctx, bufio.NewReaderSize(&iocheck.Reader{R: r}, sourceBuffer), remaining(r), opts, callDecryptReader)
}

// remaining returns the bytes r holds from where it is, if it tells: an
// in-memory reader's Len, a regular file's size less its offset; else -1.
func remaining(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		off, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return fi.Size() - off
	}
	return -1
}

// workersForLength returns workers for a stream of n bytes (n < 0:
// unknown): 1 under stream.MinParallel, where the caller alone is faster.
func workersForLength(n int64, workers int) int {
	if n >= 0 && n < stream.MinParallel {
		return 1
	}
	return workers
}

// newDecryptReader is NewDecryptReader of r, which holds size bytes if
// size >= 0.
func (c *Client) newDecryptReader(ctx context.Context, r io.Reader, size int64, opts []DecryptOption, k call) (*DecryptReader, error) {
	cfg, err := c.decryptConfig(opts, k)
	if err != nil {
		return nil, err
	}
	h, s, m, aead, err := c.openMessage(ctx, r, &cfg)
	if err != nil {
		return nil, err
	}
	if err := checkFrameLength(h, cfg.maxFrameLength); err != nil {
		return nil, err
	}
	d := &DecryptReader{header: h, materials: m}
	var tee io.Writer // nil unless signed (a nil *asyncHash in it would not be nil)
	var digest *asyncHash
	workers := cfg.workers
	if s.curve != nil {
		// Hashed on another goroutine, overlapping the frame decryption.
		digest = newAsyncHash(s.signHash()())
		digest.Write(h.appendTo(nil))
		tee, d.hash = digest, digest
		workers = signedWorkers(workers)
	}
	workers = workersForLength(size, workers)
	final := func() error {
		var rest io.Reader = r
		if b := d.body.Rest(); len(b) > 0 {
			rest = io.MultiReader(bytes.NewReader(b), r)
		}
		if digest != nil {
			if err := readFooter(rest, m.verificationKey, digest); err != nil {
				return err
			}
		}
		var one [1]byte
		if n, _ := io.ReadFull(rest, one[:]); n != 0 {
			return fmt.Errorf("envelope: %w", ErrTrailingData)
		}
		return nil
	}
	// The body is read in chunks, past its end if need be (what follows
	// it is Rest); the hash sees the body alone, through Tee.
	bc := stream.Config{AEAD: aead, MessageID: h.MessageID, FrameLength: int(h.FrameLength), Workers: workers, Final: final, ReadPast: true, Tee: tee, Buffers: c.buffers}
	if h.FrameLength == 0 {
		d.body, err = stream.NewNonFramedReader(r, bc, cfg.maxNonFramed)
	} else {
		d.body, err = stream.NewReader(r, bc)
	}
	if err != nil {
		return nil, fromStream(err)
	}
	return d, nil
}

// openMessage reads the header from r, gets the decryption materials and
// authenticates the header. The returned materials hold no data key.
func (c *Client) openMessage(ctx context.Context, r io.Reader, cfg *config) (*Header, *suite, *DecryptionMaterials, cipher.AEAD, error) {
	return c.openMessageWith(ctx, r, cfg, new(openStorage))
}

// openStorage holds what openMessageWith builds: the header, the
// materials request and, from the default materials manager, the
// materials. share lets those materials share the header's context: for
// a call that drops them before it returns, so that a caller's change to
// the returned Header cannot reach them.
type openStorage struct {
	src   []byte // the message, read instead of r if r is nil
	hs    headerStorage
	req   DecryptionRequest
	m     DecryptionMaterials
	share bool
}

// openMessageWith is openMessage with its storage given.
func (c *Client) openMessageWith(ctx context.Context, r io.Reader, cfg *config, st *openStorage) (*Header, *suite, *DecryptionMaterials, cipher.AEAD, error) {
	h, err := readHeaderInto(r, st.src, cfg.maxEDKs, &st.hs)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	s, _ := lookupSuite(h.Suite) // readHeader accepts only known suites
	if !cfg.policy.allowsDecrypt(h.Suite) {
		return nil, nil, nil, nil, fmt.Errorf("envelope: decrypt suite %s under %s: %w", h.Suite, cfg.policy, ErrCommitmentPolicy)
	}
	if cfg.unsignedOnly && s.curve != nil {
		return nil, nil, nil, nil, fmt.Errorf("envelope: suite %s: %w", h.Suite, ErrSignedMessage)
	}
	req := &st.req
	*req = DecryptionRequest{
		Suite:             h.Suite,
		CommitmentPolicy:  cfg.policy,
		EncryptedDataKeys: h.EncryptedDataKeys,
		EncryptionContext: h.EncryptionContext,
		ReproducedContext: cfg.expected,
	}
	var m *DecryptionMaterials
	if d, ok := c.cmm.(*defaultMaterialsManager); ok {
		m = &st.m
		err = d.decryptMaterials(ctx, req, m, st.share)
	} else {
		m, err = c.cmm.DecryptMaterials(ctx, req)
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer func() { clear(m.DataKey); m.DataKey = nil }()
	if len(m.DataKey) != s.keyLen || m.Suite != h.Suite || (s.curve != nil) != (m.verificationKey != nil) {
		return nil, nil, nil, nil, fmt.Errorf("envelope: materials do not fit suite %s: %w", h.Suite, ErrInvalidMaterials)
	}
	for _, k := range cfg.requiredKeys {
		if _, ok := m.EncryptionContext[k]; !ok {
			return nil, nil, nil, nil, fmt.Errorf("envelope: context key %q missing: %w", k, ErrContextMismatch)
		}
	}
	aead, err := c.openHeader(h, s, m, cfg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return h, s, m, aead, nil
}

// openHeader derives the message key, checks the key commitment and
// authenticates the header, with the official SDKs' one retry for
// ESDK-NET 4.0.0 messages.
func (c *Client) openHeader(h *Header, s *suite, m *DecryptionMaterials, cfg *config) (cipher.AEAD, error) {
	required := subset(m.EncryptionContext, m.requiredContextKeys)
	iv := h.iv
	if iv == nil {
		iv = h.zeroIV[:] // v2: a zero IV
	}
	try := func(netV400 bool) (cipher.AEAD, error) {
		aead, commit, err := deriveKey(s, m.DataKey, h.MessageID, netV400)
		if err != nil {
			return nil, err
		}
		if s.committing && !commitmentMatches(commit[:], h.commitKey) {
			return nil, fmt.Errorf("envelope: %w", ErrCommitmentMismatch)
		}
		aad, err := headerAAD(h.body, required, netV400)
		if err != nil {
			return nil, err
		}
		if _, err := aead.Open(nil, iv, h.authTag, aad); err != nil {
			return nil, fmt.Errorf("envelope: header: %w", ErrAuthentication)
		}
		return aead, nil
	}
	aead, err := try(false)
	if errors.Is(err, ErrAuthentication) && !cfg.noNetV400Retry {
		if retry, rerr := try(true); rerr == nil {
			return retry, nil
		}
	}
	return aead, err
}

// DecryptReaderAt decrypts any plaintext range of a message held in an
// io.ReaderAt, reading the header once and then only the frames a range
// needs, each authenticated. Signed messages cannot be verified without
// reading them whole and are refused with ErrSignedMessage.
type DecryptReaderAt struct {
	header    *Header
	materials *DecryptionMaterials
	body      *stream.ReaderAt
}

// NewDecryptReaderAt reads and authenticates the header of the message of
// size bytes in src.
func (c *Client) NewDecryptReaderAt(ctx context.Context, src io.ReaderAt, size int64, opts ...DecryptOption) (*DecryptReaderAt, error) {
	cfg, err := c.decryptConfig(opts, callDecryptReaderAt)
	if err != nil {
		return nil, err
	}
	cfg.unsignedOnly = true
	h, _, m, aead, err := c.openMessage(ctx, bufio.NewReaderSize(io.NewSectionReader(src, 0, size), 4096), &cfg)
	if err != nil {
		return nil, err
	}
	if h.FrameLength == 0 {
		return nil, fmt.Errorf("envelope: random access needs a framed message: %w", ErrUnsupportedSuite)
	}
	if err := checkFrameLength(h, cfg.maxFrameLength); err != nil {
		return nil, err
	}
	body, err := stream.NewReaderAt(src, int64(h.Len()), size-int64(h.Len()), stream.Config{
		AEAD: aead, MessageID: h.MessageID, FrameLength: int(h.FrameLength), Workers: cfg.workers})
	if err != nil {
		return nil, fromStream(err)
	}
	return &DecryptReaderAt{header: h, materials: m, body: body}, nil
}

// Header returns the message's header.
func (d *DecryptReaderAt) Header() *Header { return d.header }

// EncryptionContext returns the message's full authenticated context.
func (d *DecryptReaderAt) EncryptionContext() map[string]string {
	return maps.Clone(d.materials.EncryptionContext)
}

// Size returns the plaintext length.
func (d *DecryptReaderAt) Size() int64 { return d.body.Size() }

// ReadAt reads plaintext bytes [off, off+len(p)); see stream.ReaderAt.
func (d *DecryptReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.body.ReadAt(p, off)
	return n, fromStream(err)
}

// readFooter reads the signature and verifies it over the digest.
func readFooter(r io.Reader, key *ecdsa.PublicKey, digest hash.Hash) error {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return fmt.Errorf("envelope: footer: %w", ErrTruncated)
	}
	sig := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(r, sig); err != nil {
		return fmt.Errorf("envelope: footer: %w", ErrTruncated)
	}
	if !ecdsa.VerifyASN1(key, digest.Sum(nil), sig) {
		return fmt.Errorf("envelope: %w", ErrSignature)
	}
	return nil
}

// Header returns the message's header.
func (d *DecryptReader) Header() *Header { return d.header }

// EncryptionContext returns the message's full authenticated context: the
// header's pairs and the required pairs the caller supplied.
func (d *DecryptReader) EncryptionContext() map[string]string {
	return maps.Clone(d.materials.EncryptionContext)
}

// Read reads verified plaintext; see DecryptReader.
func (d *DecryptReader) Read(p []byte) (int, error) {
	n, err := d.body.Read(p)
	return n, d.ended(err)
}

// ended passes on err of the body; an error ends the hash's goroutine,
// which would otherwise wait for more until the reader is collected.
func (d *DecryptReader) ended(err error) error {
	if err != nil && err != io.EOF && d.hash != nil {
		d.hash.flush()
	}
	return fromStream(err)
}

// WriteTo writes the verified plaintext to w, frame by frame. With more
// than one frame worker and a body over a few MiB, the workers take turns
// reading the source and writing to w, so the source's Read and w's
// Write are called from several goroutines, one call at a time and each
// ordered after the one before; a panic in either reaches the caller.
func (d *DecryptReader) WriteTo(w io.Writer) (int64, error) {
	n, err := d.body.WriteTo(w)
	return n, d.ended(err)
}
