package batch

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/phicrypt/phicrypt/envelope"
)

// Scan reads at most scanFirstRead bytes of each input, and at most
// scanMaxHeader when the header is longer: a header past that is reported
// as over the limit, not read on.
const (
	scanFirstRead = 64 << 10
	scanMaxHeader = 256 << 10
)

// Kinds of scanned inputs.
const (
	KindESDK      = "esdk"      // an AWS Encryption SDK message (phicrypt or another SDK)
	KindS3EC      = "s3ec"      // an S3 Encryption Client object, by its metadata
	KindPlaintext = "plaintext" // not encrypted: the header does not parse
	KindMalformed = "malformed" // over a limit: too many data keys, or a header too long
	KindError     = "error"     // could not be read
)

// ErrFlagged reports a scan that flagged at least one input.
var ErrFlagged = errors.New("flagged")

// ScanOptions are the policy and limits of Scan.
type ScanOptions struct {
	// RequireKeys: an encrypted input must have a data key wrapped by one
	// of these: a KMS key ARN, or "provider/name" of a raw key. Empty: any.
	RequireKeys []string
	// RequireContext: pairs an encrypted input's context must hold.
	RequireContext map[string]string
	MaxEDKs        int      // most data keys a header may carry; 0: no limit
	Concurrency    int      // inputs read at once; 0: 16
	Filters        []Filter // as Options.Filters
	Include        []string // as Options.Include
	Exclude        []string // as Options.Exclude
	FollowSymlinks bool
	// Shard keeps only the shard's inputs, as Options.Shard (the others
	// count as skipped).
	Shard Shard
	// Manifest, if set, names the inputs instead of src (which must be
	// empty), as Options.Manifest.
	Manifest string
	S3       S3Options
	Stdin    io.Reader
	Notices  io.Writer // symbolic links skipped
}

// S3ECInfo is what an S3 Encryption Client object's metadata claims
// (unauthenticated: anyone who can write the object sets it).
type S3ECInfo struct {
	Version string            `json:"version"`            // "v1" (x-amz-key) or "v2" (x-amz-key-v2)
	WrapAlg string            `json:"wrap_alg,omitempty"` // x-amz-wrap-alg
	CEKAlg  string            `json:"cek_alg,omitempty"`  // x-amz-cek-alg
	MatDesc map[string]string `json:"mat_desc,omitempty"` // x-amz-matdesc, when a JSON object of strings
}

// ScanResult describes one input. Nothing in it is authenticated.
type ScanResult struct {
	Input       string    `json:"input"`
	Size        int64     `json:"size"` // -1 when unknown
	Kind        string    `json:"kind"`
	Flagged     bool      `json:"flagged"`
	Reasons     []string  `json:"reasons,omitempty"`
	Suite       string    `json:"suite,omitempty"`
	Keys        []EDKInfo `json:"keys,omitempty"`
	ContextKeys []string  `json:"context_keys,omitempty"`
	FrameLength *uint32   `json:"frame_length,omitempty"` // 0: non-framed
	S3EC        *S3ECInfo `json:"s3ec,omitempty"`
	Error       string    `json:"error,omitempty"`

	context map[string]string
}

// ScanSummary counts a scan's inputs by kind.
type ScanSummary struct {
	Inputs    int `json:"inputs"`
	ESDK      int `json:"esdk"`
	S3EC      int `json:"s3ec"`
	Plaintext int `json:"plaintext"`
	Malformed int `json:"malformed"`
	Errors    int `json:"errors"`
	Flagged   int `json:"flagged"`
	Skipped   int `json:"skipped"` // by --include/--exclude, or not regular files
}

