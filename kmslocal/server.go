package kmslocal

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for Options.Region and Options.Account.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "111122223333"
)

// CountsPath is the HTTP path serving Counts as a JSON object (GET).
const CountsPath = "/_kmslocal/counts"

const (
	targetPrefix   = "TrentService."
	contentType    = "application/x-amz-json-1.1"
	maxRequestBody = 1 << 20
	unknownOp      = "_unknown"
)

// Options configures a Server. The zero value is an empty, in-memory server
// in DefaultRegion / DefaultAccount.
type Options struct {
	// Region and Account appear in ARNs. Empty means the seed file's value,
	// then DefaultRegion / DefaultAccount.
	Region  string
	Account string
	// SeedFile, if set, is a JSON SeedFile whose keys and aliases are
	// loaded at start.
	SeedFile string
	// DataDir, if set, holds the persisted state (created with mode 0700);
	// every mutation rewrites it atomically with mode 0600.
	DataDir string
	// Logger receives request logs; nil discards them. Key material and
	// plaintexts are never logged.
	Logger *slog.Logger
}

// Server is a KMS-compatible http.Handler. It is safe for concurrent use.
type Server struct {
	region, account string
	arnPrefix       string // arn:<partition>:kms:<region>:<account>:
	log             *slog.Logger
	st              *store
	ops             map[string]handler
	counts          map[string]*atomic.Int64 // fixed key set; values atomic
	now             func() time.Time
}

type handler func(s *Server, ctx context.Context, body []byte) (any, error)

// New returns a Server configured by opts. It loads DataDir state first,
// then merges SeedFile (a seed key already persisted must have the same
// material).
func New(opts Options) (*Server, error) {
	st := newStore()
	var seed *SeedFile
	if opts.SeedFile != "" {
		var err error
		if seed, err = readSeed(opts.SeedFile); err != nil {
			return nil, err
		}
	}
	if opts.DataDir != "" {
		if err := st.loadState(opts.DataDir); err != nil {
			return nil, err
		}
	}
	s := &Server{
		region:  first(opts.Region, seedField(seed, func(f *SeedFile) string { return f.Region }), DefaultRegion),
		account: first(opts.Account, seedField(seed, func(f *SeedFile) string { return f.Account }), DefaultAccount),
		log:     opts.Logger,
		st:      st,
		ops:     handlers(),
		counts:  map[string]*atomic.Int64{unknownOp: new(atomic.Int64)},
		now:     time.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.arnPrefix = "arn:" + partition(s.region) + ":kms:" + s.region + ":" + s.account + ":"
	for name := range s.ops {
		s.counts[name] = new(atomic.Int64)
	}
	if seed != nil {
		if err := st.applySeed(seed, s.now().UTC()); err != nil {
			return nil, err
		}
	}
	if err := st.update(func() (func(), error) { return nil, nil }); err != nil {
		return nil, err
	}
	return s, nil
}

func first(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func seedField(sf *SeedFile, f func(*SeedFile) string) string {
	if sf == nil {
		return ""
	}
	return f(sf)
}

func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// Region returns the region used in ARNs.
func (s *Server) Region() string { return s.region }

// Account returns the account id used in ARNs.
func (s *Server) Account() string { return s.account }

// KeyARN returns the ARN of key id (whether or not the key exists).
func (s *Server) KeyARN(id string) string { return s.arnPrefix + "key/" + id }

func (s *Server) aliasARN(name string) string { return s.arnPrefix + name }

// Counts returns the number of calls per operation since start or the last
// ResetCounts, including failed calls; operations never called are
// omitted. Unknown targets are counted under "_unknown".
func (s *Server) Counts() map[string]int64 {
	m := make(map[string]int64)
	for name, c := range s.counts {
		if n := c.Load(); n != 0 {
			m[name] = n
		}
	}
	return m
}

// ResetCounts sets all counts to zero.
func (s *Server) ResetCounts() {
	for _, c := range s.counts {
		c.Store(0)
	}
}

// ServeHTTP serves the KMS JSON protocol on POST and Counts on GET CountsPath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == CountsPath {
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Counts())
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	h := s.ops[op]
	if !ok || h == nil {
		s.counts[unknownOp].Add(1)
		s.writeError(w, r, bounded(target), apiErr(ErrUnsupportedOperation, "unknown operation %q", bounded(target)))
		return
	}
	s.counts[op].Add(1)
	if r.Method != http.MethodPost {
		s.writeError(w, r, op, apiErr(ErrValidation, "method %s not allowed", r.Method))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		s.writeError(w, r, op, apiErr(ErrSerialization, "reading request body: %v", err))
		return
	}
	out, err := h(s, r.Context(), body)
	if err != nil {
		s.writeError(w, r, op, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, r, op, apiErr(ErrInternal, "encoding response: %v", err))
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.Write(b)
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "kms request", slog.String("op", op),
		slog.String("access_key", accessKeyID(r)), slog.Int("status", http.StatusOK))
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = apiErr(ErrInternal, "%v", err)
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.WriteHeader(e.status())
	w.Write(b)
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "kms request failed", slog.String("op", op),
		slog.String("access_key", accessKeyID(r)), slog.Int("status", e.status()),
		slog.String("error", e.Code), slog.String("message", e.Message))
}

