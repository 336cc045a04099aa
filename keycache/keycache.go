package keycache

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/wire"
)

// MaxMessagesLimit is the most messages one data key may encrypt.
const MaxMessagesLimit = 1 << 32

// Cache is a bounded set of cached materials. Several Managers may share
// one Cache; their partitions keep their entries apart.
type Cache struct {
	lru   *lru.Cache[string, *entry]
	evict atomic.Int64
}

// NewCache returns a cache of at most capacity entries, evicting the
// least recently used.
func NewCache(capacity int) (*Cache, error) {
	if capacity < 1 {
		return nil, errors.New("keycache: capacity must be at least 1")
	}
	c := &Cache{}
	l, err := lru.NewWithEvict(capacity, func(_ string, e *entry) { e.destroy() })
	if err != nil {
		return nil, err
	}
	c.lru = l
	return c, nil
}

// Len returns the number of entries.
func (c *Cache) Len() int { return c.lru.Len() }

// entry is one cached set of materials.
type entry struct {
	mu       sync.Mutex
	enc      *envelope.EncryptionMaterials
	dec      *envelope.DecryptionMaterials
	created  time.Time
	messages uint64
	bytes    uint64
	dead     bool
}

// destroy zeroes the entry's data key; later uses see it dead.
func (e *entry) destroy() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dead = true
	if e.enc != nil {
		clear(e.enc.DataKey)
	}
	if e.dec != nil {
		clear(e.dec.DataKey)
	}
}

// Options configure a Manager.
type Options struct {
	// MaxAge is how long an entry may be used. Required.
	MaxAge time.Duration
	// MaxMessages is how many messages one data key may encrypt; 0 means
	// MaxMessagesLimit, which is also the ceiling.
	MaxMessages uint64
	// MaxBytes is how many plaintext bytes one data key may encrypt; 0
	// means 2^63-1.
	MaxBytes uint64
	// Partition keeps this manager's entries apart from other managers of
	// the same Cache; empty means a random partition.
	Partition string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnEvent, if set, is called with every cache decision.
	OnEvent func(Event)
	// Logger, if set, logs every cache decision at debug level. Nothing
	// secret is logged: the entry ID is a hash.
	Logger *slog.Logger
}

// EventKind says what the cache did.
type EventKind string

const (
	Hit       EventKind = "hit"
	Miss      EventKind = "miss"
	Bypass    EventKind = "bypass"
	Expired   EventKind = "expired"
	Exhausted EventKind = "exhausted"
	Refused   EventKind = "refused"
)

// Event is one cache decision.
type Event struct {
	Kind    EventKind
	Encrypt bool   // an encrypt request; false for decrypt
	ID      string // hex of the first 8 bytes of the entry ID
}

// Stats are a Manager's counters since it was made. Every request is
// counted once as a hit (served by a cached entry, or by a concurrent
// request's call), a miss (made the underlying call), a bypass, or a
// refusal (a decrypt request whose expected context contradicts the
// message's, refused without an underlying call).
type Stats struct {
	Hits            int64 `json:"hits"`
	Misses          int64 `json:"misses"`
	Bypasses        int64 `json:"bypasses"`
	Refused         int64 `json:"refused"`
	UnderlyingCalls int64 `json:"underlying_calls"` // requests passed to the underlying manager (KMS calls behind it)
	Expired         int64 `json:"expired"`          // entries retired for age
	Exhausted       int64 `json:"exhausted"`        // entries retired for reaching a message or byte limit
	Evictions       int64 `json:"evictions"`        // entries of the shared Cache evicted for capacity
	EncryptHits     int64 `json:"encrypt_hits"`
	DecryptHits     int64 `json:"decrypt_hits"`
}

// Manager is the caching materials manager.
type Manager struct {
	under                                                               envelope.MaterialsManager
	cache                                                               *Cache
	opts                                                                Options
	partHash                                                            [sha512.Size]byte
	flight                                                              flight
	hits, misses, bypasses, calls, expired, exhausted, encHits, decHits atomic.Int64
	refused                                                             atomic.Int64
}

