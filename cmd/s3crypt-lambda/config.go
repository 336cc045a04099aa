package main

import (
	"crypto/fips140"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// Defaults of the configuration (see doc.go).
const (
	DefaultCacheMaxAge      = 5 * time.Minute
	DefaultCacheMaxMessages = 1000
	DefaultMargin           = 3 * time.Second
)

// ErrConfig reports an environment the function cannot start with.
var ErrConfig = errors.New("configuration")

// Config is the function's configuration, read once at a cold start from
// the environment (see doc.go for the variables).
type Config struct {
	Op batch.Op
	// Keys write outputs (and open inputs unless DecryptKeys is set).
	// They come only from the environment: a job submitter never chooses
	// the key a message is encrypted under.
	Keys        batch.KeyOptions
	DecryptKeys batch.KeyOptions
	// Destination is s3://bucket/prefix: an input's output is prefix +
	// its key (+ ".enc" on encrypt, - ".enc" on decrypt).
	Destination   string
	Context       map[string]string // encrypt, reencrypt: added to every message's context
	ExpectContext map[string]string // decrypt, reencrypt: pairs every input must hold
	// AllowOps are the ops a job's "op" user argument may choose (Op is
	// always allowed); AllowDestinations the s3://bucket/prefix locations a
	// "destination" user argument must lie under (Destination's by default).
	AllowOps          []batch.Op
	AllowDestinations []string
	InPlace           bool // reencrypt writes each output over its input, as a new version
	Overwrite         bool // replace existing outputs; without it a complete one is skipped
	MaxEDKs           int
	Concurrency       int
	// Margin is how long before the invocation's deadline a task still
	// running is stopped and reported TemporaryFailure.
	Margin     time.Duration
	S3Endpoint string // "" for AWS
	// FIPS uses the AWS FIPS endpoints of KMS and S3 (Keys.FIPS,
	// DecryptKeys.FIPS and the S3 client); it needs Go's FIPS 140-3 module.
	FIPS bool
}

// ConfigFromEnv reads the configuration through getenv (os.Getenv).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	return configFromEnv(getenv, fips140.Enabled)
}

// configFromEnv is ConfigFromEnv with fipsOn reporting whether Go's FIPS
// 140-3 module is on (fips140.Enabled).
func configFromEnv(getenv func(string) string, fipsOn func() bool) (Config, error) {
	c := Config{
		Op:          batch.Op(getenv("PHICRYPT_OP")),
		Destination: getenv("PHICRYPT_DESTINATION"),
		MaxEDKs:     s3crypt.DefaultMaxEncryptedDataKeys,
		Margin:      DefaultMargin,
		S3Endpoint:  getenv("PHICRYPT_S3_ENDPOINT_URL"),
	}
	var errs []error
	fail := func(name string, err error) { errs = append(errs, fmt.Errorf("%s: %w", name, err)) }
	if c.Op == "" {
		c.Op = batch.Encrypt
	}
	if !validOp(c.Op) {
		fail("PHICRYPT_OP", fmt.Errorf("%q is not encrypt, decrypt or reencrypt", c.Op))
	}
	c.Keys.Specs = splitList(getenv("PHICRYPT_KEY"))
	if len(c.Keys.Specs) == 0 {
		fail("PHICRYPT_KEY", errors.New("no key: give aes:FILE, rsa:FILE.pem, arn:aws:kms:… or alias/NAME, comma-separated"))
	}
	c.DecryptKeys.Specs = splitList(getenv("PHICRYPT_DECRYPT_KEY"))
	kms := getenv("PHICRYPT_KMS_ENDPOINT_URL")
	c.Keys.KMSEndpoint, c.DecryptKeys.KMSEndpoint = kms, kms
	age, msgs := DefaultCacheMaxAge, uint64(DefaultCacheMaxMessages)
	var bytes uint64
	if v := getenv("PHICRYPT_CACHE_MAX_AGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			fail("PHICRYPT_CACHE_MAX_AGE", fmt.Errorf("%q is not a duration ≥ 0 (0 turns the cache off)", v))
		}
		age = d
	}
	for name, p := range map[string]*uint64{"PHICRYPT_CACHE_MAX_MESSAGES": &msgs, "PHICRYPT_CACHE_MAX_BYTES": &bytes} {
		if v := getenv(name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				fail(name, fmt.Errorf("%q is not a count", v))
			}
			*p = n
		}
	}
	if age > 0 {
		for _, k := range []*batch.KeyOptions{&c.Keys, &c.DecryptKeys} {
			k.CacheMaxAge, k.CacheMaxMessages, k.CacheMaxBytes = age, msgs, bytes
		}
	}
	var err error
	if c.Context, err = parsePairs(getenv("PHICRYPT_CONTEXT")); err != nil {
		fail("PHICRYPT_CONTEXT", err)
	}
	if c.ExpectContext, err = parsePairs(getenv("PHICRYPT_EXPECT_CONTEXT")); err != nil {
		fail("PHICRYPT_EXPECT_CONTEXT", err)
	}
	for _, op := range splitList(getenv("PHICRYPT_ALLOW_OPS")) {
		if !validOp(batch.Op(op)) {
			fail("PHICRYPT_ALLOW_OPS", fmt.Errorf("%q is not encrypt, decrypt or reencrypt", op))
		}
		c.AllowOps = append(c.AllowOps, batch.Op(op))
	}
	c.AllowDestinations = splitList(getenv("PHICRYPT_ALLOW_DESTINATIONS"))
	for name, p := range map[string]*bool{"PHICRYPT_IN_PLACE": &c.InPlace, "PHICRYPT_OVERWRITE": &c.Overwrite, "PHICRYPT_FIPS": &c.FIPS} {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				fail(name, fmt.Errorf("%q is not true or false", v))
			}
			*p = b
		}
	}
	for name, p := range map[string]*int{"PHICRYPT_MAX_ENCRYPTED_DATA_KEYS": &c.MaxEDKs, "PHICRYPT_CONCURRENCY": &c.Concurrency} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				fail(name, fmt.Errorf("%q is not a count", v))
			}
			*p = n
		}
	}
	if v := getenv("PHICRYPT_DEADLINE_MARGIN"); v != "" {
		if c.Margin, err = time.ParseDuration(v); err != nil || c.Margin < 0 {
			fail("PHICRYPT_DEADLINE_MARGIN", fmt.Errorf("%q is not a duration ≥ 0", v))
		}
	}
	if c.FIPS {
		c.Keys.FIPS, c.DecryptKeys.FIPS = true, true
		errs = append(errs, c.checkFIPS(fipsOn())...)
	}
	if err := c.check(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return c, nil
}