// Scan classifies every input under src from its first bytes, calls emit
// for each in listing order as the listing streams, and returns the
// counts; with anything flagged the error is ErrFlagged.
func Scan(ctx context.Context, src string, o ScanOptions, emit func(*ScanResult)) (*ScanSummary, error) {
	f, err := newFilters(o.Filters, o.Include, o.Exclude)
	if err != nil {
		return nil, err
	}
	ro := &Options{S3: o.S3, FollowSymlinks: o.FollowSymlinks, Stdin: o.Stdin, notes: &notifier{w: o.Notices}}
	var s source
	switch {
	case o.Manifest != "" && src != "":
		return nil, fmt.Errorf("%w: a manifest names the inputs: no SRC with --manifest", ErrUsage)
	case o.Manifest != "":
		src = o.Manifest
		s, err = newManifestSource(ctx, o.Manifest, ro)
	default:
		var l location
		if l, err = parseLocation(src); err == nil {
			s, err = newSource(ctx, l, ro)
		}
	}
	if err != nil {
		return nil, err
	}
	if ls, ok := s.(*localSource); ok {
		defer ls.close()
	}
	if _, err := s.single(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	keep := f.keep
	if o.Shard.Count > 1 {
		keep = func(rel string) bool { return o.Shard.has(rel) && f.keep(rel) }
	}
	sum, err := scanSource(ctx, s, keep, &o, emit)
	switch {
	case ctx.Err() != nil:
		return sum, ErrInterrupted
	case err != nil && sum.Inputs == 0:
		return nil, fmt.Errorf("%s: %w", src, err)
	case err != nil:
		return sum, fmt.Errorf("%s: listing stopped after %d inputs: %w", src, sum.Inputs, err)
	case sum.Flagged > 0:
		return sum, fmt.Errorf("%d of %d inputs %w", sum.Flagged, sum.Inputs, ErrFlagged)
	}
	return sum, nil
}

// scanSource scans what s lists as the listing streams: each input is
// read on a goroutine of its own, at most o.Concurrency at once, and its
// result waits in pending (in listing order, as long at most) until those
// before it are emitted. Once ctx is cancelled the listing stops and
// nothing more is emitted. The error is the listing's.
func scanSource(ctx context.Context, s source, keep func(string) bool, o *ScanOptions, emit func(*ScanResult)) (*ScanSummary, error) {
	workers := o.Concurrency
	if workers <= 0 {
		workers = 16
	}
	pending := make(chan chan *ScanResult, workers)
	sem := make(chan struct{}, workers)
	var skipped int
	var err error
	go func() {
		defer close(pending)
		skipped, err = s.list(ctx, keep, func(it item) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			res := make(chan *ScanResult, 1)
			sem <- struct{}{}
			pending <- res
			go func() {
				defer func() { <-sem }()
				res <- scanOne(ctx, s, it, o)
			}()
			return nil
		})
	}()
	sum := &ScanSummary{}
	for res := range pending {
		r := <-res
		if ctx.Err() == nil {
			sum.add(r)
			emit(r)
		}
	}
	sum.Skipped = skipped // written before pending was closed
	return sum, err
}

func (s *ScanSummary) add(r *ScanResult) {
	s.Inputs++
	switch r.Kind {
	case KindESDK:
		s.ESDK++
	case KindS3EC:
		s.S3EC++
	case KindPlaintext:
		s.Plaintext++
	case KindMalformed:
		s.Malformed++
	default:
		s.Errors++
	}
	if r.Flagged {
		s.Flagged++
	}
}

// scanOne reads an input's first bytes and classifies them.
func scanOne(ctx context.Context, s source, it item, o *ScanOptions) *ScanResult {
	r := &ScanResult{Input: it.name, Size: it.size}
	var prefix []byte
	var complete bool
	var meta map[string]string
	var err error
	if s3s, ok := s.(s3Backed); ok {
		prefix, complete, meta, err = s3s.conn().prefix(ctx, it, scanFirstRead, scanMaxHeader, o.MaxEDKs)
	} else {
		prefix, complete, err = readPrefix(ctx, s, it, scanMaxHeader)
	}
	if err != nil {
		r.Kind, r.Flagged, r.Error = KindError, true, err.Error()
		r.Reasons = []string{"unreadable"}
		return r
	}
	classify(r, prefix, complete, meta, o)
	return r
}

// readPrefix reads at most n bytes of it; complete reports the whole input.
func readPrefix(ctx context.Context, s source, it item, n int) ([]byte, bool, error) {
	rc, err := s.open(ctx, it)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(n)+1))
	if err != nil {
		return nil, false, err
	}
	if len(b) > n {
		return b[:n], false, nil
	}
	return b, true, nil
}