// accessKeyID extracts the SigV4 access key id (signatures are not checked).
func accessKeyID(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(cred, "/")
	if len(id) > 128 {
		id = id[:128]
	}
	return id
}

// resolve finds the key named by a key id, key ARN, alias name or alias
// ARN. Call with s.st.mu held.
func (s *Server) resolveLocked(ref string) (*key, error) {
	if ref == "" {
		return nil, apiErr(ErrValidation, "KeyId is required")
	}
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		rest, ok := strings.CutPrefix(ref, s.arnPrefix)
		if !ok {
			return nil, apiErr(ErrNotFound, "%s is not in this region and account (%s)", bounded(ref), strings.TrimSuffix(s.arnPrefix, ":"))
		}
		if id, ok := strings.CutPrefix(rest, "key/"); ok {
			name = id
		} else if strings.HasPrefix(rest, "alias/") {
			name = rest
		} else {
			return nil, apiErr(ErrNotFound, "invalid ARN %s", bounded(ref))
		}
	}
	if strings.HasPrefix(name, "alias/") {
		a, ok := s.st.aliases[name]
		if !ok {
			return nil, apiErr(ErrNotFound, "Alias %s is not found.", s.aliasARN(bounded(name)))
		}
		name = a.target
	}
	k, ok := s.st.keys[name]
	if !ok {
		return nil, apiErr(ErrNotFound, "Key '%s' does not exist", s.KeyARN(bounded(name)))
	}
	return k, nil
}

// resolve is resolveLocked under the read lock; it returns a copy.
func (s *Server) resolve(ref string) (key, error) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	k, err := s.resolveLocked(ref)
	if err != nil {
		return key{}, err
	}
	return *k, nil
}

// KeyOptions configures Server.CreateKey.
type KeyOptions struct {
	Description string
	MultiRegion bool     // key id "mrk-<32 hex>" instead of a UUID
	KeySpec     string   // SYMMETRIC_DEFAULT (""), HMAC_256 or ECC_NIST_P256
	Material    []byte   // 32 bytes (see SeedKey); nil generates random material
	Aliases     []string // alias/<name>, created pointing at the key
}

// Key identifies a key.
type Key struct {
	ID  string
	ARN string
}

// CreateKey creates an enabled key with the default key policy, as the
// CreateKey operation does, plus optional fixed material and aliases.
func (s *Server) CreateKey(ctx context.Context, o KeyOptions) (Key, error) {
	if err := ctx.Err(); err != nil {
		return Key{}, err
	}
	k, err := s.newKey(o)
	if err != nil {
		return Key{}, err
	}
	err = s.st.update(func() (func(), error) {
		for _, a := range o.Aliases {
			if _, ok := s.st.aliases[a]; ok {
				return nil, apiErr(ErrAlreadyExists, "An alias with the name %s already exists", s.aliasARN(a))
			}
		}
		s.addLocked(k, o.Aliases)
		return func() { s.removeLocked(k, o.Aliases) }, nil
	})
	if err != nil {
		return Key{}, err
	}
	return Key{ID: k.id, ARN: s.KeyARN(k.id)}, nil
}