// check refuses a configuration whose parts do not fit together.
func (c *Config) check() error {
	if c.InPlace {
		if c.Op != batch.Reencrypt || slices.ContainsFunc(c.AllowOps, func(op batch.Op) bool { return op != batch.Reencrypt }) {
			return errors.New("PHICRYPT_IN_PLACE is for reencrypt only")
		}
		return nil
	}
	if _, _, err := parseDest(c.Destination); err != nil {
		return fmt.Errorf("PHICRYPT_DESTINATION: %w", err)
	}
	for _, d := range c.AllowDestinations {
		if _, _, err := parseDest(d); err != nil {
			return fmt.Errorf("PHICRYPT_ALLOW_DESTINATIONS: %w", err)
		}
	}
	return nil
}

// checkFIPS refuses FIPS unless Go's FIPS 140-3 module is on (FIPS
// endpoints with non-FIPS cryptography would be FIPS in name only), and an
// explicit endpoint that is neither an AWS FIPS endpoint nor on loopback.
func (c *Config) checkFIPS(moduleOn bool) []error {
	var errs []error
	if !moduleOn {
		errs = append(errs, errors.New("PHICRYPT_FIPS needs Go's FIPS 140-3 module on: set GODEBUG=fips140=on in the function's environment"))
	}
	for _, e := range []struct{ name, service, url string }{
		{"PHICRYPT_KMS_ENDPOINT_URL", "kms", c.Keys.KMSEndpoint},
		{"PHICRYPT_S3_ENDPOINT_URL", "s3", c.S3Endpoint},
	} {
		if e.url != "" {
			if err := batch.CheckFIPSEndpoint(e.service, e.url, e.name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// allowed reports whether a user argument may choose op.
func (c *Config) allowed(op batch.Op) bool {
	return op == c.Op || slices.Contains(c.AllowOps, op)
}

// ops are the ops the function may run.
func (c *Config) ops() []batch.Op {
	return append([]batch.Op{c.Op}, c.AllowOps...)
}

func validOp(op batch.Op) bool {
	return op == batch.Encrypt || op == batch.Decrypt || op == batch.Reencrypt
}

// parseDest splits s3://bucket/prefix. A prefix is a folder: it is
// returned ending in "/" (or empty), so that "s3://b/p" holds "p/x" but
// not "px".
func parseDest(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	bucket, prefix, _ = strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return "", "", fmt.Errorf("%s is not s3://bucket/prefix", batch.Quote(s))
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parsePairs parses "k=v,k2=v2"; nil for "".
func parsePairs(s string) (map[string]string, error) { return batch.ParsePairs("pair", splitList(s)) }
