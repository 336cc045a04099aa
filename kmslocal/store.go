package kmslocal

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// stateFile is the name of the persisted state inside Options.DataDir.
const stateFile = "kmslocal-state.json"

type key struct {
	id             string
	spec           string // KeySpec: SYMMETRIC_DEFAULT, HMAC_256 or ECC_NIST_P256 (P-256 scalar)
	material       []byte // 32 bytes, never mutated after creation; safe to share
	description    string
	enabled        bool
	multiRegion    bool
	created        time.Time
	rotation       bool
	rotationPeriod int32
	rotationSince  time.Time
	policy         string // key policy JSON; "" is the default policy
}

type alias struct {
	target  string
	created time.Time
	updated time.Time
}

// store holds keys and aliases. mu guards everything; persistence happens
// with mu held so the file always reflects a prefix of the mutations.
type store struct {
	mu      sync.RWMutex
	keys    map[string]*key
	aliases map[string]*alias
	path    string // "" disables persistence
}

// SeedFile is the JSON layout of Options.SeedFile.
type SeedFile struct {
	Region  string    `json:"region,omitempty"`
	Account string    `json:"account,omitempty"`
	Keys    []SeedKey `json:"keys"`
}

// SeedKey is one key of a SeedFile. Material is exactly 32 bytes
// (base64 in JSON): an AES-256 key, an HMAC key, or a P-256 private
// scalar (big-endian) as KeySpec says (default SYMMETRIC_DEFAULT).
// Enabled defaults to true when omitted; Policy, the key policy JSON, to
// the default key policy.
type SeedKey struct {
	ID          string   `json:"id"`
	KeySpec     string   `json:"keySpec,omitempty"`
	Material    []byte   `json:"material"`
	Aliases     []string `json:"aliases,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
	MultiRegion bool     `json:"multiRegion,omitempty"`
	Description string   `json:"description,omitempty"`
	Policy      string   `json:"policy,omitempty"`
}

// persisted state, written to DataDir/stateFile.
type stateJSON struct {
	Version int         `json:"version"`
	Keys    []keyJSON   `json:"keys"`
	Aliases []aliasJSON `json:"aliases"`
}

type keyJSON struct {
	ID             string    `json:"id"`
	KeySpec        string    `json:"keySpec,omitempty"` // "" for SYMMETRIC_DEFAULT
	Material       []byte    `json:"material"`
	Description    string    `json:"description,omitempty"`
	Enabled        bool      `json:"enabled"`
	MultiRegion    bool      `json:"multiRegion,omitempty"`
	Created        time.Time `json:"created"`
	Rotation       bool      `json:"rotation,omitempty"`
	RotationPeriod int32     `json:"rotationPeriodDays,omitempty"`
	RotationSince  time.Time `json:"rotationSince,omitzero"`
	Policy         string    `json:"policy,omitempty"` // "" for the default policy
}

type aliasJSON struct {
	Name    string    `json:"name"`
	Target  string    `json:"target"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func newStore() *store {
	return &store{keys: map[string]*key{}, aliases: map[string]*alias{}}
}

// readSeed parses a seed file.
func readSeed(path string) (*SeedFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kmslocal: seed: %w", err)
	}
	var sf SeedFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("kmslocal: seed %s: %w", path, err)
	}
	return &sf, nil
}

// loadState reads DataDir state, if any. Call before the store is shared.
func (st *store) loadState(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kmslocal: data dir: %w", err)
	}
	st.path = filepath.Join(dir, stateFile)
	b, err := os.ReadFile(st.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kmslocal: state: %w", err)
	}
	var s stateJSON
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("kmslocal: state %s: %w", st.path, err)
	}
	if s.Version != 1 {
		return fmt.Errorf("kmslocal: state %s: unsupported version %d", st.path, s.Version)
	}
	for _, k := range s.Keys {
		spec := k.KeySpec
		if spec == "" {
			spec = symmetricDefault
		}
		if !validKeyID(k.ID) || len(k.Material) != keyMaterialN || checkMaterial(spec, k.Material) != nil {
			return fmt.Errorf("kmslocal: state %s: invalid key %q", st.path, k.ID)
		}
		st.keys[k.ID] = &key{
			id: k.ID, spec: spec, material: k.Material, description: k.Description,
			enabled: k.Enabled, multiRegion: k.MultiRegion, created: k.Created,
			rotation: k.Rotation, rotationPeriod: k.RotationPeriod, rotationSince: k.RotationSince,
			policy: k.Policy,
		}
	}
	for _, a := range s.Aliases {
		if validAliasName(a.Name) != nil || st.keys[a.Target] == nil {
			return fmt.Errorf("kmslocal: state %s: invalid alias %q", st.path, a.Name)
		}
		st.aliases[a.Name] = &alias{target: a.Target, created: a.Created, updated: a.Updated}
	}
	return nil
}

