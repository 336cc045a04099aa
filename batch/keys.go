package batch

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/internal/pemkey"
	"github.com/phicrypt/phicrypt/keycache"
	"github.com/phicrypt/phicrypt/keyring"
	"github.com/phicrypt/phicrypt/keyring/kms"
)

// KeyNamespace is the raw keyring namespace (provider ID) of the data keys
// s3crypt wraps with aes: and rsa: keys. Another AWS Encryption SDK reads
// them with a raw keyring of this namespace and the key's name.
const KeyNamespace = "phicrypt"

var (
	// ErrNoKey reports a command that needs a --key and has none.
	ErrNoKey = errors.New("no key given: use --key aes:FILE, rsa:FILE.pem, arn:aws:kms:… or alias/NAME")

	// ErrKeySpec reports a --key value that cannot be used.
	ErrKeySpec = errors.New("invalid key")

	// ErrNoCredentials reports that no AWS credentials were found for KMS.
	ErrNoCredentials = errors.New("no AWS credentials for KMS")
)

// KeyOptions say which keys a command uses and how KMS is reached.
type KeyOptions struct {
	// Specs are the --key values in order; the first makes the data key.
	//   aes:FILE[#NAME]   raw AES key file (16, 24 or 32 bytes); NAME defaults to the file's base name
	//   rsa:FILE[#NAME]   PEM RSA key, public (encrypt only) or private; NAME defaults to rsa-<SPKI SHA-256 prefix>
	//   arn:…:kms:…, alias/NAME, kms:KEYID   AWS KMS key
	Specs []string

	Region, Profile string
	KMSEndpoint     string // "" for the SDK's endpoint; https, or http to loopback only

	// FIPS sends KMS requests to the AWS FIPS endpoint of the key's region
	// (kms-fips.REGION.amazonaws.com); a KMSEndpoint (or one from the AWS
	// configuration) is then refused with ErrFIPSEndpoint unless it is a
	// FIPS endpoint or on loopback. AWS_USE_FIPS_ENDPOINT=true does the same.
	FIPS bool

	// Config, if set, is the AWS configuration of the KMS clients instead
	// of the default one LoadAWSConfig loads (Profile is then ignored; a
	// Region, if set, replaces Config.Region).
	Config *aws.Config

	// CacheMaxAge > 0 turns on the data key cache (package keycache).
	CacheMaxAge      time.Duration
	CacheMaxMessages uint64
	CacheMaxBytes    uint64
}

// Keys are the materials of one command run.
type Keys struct {
	CMM   envelope.MaterialsManager
	cache *keycache.Manager
	kms   *kmsClients
}

// KMSRequests returns how many requests the keys' KMS clients have sent
// (operations, retries not counted); 0 without a KMS key.
func (k *Keys) KMSRequests() int64 {
	if k == nil || k.kms == nil {
		return 0
	}
	return k.kms.requests.Load()
}

// Default data key cache of runs with a KMS key (s3crypt's defaults): a
// bucket of millions of objects costs one GenerateDataKey per
// DefaultCacheMaxMessages objects, not one per object. Each message still
// has its own message key, derived from the data key and its message ID.
const (
	DefaultCacheMaxAge      = 5 * time.Minute
	DefaultCacheMaxMessages = 1000
)

// IsKMSSpec reports whether a --key spec names an AWS KMS key.
func IsKMSSpec(spec string) bool {
	return !strings.HasPrefix(spec, "aes:") && !strings.HasPrefix(spec, "rsa:")
}

// CacheStats returns the data key cache's counters, or nil without a cache.
func (k *Keys) CacheStats() *keycache.Stats {
	if k.cache == nil {
		return nil
	}
	s := k.cache.Stats()
	return &s
}