// newKey checks o and makes the key it describes.
func (s *Server) newKey(o KeyOptions) (*key, error) {
	spec := cmp.Or(o.KeySpec, symmetricDefault)
	if _, ok := specs[spec]; !ok {
		return nil, apiErr(ErrUnsupportedOperation, "KeySpec %q is not supported; only %s, %s and %s", bounded(spec), symmetricDefault, hmac256, eccNistP256)
	}
	if o.Material != nil {
		if err := checkMaterial(spec, o.Material); err != nil {
			return nil, apiErr(ErrValidation, "key material is not a %s key of %d bytes", spec, keyMaterialN)
		}
	}
	for _, a := range o.Aliases {
		if err := validAliasName(a); err != nil {
			return nil, err
		}
	}
	now := s.now().UTC()
	if o.Material == nil {
		return newSpecKey(o.Description, o.MultiRegion, spec, now)
	}
	k, err := newKey(o.Description, o.MultiRegion, o.Material, now)
	if err != nil {
		return nil, err
	}
	k.spec = spec
	return k, nil
}

func (s *Server) addLocked(k *key, aliases []string) {
	s.st.keys[k.id] = k
	for _, a := range aliases {
		s.st.aliases[a] = &alias{target: k.id, created: k.created, updated: k.created}
	}
}

func (s *Server) removeLocked(k *key, aliases []string) {
	delete(s.st.keys, k.id)
	for _, a := range aliases {
		delete(s.st.aliases, a)
	}
}

// EnsureKey returns the key alias names, creating an enabled key of
// KeySpec spec ("" is SYMMETRIC_DEFAULT) with that alias when the alias
// does not exist; created says which. An existing alias whose key has
// another KeySpec is an ErrValidation error: the caller asked for a key
// it does not get.
func (s *Server) EnsureKey(ctx context.Context, aliasName, spec string) (k Key, created bool, err error) {
	if err := ctx.Err(); err != nil {
		return Key{}, false, err
	}
	spec = cmp.Or(spec, symmetricDefault)
	nk, err := s.newKey(KeyOptions{KeySpec: spec, Aliases: []string{aliasName}})
	if err != nil {
		return Key{}, false, err
	}
	err = s.st.update(func() (func(), error) {
		if a, ok := s.st.aliases[aliasName]; ok {
			old := s.st.keys[a.target]
			if old.spec != spec {
				return nil, apiErr(ErrValidation, "alias %s names key %s of KeySpec %s, not %s", aliasName, old.id, old.spec, spec)
			}
			k = Key{ID: old.id, ARN: s.KeyARN(old.id)}
			return nil, nil
		}
		s.addLocked(nk, []string{aliasName})
		k, created = Key{ID: nk.id, ARN: s.KeyARN(nk.id)}, true
		return func() { s.removeLocked(nk, []string{aliasName}) }, nil
	})
	if err != nil {
		return Key{}, false, err
	}
	return k, created, nil
}

// Alias is an alias and the key it names.
type Alias struct {
	Name string // alias/<name>
	Key  Key
}

// Aliases returns all aliases, sorted by name.
func (s *Server) Aliases() []Alias {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := make([]Alias, 0, len(s.st.aliases))
	for name, a := range s.st.aliases {
		out = append(out, Alias{Name: name, Key: Key{ID: a.target, ARN: s.KeyARN(a.target)}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Keys returns all keys, sorted by id.
func (s *Server) Keys() []Key {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := make([]Key, 0, len(s.st.keys))
	for id := range s.st.keys {
		out = append(out, Key{ID: id, ARN: s.KeyARN(id)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