// New returns a caching manager over under, storing entries in cache.
func New(under envelope.MaterialsManager, cache *Cache, opts Options) (*Manager, error) {
	if under == nil || cache == nil {
		return nil, errors.New("keycache: nil materials manager or cache")
	}
	if opts.MaxAge <= 0 {
		return nil, errors.New("keycache: MaxAge is required and must be positive")
	}
	if opts.MaxMessages == 0 {
		opts.MaxMessages = MaxMessagesLimit
	}
	if opts.MaxMessages > MaxMessagesLimit {
		return nil, fmt.Errorf("keycache: MaxMessages %d above the limit of 2^32", opts.MaxMessages)
	}
	if opts.MaxBytes == 0 || opts.MaxBytes > math.MaxInt64 {
		opts.MaxBytes = math.MaxInt64
	}
	if opts.Partition == "" {
		var b [16]byte
		rand.Read(b[:])
		opts.Partition = hex.EncodeToString(b[:])
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{under: under, cache: cache, opts: opts}
	m.partHash = sha512.Sum512([]byte(opts.Partition))
	return m, nil
}

// NewWithKeyring returns a caching manager over the default materials
// manager of kr.
func NewWithKeyring(kr envelope.Keyring, cache *Cache, opts Options) (*Manager, error) {
	return New(envelope.NewDefaultMaterialsManager(kr), cache, opts)
}

// Stats returns the manager's counters.
func (m *Manager) Stats() Stats {
	return Stats{
		Hits: m.hits.Load(), Misses: m.misses.Load(), Bypasses: m.bypasses.Load(), Refused: m.refused.Load(),
		UnderlyingCalls: m.calls.Load(), Expired: m.expired.Load(), Exhausted: m.exhausted.Load(),
		Evictions: m.cache.evict.Load(), EncryptHits: m.encHits.Load(), DecryptHits: m.decHits.Load(),
	}
}

func (m *Manager) event(kind EventKind, enc bool, id *entryID) {
	switch kind {
	case Hit:
		m.hits.Add(1)
		if enc {
			m.encHits.Add(1)
		} else {
			m.decHits.Add(1)
		}
	case Miss:
		m.misses.Add(1)
	case Bypass:
		m.bypasses.Add(1)
	case Expired:
		m.expired.Add(1)
	case Exhausted:
		m.exhausted.Add(1)
	case Refused:
		m.refused.Add(1)
	}
	if m.opts.OnEvent == nil && m.opts.Logger == nil {
		return
	}
	short := id.short(m)
	if m.opts.OnEvent != nil {
		m.opts.OnEvent(Event{Kind: kind, Encrypt: enc, ID: short})
	}
	if m.opts.Logger != nil {
		m.opts.Logger.Debug("keycache", "decision", string(kind), "encrypt", enc, "entry", short, "partition", m.opts.Partition)
	}
}

// identityKDF reports the suites whose data key is the message key
// (0x0014, 0x0046, 0x0078): they must never be cached.
func identityKDF(id envelope.SuiteID) bool {
	return id == 0x0014 || id == 0x0046 || id == 0x0078
}

// GetEncryptionMaterials implements envelope.MaterialsManager.
func (m *Manager) GetEncryptionMaterials(ctx context.Context, req *envelope.EncryptionRequest) (*envelope.EncryptionMaterials, error) {
	if req.PlaintextLength < 0 || identityKDF(req.Suite) || uint64(req.PlaintextLength) > m.opts.MaxBytes {
		m.event(Bypass, true, nil)
		m.calls.Add(1)
		return m.under.GetEncryptionMaterials(ctx, req)
	}
	id, err := m.encryptID(req)
	if err != nil {
		return nil, err
	}
	n := uint64(req.PlaintextLength)
	// Each pass either charges a live entry or finds it used up, so every
	// pass makes progress for someone; under contention a request may lose
	// a few races for the last uses of an entry.
	for ctx.Err() == nil {
		e, hit := m.live(id.key)
		var err error
		var own *envelope.EncryptionMaterials // this request's fill, if it made one
		if !hit {
			e, hit, err = m.lookup(ctx, id, true, func() (*entry, error) {
				under := *req
				under.EncryptionContext = maps.Clone(req.EncryptionContext)
				under.PlaintextLength = -1 // the spec strips it from the underlying request
				em, err := m.under.GetEncryptionMaterials(ctx, &under)
				if err != nil {
					return nil, err
				}
				e := &entry{enc: em, created: m.opts.Now()}
				if identityKDF(em.Suite) {
					e = &entry{enc: em, dead: true} // never stored
				}
				own = m.ownEncrypt(e, id, n)
				return e, nil
			})
		}
		if err != nil {
			return nil, err
		}
		if own != nil {
			return own, nil
		}
		out, ok := m.useEncrypt(e, id, n, hit)
		if ok {
			return out, nil
		}
	}
	return nil, ctx.Err()
}

// ownEncrypt serves the request that filled e from it, before e is cached
// (so that no other request's add can evict it, zeroing its key, before
// its filler used it: a filler makes one underlying call, never more): it
// charges one message of n bytes and returns a copy of the materials. An
// entry this use exhausts, or one that may not be cached (dead already),
// is killed and never cached.
func (m *Manager) ownEncrypt(e *entry, id entryID, n uint64) *envelope.EncryptionMaterials {
	e.mu.Lock()
	out := copyEnc(e.enc, id.enc)
	uncachable := e.dead
	e.messages, e.bytes = 1, n
	switch {
	case uncachable:
		m.kill(id.key, e)
	case e.messages == m.opts.MaxMessages || e.bytes == m.opts.MaxBytes:
		m.kill(id.key, e) // used up: never cached
		m.event(Exhausted, true, &id)
	default:
		e.mu.Unlock()
	}
	return out
}

// useEncrypt charges one message of n bytes to e and returns a copy of its
// materials, or reports that e is too old, exhausted or gone.
func (m *Manager) useEncrypt(e *entry, id entryID, n uint64, hit bool) (*envelope.EncryptionMaterials, bool) {
	e.mu.Lock()
	if e.dead { // used up, evicted, or uncachable (its filler used it)
		e.mu.Unlock()
		return nil, false
	}
	switch {
	case m.opts.Now().Sub(e.created) > m.opts.MaxAge:
		m.kill(id.key, e)
		m.event(Expired, true, &id)
		return nil, false
	case e.messages+1 > m.opts.MaxMessages || e.bytes+n > m.opts.MaxBytes:
		m.kill(id.key, e)
		m.event(Exhausted, true, &id)
		return nil, false
	}
	e.messages++
	e.bytes += n
	out := copyEnc(e.enc, id.enc)
	if e.messages == m.opts.MaxMessages || e.bytes == m.opts.MaxBytes {
		m.kill(id.key, e) // used up: no later request need find it
		m.event(Exhausted, true, &id)
	} else {
		e.mu.Unlock()
	}
	if hit {
		m.event(Hit, true, &id)
	}
	return out, true
}

// kill marks e dead, zeroes its data key, unlocks it and takes it out of
// the cache if it is still the entry for id. The caller holds e.mu.
func (m *Manager) kill(id string, e *entry) {
	e.dead = true
	if e.enc != nil {
		clear(e.enc.DataKey)
	}
	if e.dec != nil {
		clear(e.dec.DataKey)
	}
	e.mu.Unlock()
	// Not atomic with the Peek: at worst a fresh entry for id is dropped,
	// which costs one more underlying call, never a limit.
	if cur, ok := m.cache.lru.Peek(id); ok && cur == e {
		m.cache.lru.Remove(id)
	}
}

// lookup returns the live entry for id, creating it with fill on a miss;
// concurrent misses for one id share one fill, which runs on the
// goroutine, and under the context, of the request that started it (a
// panic in the underlying manager reaches that request's caller). A
// request waits for another's fill only as long as its own context
// allows, and one whose context is live tries again, under its own, when
// the fill it shared failed on its starter's cancellation or deadline.
// Callers look for a live entry first (m.live), so that a hit builds no
// fill closure; the fill looks again, under the flight, and on each try.
func (m *Manager) lookup(ctx context.Context, id entryID, enc bool, fill func() (*entry, error)) (*entry, bool, error) {
	for {
		filled := false // whether this request made the underlying call
		e, leader, err := m.flight.do(ctx, id.key, func() (*entry, error) {
			if e, ok := m.live(id.key); ok { // filled while we waited
				return e, nil
			}
			filled = true
			m.event(Miss, enc, &id)
			m.calls.Add(1)
			e, err := fill()
			if err != nil {
				return nil, err
			}
			if !e.dead {
				if evicted := m.cache.lru.Add(id.key, e); evicted {
					m.cache.evict.Add(1)
				}
			}
			return e, nil
		})
		if err != nil {
			if !leader && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				continue // another request's cancellation, not ours
			}
			return nil, false, err
		}
		// Requests that shared another's call are hits: Hits + Misses +
		// Bypasses counts every request once.
		return e, !filled, nil
	}
}