// LoadKeys builds the keyrings of o.Specs (a multi-keyring if several) and
// the materials manager over them. encrypt selects what the keys must be
// able to do: an RSA public key encrypts only.
func LoadKeys(ctx context.Context, o KeyOptions, encrypt bool) (*Keys, error) {
	if len(o.Specs) == 0 {
		return nil, ErrNoKey
	}
	if o.CacheMaxAge <= 0 && (o.CacheMaxMessages > 0 || o.CacheMaxBytes > 0) {
		return nil, errors.New("--cache-max-messages and --cache-max-bytes need --cache-max-age")
	}
	clients := &kmsClients{opts: o}
	var krs []envelope.Keyring
	for _, spec := range o.Specs {
		kr, err := loadKeyring(ctx, spec, clients, encrypt)
		if err != nil {
			return nil, err
		}
		krs = append(krs, kr)
	}
	kr := krs[0]
	if len(krs) > 1 {
		m, err := keyring.NewMulti(krs[0], krs[1:]...)
		if err != nil {
			return nil, err
		}
		kr = m
	}
	if o.CacheMaxAge <= 0 {
		return &Keys{CMM: envelope.NewDefaultMaterialsManager(kr), kms: clients}, nil
	}
	cache, err := keycache.NewCache(1024)
	if err != nil {
		return nil, err
	}
	m, err := keycache.NewWithKeyring(kr, cache, keycache.Options{
		MaxAge: o.CacheMaxAge, MaxMessages: o.CacheMaxMessages, MaxBytes: o.CacheMaxBytes,
	})
	if err != nil {
		return nil, err
	}
	return &Keys{CMM: m, cache: m, kms: clients}, nil
}

func loadKeyring(ctx context.Context, spec string, clients *kmsClients, encrypt bool) (envelope.Keyring, error) {
	switch {
	case strings.HasPrefix(spec, "aes:"):
		path, name := splitName(strings.TrimPrefix(spec, "aes:"))
		key, err := readKeyFile(spec, path)
		if err != nil {
			return nil, err
		}
		defer clear(key)
		if name == "" {
			name = filepath.Base(path)
		}
		kr, err := keyring.NewRawAES(KeyNamespace, name, key)
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w: %v", spec, ErrKeySpec, err)
		}
		return kr, nil
	case strings.HasPrefix(spec, "rsa:"):
		path, name := splitName(strings.TrimPrefix(spec, "rsa:"))
		return loadRSA(spec, path, name, encrypt)
	case strings.HasPrefix(spec, "arn:"), strings.HasPrefix(spec, "alias/"), strings.HasPrefix(spec, "kms:"):
		return clients.keyring(ctx, strings.TrimPrefix(spec, "kms:"), encrypt)
	}
	return nil, fmt.Errorf("--key %s: %w: want aes:FILE, rsa:FILE.pem, arn:aws:kms:…, alias/NAME or kms:KEYID", spec, ErrKeySpec)
}

// splitName splits "FILE#NAME".
func splitName(s string) (path, name string) {
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// readKeyFile reads a secret key file, refusing one that others may read.
func readKeyFile(spec, path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--key %s: key file %s does not exist (make one with: s3crypt keygen %s)", spec, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", spec, err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("--key %s: key file %s has mode %04o: others may read it; run chmod 600 %s", spec, path, fi.Mode().Perm(), path)
	}
	return os.ReadFile(path)
}

func loadRSA(spec, path, name string, encrypt bool) (envelope.Keyring, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--key %s: key file %s does not exist", spec, path)
	}
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", spec, err)
	}
	var pub *rsa.PublicKey
	priv, perr := pemkey.ParseRSAPrivate(data)
	if perr == nil {
		if _, err := readKeyFile(spec, path); err != nil {
			return nil, err
		}
		pub = &priv.PublicKey
	} else {
		priv = nil
		if pub, err = pemkey.ParseRSAPublic(data); err != nil {
			return nil, fmt.Errorf("--key %s: %w: not a PEM RSA public or private key", spec, ErrKeySpec)
		}
		if !encrypt {
			return nil, fmt.Errorf("--key %s: %w: a public key cannot decrypt; give the private key", spec, ErrKeySpec)
		}
	}
	if name == "" {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(der)
		name = "rsa-" + hex.EncodeToString(sum[:8])
	}
	return keyring.NewRawRSA(KeyNamespace, name, keyring.OAEPSHA256, pub, priv)
}

// kmsClients makes one KMS client per region, loading the AWS config once.
type kmsClients struct {
	opts     KeyOptions
	cfg      *aws.Config
	clients  map[string]*awskms.Client
	requests atomic.Int64 // operations sent by clients, for the summary
}