// applySeed merges seed keys. A seed key already present (from state) must
// have the same material; its persisted flags are kept.
func (st *store) applySeed(sf *SeedFile, now time.Time) error {
	for _, sk := range sf.Keys {
		if !validKeyID(sk.ID) {
			return fmt.Errorf("kmslocal: seed: invalid key id %q", sk.ID)
		}
		if len(sk.Material) != keyMaterialN {
			return fmt.Errorf("kmslocal: seed: key %s: material must be %d bytes, got %d", sk.ID, keyMaterialN, len(sk.Material))
		}
		spec := cmp.Or(sk.KeySpec, symmetricDefault)
		if _, ok := specs[spec]; !ok {
			return fmt.Errorf("kmslocal: seed: key %s: keySpec %q is not %s, %s or %s", sk.ID, bounded(spec), symmetricDefault, hmac256, eccNistP256)
		}
		if err := checkMaterial(spec, sk.Material); err != nil {
			return fmt.Errorf("kmslocal: seed: key %s: %w", sk.ID, err)
		}
		if sk.Policy != "" {
			if err := checkPolicy(sk.Policy); err != nil {
				return fmt.Errorf("kmslocal: seed: key %s: %w", sk.ID, err)
			}
		}
		if sk.MultiRegion != strings.HasPrefix(sk.ID, "mrk-") {
			return fmt.Errorf("kmslocal: seed: key %s: multi-Region key ids start with \"mrk-\", others must not", sk.ID)
		}
		if old, ok := st.keys[sk.ID]; ok {
			if !bytes.Equal(old.material, sk.Material) || old.spec != spec {
				return fmt.Errorf("kmslocal: seed: key %s: material or keySpec differs from the persisted key", sk.ID)
			}
		} else {
			st.keys[sk.ID] = &key{
				id: sk.ID, spec: spec, material: bytes.Clone(sk.Material), description: sk.Description,
				enabled: sk.Enabled == nil || *sk.Enabled, multiRegion: sk.MultiRegion, created: now,
				policy: sk.Policy,
			}
		}
		for _, name := range sk.Aliases {
			if err := validAliasName(name); err != nil {
				return fmt.Errorf("kmslocal: seed: key %s: %w", sk.ID, err)
			}
			if a, ok := st.aliases[name]; ok {
				if a.target != sk.ID {
					return fmt.Errorf("kmslocal: seed: alias %s already points to key %s", name, a.target)
				}
				continue
			}
			st.aliases[name] = &alias{target: sk.ID, created: now, updated: now}
		}
	}
	return nil
}

// update runs fn under the write lock and persists the result. If
// persisting fails, undo (when non-nil) reverts the in-memory change.
func (st *store) update(fn func() (undo func(), err error)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	undo, err := fn()
	if err != nil {
		return err
	}
	if err := st.saveLocked(); err != nil {
		if undo != nil {
			undo()
		}
		return apiErr(ErrInternal, "persisting state: %v", err)
	}
	return nil
}

// saveLocked writes the state atomically (temp file + rename, mode 0600).
func (st *store) saveLocked() error {
	if st.path == "" {
		return nil
	}
	s := stateJSON{Version: 1, Keys: []keyJSON{}, Aliases: []aliasJSON{}}
	for _, k := range st.keys {
		spec := k.spec
		if spec == symmetricDefault {
			spec = ""
		}
		s.Keys = append(s.Keys, keyJSON{
			ID: k.id, KeySpec: spec, Material: k.material, Description: k.description,
			Enabled: k.enabled, MultiRegion: k.multiRegion, Created: k.created,
			Rotation: k.rotation, RotationPeriod: k.rotationPeriod, RotationSince: k.rotationSince,
			Policy: k.policy,
		})
	}
	for name, a := range st.aliases {
		s.Aliases = append(s.Aliases, aliasJSON{Name: name, Target: a.target, Created: a.created, Updated: a.updated})
	}
	sort.Slice(s.Keys, func(i, j int) bool { return s.Keys[i].ID < s.Keys[j].ID })
	sort.Slice(s.Aliases, func(i, j int) bool { return s.Aliases[i].Name < s.Aliases[j].Name })
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(st.path, append(b, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".kmslocal-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// validAliasName checks alias/<name>: 1–256 bytes of [A-Za-z0-9/_-],
// not in the reserved alias/aws/ namespace.
func validAliasName(name string) error {
	rest, ok := strings.CutPrefix(name, "alias/")
	if !ok || rest == "" || len(name) > 256 {
		return apiErr(ErrValidation, "alias name %q must be alias/<name>, at most 256 characters", bounded(name))
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return apiErr(ErrInvalidAliasName, "alias name %q is reserved for AWS managed keys", name)
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/') {
			return apiErr(ErrInvalidAliasName, "alias name %q contains invalid characters", name)
		}
	}
	return nil
}