// flight shares one fill among the concurrent misses of a key.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	e    *entry
	err  error
}

// errFillPanicked is what the requests waiting for a fill that panicked
// get; the panic goes on in the request that ran it.
var errFillPanicked = errors.New("keycache: the underlying materials manager panicked")

// do runs fill for key unless a fill for key is in flight, and else waits
// for that one as long as ctx allows. leader reports whether it ran fill.
func (f *flight) do(ctx context.Context, key string, fill func() (*entry, error)) (e *entry, leader bool, err error) {
	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.e, false, c.err
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	c := &flightCall{done: make(chan struct{}), err: errFillPanicked}
	f.calls[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.e, c.err = fill()
	return c.e, true, c.err
}

// live returns the cached entry for id unless it is dead, dropping a dead
// one that is still linked.
func (m *Manager) live(id string) (*entry, bool) {
	e, ok := m.cache.lru.Get(id)
	if !ok {
		return nil, false
	}
	e.mu.Lock()
	dead := e.dead
	e.mu.Unlock()
	if dead {
		if cur, ok := m.cache.lru.Peek(id); ok && cur == e {
			m.cache.lru.Remove(id)
		}
		return nil, false
	}
	return e, true
}

// DecryptMaterials implements envelope.MaterialsManager.
func (m *Manager) DecryptMaterials(ctx context.Context, req *envelope.DecryptionRequest) (*envelope.DecryptionMaterials, error) {
	// A contradiction between the caller's and the message's context is
	// known from the request alone: no entry, no underlying call.
	if len(req.ReproducedContext) > 0 {
		for _, k := range slices.Sorted(maps.Keys(req.ReproducedContext)) {
			if v, ok := req.EncryptionContext[k]; ok && v != req.ReproducedContext[k] {
				m.event(Refused, false, nil)
				return nil, fmt.Errorf("keycache: context key %q has another value in the message: %w", k, envelope.ErrContextMismatch)
			}
		}
	}
	if identityKDF(req.Suite) {
		m.event(Bypass, false, nil)
		m.calls.Add(1)
		return m.under.DecryptMaterials(ctx, req)
	}
	id, err := m.decryptID(req)
	if err != nil {
		return nil, err
	}
	for ctx.Err() == nil {
		e, hit := m.live(id.key)
		var err error
		var own *envelope.DecryptionMaterials // this request's fill, if it made one
		if !hit {
			e, hit, err = m.lookup(ctx, id, false, func() (*entry, error) {
				dm, err := m.under.DecryptMaterials(ctx, req)
				if err != nil {
					return nil, err
				}
				// Copied before the entry is cached: an eviction
				// cannot zero the key its filler is served.
				own = copyDec(dm, req)
				return &entry{dec: dm, created: m.opts.Now()}, nil
			})
		}
		if err != nil {
			return nil, err
		}
		if own != nil {
			return own, nil
		}
		e.mu.Lock()
		if e.dead {
			e.mu.Unlock()
			continue
		}
		if m.opts.Now().Sub(e.created) > m.opts.MaxAge {
			m.kill(id.key, e)
			m.event(Expired, false, &id)
			continue
		}
		out := copyDec(e.dec, req)
		e.mu.Unlock()
		if hit {
			m.event(Hit, false, &id)
		}
		return out, nil
	}
	return nil, ctx.Err()
}

// withKey is a copy of materials M and, in the same allocation, room for
// its data key (the caller zeroes it; the cache keeps its own) and for one
// encrypted data key.
type withKey[M any] struct {
	m   M
	key [32]byte
	edk [1]envelope.EncryptedDataKey
}

// cloneKey returns a copy of dk in key if it fits, else in a new slice;
// nil stays nil.
func cloneKey(key *[32]byte, dk []byte) []byte {
	if dk == nil || len(dk) > len(key) {
		return bytes.Clone(dk)
	}
	return key[:copy(key[:], dk):len(dk)]
}

// contextFor returns the context for materials handed out: the request's
// own map if the cached context ec has exactly its pairs (materials may
// share the request's map, as the default manager's do), else a copy of
// ec. Never the cache's map, which a caller might change.
func contextFor(ec, req map[string]string) map[string]string {
	if maps.Equal(ec, req) {
		return req
	}
	return maps.Clone(ec)
}

// copyEnc copies em deeply, for the request req, but for the fields
// envelope keeps read-only.
func copyEnc(em *envelope.EncryptionMaterials, req *envelope.EncryptionRequest) *envelope.EncryptionMaterials {
	c := &withKey[envelope.EncryptionMaterials]{m: *em}
	c.m.EncryptionContext = contextFor(em.EncryptionContext, req.EncryptionContext)
	c.m.DataKey = cloneKey(&c.key, em.DataKey)
	c.m.EncryptedDataKeys = append(c.edk[:0], em.EncryptedDataKeys...)
	return &c.m
}

func copyDec(dm *envelope.DecryptionMaterials, req *envelope.DecryptionRequest) *envelope.DecryptionMaterials {
	c := &withKey[envelope.DecryptionMaterials]{m: *dm}
	c.m.EncryptionContext = contextFor(dm.EncryptionContext, req.EncryptionContext)
	c.m.DataKey = cloneKey(&c.key, dm.DataKey)
	return &c.m
}

// maxExactKey is the longest entry key kept as the bytes that decide the
// entry; a longer one (a message of many or large data keys, a large
// context) is its SHA-512 ID, so a key is at most this long.
const maxExactKey = 1024

// entryID names an entry: key, what the Cache looks it up by (the package
// doc gives its layout), and the request it came from, from which the
// SHA-512 ID is computed only when an event reports it. Every field of key
// is fixed, counted or length-prefixed, so distinct inputs give distinct
// keys; it is never logged (it holds the context).
type entryID struct {
	key string
	enc *envelope.EncryptionRequest
	dec *envelope.DecryptionRequest
}

// short returns the hex of the first 8 bytes of the SHA-512 ID, as events
// and logs show it; "" for a request that has none.
func (id *entryID) short(m *Manager) string {
	var full string
	switch {
	case id == nil:
		return ""
	case id.key[0] == 'h':
		full = id.key[1:]
	case id.enc != nil:
		full, _ = m.encryptHash(id.enc)
	case id.dec != nil:
		full, _ = m.decryptHash(id.dec)
	}
	if len(full) < 8 {
		return ""
	}
	return hex.EncodeToString([]byte(full[:8]))
}

// encryptID returns the entry ID of an encrypt request.
func (m *Manager) encryptID(req *envelope.EncryptionRequest) (entryID, error) {
	var buf [maxExactKey]byte // on the stack
	b := append(buf[:0], 'e')
	b = append(b, m.partHash[:]...)
	b = appendSuite(b, req.Suite)
	b = append(b, byte(req.CommitmentPolicy))
	b, err := wire.AppendContext(b, req.EncryptionContext)
	if err != nil {
		return entryID{}, err
	}
	if len(b) > maxExactKey {
		h, err := m.encryptHash(req)
		return entryID{key: "h" + h, enc: req}, err
	}
	return entryID{key: string(b), enc: req}, nil
}

// appendSuite appends 00 for no suite, else 01 | suite.
func appendSuite(b []byte, s envelope.SuiteID) []byte {
	if s == 0 {
		return append(b, 0)
	}
	return append(b, 1, byte(s>>8), byte(s))
}

// decryptID returns the entry ID of a decrypt request. Its data keys must
// fit a header, as a parsed message's do: both IDs serialize them with
// 16-bit lengths, which a longer field would wrap, and so two distinct
// sets of data keys would share an entry.
func (m *Manager) decryptID(req *envelope.DecryptionRequest) (entryID, error) {
	if len(req.EncryptedDataKeys) > 1<<16-1 {
		return entryID{}, fmt.Errorf("keycache: %d encrypted data keys, more than a header holds: %w", len(req.EncryptedDataKeys), envelope.ErrMalformedHeader)
	}
	for _, k := range req.EncryptedDataKeys {
		if n := max(len(k.ProviderID), len(k.ProviderInfo), len(k.Ciphertext)); n > 1<<16-1 {
			return entryID{}, fmt.Errorf("keycache: encrypted data key field of %d bytes, more than a header holds: %w", n, envelope.ErrMalformedHeader)
		}
	}
	var buf [maxExactKey]byte // on the stack
	b := append(buf[:0], 'd')
	b = append(b, m.partHash[:]...)
	b = append(b, byte(req.Suite>>8), byte(req.Suite), byte(req.CommitmentPolicy))
	b = binary.BigEndian.AppendUint16(b, uint16(len(req.EncryptedDataKeys)))
	var at [4]int // where each data key starts
	starts := at[:0]
	for _, k := range req.EncryptedDataKeys {
		if len(starts) == len(at) || len(b)+6+len(k.ProviderID)+len(k.ProviderInfo)+len(k.Ciphertext) > maxExactKey {
			break // more than an exact key holds: hashed below
		}
		starts = append(starts, len(b))
		b = wire.AppendEncryptedDataKey(b, k.ProviderID, k.ProviderInfo, k.Ciphertext)
	}
	if len(b) > maxExactKey || len(starts) < len(req.EncryptedDataKeys) {
		h, err := m.decryptHash(req)
		return entryID{key: "h" + h, dec: req}, err
	}
	if len(starts) > 1 {
		sortRuns(b, starts)
	}
	for _, ec := range []map[string]string{req.EncryptionContext, req.ReproducedContext} {
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		var err error
		if b, err = wire.AppendContext(b, ec); err != nil {
			return entryID{}, err
		}
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	if len(b) > maxExactKey {
		h, err := m.decryptHash(req)
		return entryID{key: "h" + h, dec: req}, err
	}
	return entryID{key: string(b), dec: req}, nil
}

// sortRuns sorts the runs of b that start at starts (at most 4, in
// order; the last ends at len(b)) by their bytes, in place: by insertion,
// for the few data keys a message has.
func sortRuns(b []byte, starts []int) {
	var runs [4][2]int
	for i, s := range starts {
		end := len(b)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		runs[i] = [2]int{s, end}
	}
	for i := 1; i < len(starts); i++ {
		for j := i; j > 0 && bytes.Compare(b[runs[j][0]:runs[j][1]], b[runs[j-1][0]:runs[j-1][1]]) < 0; j-- {
			runs[j], runs[j-1] = runs[j-1], runs[j]
		}
	}
	var sb [maxExactKey]byte
	sorted := sb[:0]
	for _, r := range runs[:len(starts)] {
		sorted = append(sorted, b[r[0]:r[1]]...)
	}
	copy(b[starts[0]:], sorted)
}

// encryptHash computes the encrypt entry's SHA-512 ID (see the package doc).
func (m *Manager) encryptHash(req *envelope.EncryptionRequest) (string, error) {
	var ecb [512]byte // serialized context, on the stack when it fits
	ec, err := wire.AppendContext(ecb[:0], req.EncryptionContext)
	if err != nil {
		return "", err
	}
	// partition hash | 00, or 01 | suite | context hash | policy byte
	var b [sha512.Size + 3 + sha512.Size + 1]byte
	n := copy(b[:], m.partHash[:])
	n += len(appendSuite(b[n:n], req.Suite))
	ech := sha512.Sum512(ec)
	n += copy(b[n:], ech[:])
	// The policy decides the default suite and what may be used.
	b[n] = byte(req.CommitmentPolicy)
	id := sha512.Sum512(b[:n+1])
	return string(id[:]), nil
}

// decryptHash computes the decrypt entry's SHA-512 ID (see the package doc).
func (m *Manager) decryptHash(req *envelope.DecryptionRequest) (string, error) {
	// The hashes of a few data keys, the serialized data key and context:
	// on the stack when they fit.
	var hbuf [4][sha512.Size]byte
	var buf [512]byte
	edks := hbuf[:0]
	for _, k := range req.EncryptedDataKeys {
		edks = append(edks, sha512.Sum512(wire.AppendEncryptedDataKey(buf[:0], k.ProviderID, k.ProviderInfo, k.Ciphertext)))
	}
	slices.SortFunc(edks, func(a, b [sha512.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	ec, err := wire.AppendContext(buf[:0], req.EncryptionContext)
	if err != nil {
		return "", err
	}
	ech := sha512.Sum512(ec)
	h := sha512.New()
	h.Write(m.partHash[:])
	h.Write([]byte{byte(req.Suite >> 8), byte(req.Suite)})
	for _, d := range edks {
		h.Write(d[:])
	}
	h.Write(make([]byte, 64))
	h.Write(ech[:])
	if len(req.ReproducedContext) > 0 {
		rc, err := wire.AppendContext(nil, req.ReproducedContext)
		if err != nil {
			return "", err
		}
		rch := sha512.Sum512(rc)
		h.Write(rch[:])
	}
	h.Write([]byte{byte(req.CommitmentPolicy)})
	return string(h.Sum(hbuf[0][:0])), nil
}