// prefix GETs the first n bytes of the object it, and more when the header
// needs more (and the data key count is within maxEDKs), up to limit; complete reports
// the whole object. It also returns the object's user metadata.
func (c *s3Conn) prefix(ctx context.Context, it item, n, limit, maxEDKs int) ([]byte, bool, map[string]string, error) {
	get := func(n int) ([]byte, int64, map[string]string, error) {
		out, err := c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &it.bucket, Key: &it.path, VersionId: it.version, Range: aws.String(fmt.Sprintf("bytes=0-%d", n-1))})
		if err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" { // an empty object
				return nil, 0, nil, nil
			}
			return nil, 0, nil, err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(io.LimitReader(out.Body, int64(n)))
		if err != nil {
			return nil, 0, nil, err
		}
		total := int64(len(b))
		if cr := aws.ToString(out.ContentRange); cr != "" {
			if i := strings.LastIndexByte(cr, '/'); i >= 0 {
				fmt.Sscan(cr[i+1:], &total)
			}
		} else if out.ContentLength != nil {
			total = max(total, *out.ContentLength)
		}
		return b, total, out.Metadata, nil
	}
	b, total, meta, err := get(n)
	if err != nil {
		return nil, false, nil, err
	}
	if int64(len(b)) < total && n < limit {
		if _, err := envelope.ParseHeader(bytes.NewReader(b)); errors.Is(err, envelope.ErrTruncated) && !overEDKLimit(b, maxEDKs) {
			if b, total, meta, err = get(limit); err != nil {
				return nil, false, nil, err
			}
		}
	}
	return b, int64(len(b)) >= total, meta, nil
}

// edkCount returns the data key count a v1 or v2 header in p claims, read
// before any key is parsed, or -1 when p holds no such count.
func edkCount(p []byte) int {
	var off int
	switch {
	case len(p) > 0 && p[0] == 2:
		off = 1 + 2 + 32 // version, suite, message ID
	case len(p) > 0 && p[0] == 1:
		off = 1 + 1 + 2 + 16 // version, type, suite, message ID
	default:
		return -1
	}
	if len(p) < off+2 {
		return -1
	}
	off += 2 + int(binary.BigEndian.Uint16(p[off:]))
	if len(p) < off+2 {
		return -1
	}
	return int(binary.BigEndian.Uint16(p[off:]))
}

func overEDKLimit(p []byte, limit int) bool { return limit > 0 && edkCount(p) > limit }

// classify fills r from an input's first bytes (all of them when complete)
// and its S3 metadata, then applies the policy.
func classify(r *ScanResult, p []byte, complete bool, meta map[string]string, o *ScanOptions) {
	if n := edkCount(p); o.MaxEDKs > 0 && n > o.MaxEDKs {
		// Refused before any key is parsed, as decrypt refuses it.
		r.Kind, r.Flagged = KindMalformed, true
		r.Reasons = []string{fmt.Sprintf("%d encrypted data keys, over the limit of %d (--max-encrypted-data-keys)", n, o.MaxEDKs)}
		return
	}
	h, err := envelope.ParseHeader(bytes.NewReader(p))
	switch {
	case err == nil:
		describeScanned(r, h)
	case errors.Is(err, envelope.ErrTruncated) && !complete:
		r.Kind, r.Flagged = KindMalformed, true
		r.Reasons = []string{fmt.Sprintf("header longer than %d bytes", len(p))}
		return
	case s3ecInfo(meta) != nil:
		r.Kind, r.S3EC = KindS3EC, s3ecInfo(meta)
		r.context = r.S3EC.MatDesc
		if id := r.S3EC.MatDesc["kms_cmk_id"]; id != "" {
			r.Keys = []EDKInfo{{Provider: "aws-kms", Key: Printable(id)}}
		}
		for k := range r.context {
			if k != "kms_cmk_id" {
				r.ContextKeys = append(r.ContextKeys, k)
			}
		}
		slices.Sort(r.ContextKeys)
	default:
		r.Kind, r.Flagged = KindPlaintext, true
		r.Reasons = []string{"not encrypted"}
		return
	}
	r.Reasons = policy(r, o)
	r.Flagged = len(r.Reasons) > 0
}