func (k *kmsClients) client(ctx context.Context, region string) (*awskms.Client, error) {
	if k.cfg == nil {
		if k.opts.FIPS && k.opts.KMSEndpoint != "" {
			if err := CheckFIPSEndpoint("kms", k.opts.KMSEndpoint, "--kms-endpoint-url"); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrUsage, err)
			}
		}
		var cfg aws.Config
		if k.opts.Config != nil {
			cfg = k.opts.Config.Copy()
			if k.opts.Region != "" {
				cfg.Region = k.opts.Region
			}
		} else {
			var err error
			if cfg, err = loadAWSConfig(ctx, k.opts.Region, k.opts.Profile, imdsNeeded("kms", k.opts.KMSEndpoint)); err != nil {
				return nil, err
			}
		}
		k.cfg = &cfg
		k.clients = map[string]*awskms.Client{}
	}
	if region == "" {
		region = k.cfg.Region
	}
	if region == "" {
		return nil, errors.New("no AWS region for KMS: use --region, AWS_REGION, or a key ARN")
	}
	if c, ok := k.clients[region]; ok {
		return c, nil
	}
	cfg := k.cfg.Copy()
	cfg.Region = region
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("phicryptCountKMS",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				k.requests.Add(1)
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	flag := ""
	if k.opts.KMSEndpoint != "" {
		flag = "--kms-endpoint-url"
	}
	c, err := kms.NewClient(ctx, cfg, k.opts.KMSEndpoint)
	if err != nil && flag != "" {
		return nil, fmt.Errorf("%s: %w", flag, err)
	} else if err != nil {
		return nil, err
	}
	// FIPS is set on the client, not in cfg, as the SDK refuses FIPS with
	// an explicit endpoint; FIPSEndpoint checks such an endpoint instead.
	o := c.Options()
	fipsBefore := o.EndpointOptions.UseFIPSEndpoint
	if err := FIPSEndpoint("kms", flag, k.opts.FIPS, o.BaseEndpoint, &o.EndpointOptions.UseFIPSEndpoint); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if o.EndpointOptions.UseFIPSEndpoint != fipsBefore {
		c = awskms.New(o)
	}
	k.clients[region] = c
	return c, nil
}

// keyring returns a strict KMS keyring for id. On decrypt an alias is
// resolved to its key ARN (DescribeKey), since data keys name key ARNs.
func (k *kmsClients) keyring(ctx context.Context, id string, encrypt bool) (envelope.Keyring, error) {
	region := ""
	if a, err := kms.ParseARN(id); err == nil {
		region = a.Region
	} else if strings.HasPrefix(id, "arn:") {
		return nil, fmt.Errorf("--key %s: %w: %v", id, ErrKeySpec, err)
	}
	c, err := k.client(ctx, region)
	if err != nil {
		return nil, err
	}
	if !encrypt && !strings.Contains(id, ":key/") {
		out, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &id})
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w", id, err)
		}
		id = aws.ToString(out.KeyMetadata.Arn)
	}
	return kms.New(c, id)
}

// LoadAWSConfig loads the default AWS configuration and checks that it has
// credentials, so that a missing one is reported before any file is read.
func LoadAWSConfig(ctx context.Context, region, profile string) (aws.Config, error) {
	return loadAWSConfig(ctx, region, profile, true)
}

// loadAWSConfig is LoadAWSConfig; without withIMDS the credential chain
// skips EC2 instance metadata (as AWS_EC2_METADATA_DISABLED=true does).
func loadAWSConfig(ctx context.Context, region, profile string, withIMDS bool) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	hint := "set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	if !withIMDS {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
		hint += " (a local server such as kmslocal accepts any, e.g. AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)"
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Credentials == nil {
		return cfg, fmt.Errorf("%w: %s", ErrNoCredentials, hint)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		var oe *smithy.OperationError
		if !withIMDS && errors.As(err, &oe) && oe.ServiceID == "ec2imds" {
			// The chain fell through to the disabled IMDS client: nothing
			// else holds credentials, and its error is only "disabled".
			return cfg, fmt.Errorf("%w: %s", ErrNoCredentials, hint)
		}
		return cfg, fmt.Errorf("%w: %s (%v)", ErrNoCredentials, hint, err)
	}
	return cfg, nil
}

// Keygen writes a new random AES-256 key to path with mode 0600. It never
// replaces an existing file.
func Keygen(path string) error {
	key := make([]byte, 32)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: refusing to overwrite a key file", path)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(key)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