func describeScanned(r *ScanResult, h *envelope.Header) {
	r.Kind, r.Suite, r.context = KindESDK, h.Suite.String(), h.EncryptionContext
	for _, k := range h.EncryptedDataKeys {
		p, key := edkName(k)
		r.Keys = append(r.Keys, EDKInfo{Provider: p, Key: key})
	}
	for k := range h.EncryptionContext {
		r.ContextKeys = append(r.ContextKeys, k)
	}
	slices.Sort(r.ContextKeys)
	fl := h.FrameLength
	r.FrameLength = &fl
}

// s3ecInfo returns what S3 Encryption Client metadata claims, or nil when
// meta holds no wrapped key. Keys are matched case-insensitively, as S3
// lowercases them.
func s3ecInfo(meta map[string]string) *S3ECInfo {
	get := func(k string) (string, bool) {
		for mk, v := range meta {
			if strings.EqualFold(mk, k) || strings.EqualFold(mk, "x-amz-meta-"+k) {
				return v, true
			}
		}
		return "", false
	}
	i := &S3ECInfo{}
	if _, ok := get("x-amz-key-v2"); ok {
		i.Version = "v2"
	} else if _, ok := get("x-amz-key"); ok {
		i.Version = "v1"
	} else {
		return nil
	}
	if _, ok := get("x-amz-iv"); !ok {
		return nil
	}
	w, _ := get("x-amz-wrap-alg")
	c, _ := get("x-amz-cek-alg")
	i.WrapAlg, i.CEKAlg = Printable(w), Printable(c)
	if md, ok := get("x-amz-matdesc"); ok {
		var m map[string]string
		if json.Unmarshal([]byte(md), &m) == nil && len(m) > 0 {
			i.MatDesc = m
		}
	}
	return i
}

// policy returns why r, an encrypted input, fails --require-key and
// --require-context; none when it passes.
func policy(r *ScanResult, o *ScanOptions) []string {
	var why []string
	if len(o.RequireKeys) > 0 && !slices.ContainsFunc(r.Keys, func(k EDKInfo) bool {
		return slices.ContainsFunc(o.RequireKeys, func(want string) bool {
			return want == k.Provider+"/"+k.Key || (k.Provider == "aws-kms" && want == k.Key)
		})
	}) {
		why = append(why, "no data key wrapped by a required key")
	}
	for _, k := range sortedMapKeys(o.RequireContext) {
		v, ok := r.context[k]
		switch {
		case !ok:
			why = append(why, "context lacks "+Quote(k))
		case v != o.RequireContext[k]:
			why = append(why, "context has another value for "+Quote(k))
		}
	}
	return why
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FormatScanLine is r as one table line: status, kind, quoted input, and
// what the header or metadata claims. Strings from the input are quoted
// when unprintable.
func FormatScanLine(r *ScanResult) string {
	status := "ok"
	if r.Flagged {
		status = "FLAGGED"
	}
	var d []string
	if r.Suite != "" {
		d = append(d, "suite="+r.Suite)
	}
	if r.S3EC != nil {
		d = append(d, "s3ec="+r.S3EC.Version, "wrap="+r.S3EC.WrapAlg, "cek="+r.S3EC.CEKAlg)
	}
	if len(r.Keys) > 0 {
		names := make([]string, len(r.Keys))
		for i, k := range r.Keys {
			names[i] = k.Provider + "/" + k.Key
		}
		d = append(d, "keys="+strings.Join(names, ","))
	}
	if r.Kind == KindESDK || r.Kind == KindS3EC {
		ks := make([]string, len(r.ContextKeys))
		for i, k := range r.ContextKeys {
			ks[i] = Printable(k)
		}
		d = append(d, "context=["+strings.Join(ks, ",")+"]")
	}
	if r.FrameLength != nil {
		d = append(d, fmt.Sprintf("frame=%d", *r.FrameLength))
	}
	if len(r.Reasons) > 0 {
		d = append(d, "why: "+strings.Join(r.Reasons, "; "))
	}
	if r.Error != "" {
		d = append(d, "error: "+Printable(r.Error))
	}
	return fmt.Sprintf("%-7s  %-9s  %s  %s", status, r.Kind, Quote(r.Input), strings.Join(d, " "))
}
