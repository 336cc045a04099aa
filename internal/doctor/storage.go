package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Names of the Storage and Transit items.
const (
	ItemDefaultEncryption = "default encryption SSE-KMS with a customer managed key"
	ItemBucketKey         = "S3 Bucket Keys"
	ItemPublicAccess      = "Block Public Access (all four settings)"
	ItemVersioning        = "versioning"
	ItemObjectLock        = "object lock"
	ItemAccessLogging     = "server access logging or CloudTrail S3 data events"
	ItemSecureTransport   = "bucket policy denies aws:SecureTransport = false"
)

// storage adds the Storage items of the bucket: default encryption and
// bucket keys, Block Public Access, versioning, object lock, and access
// logging (or the trails' data events).
func (r *run) storage(ctx context.Context, trails *trailInfo) {
	b := r.o.Bucket
	if r.c.S3 == nil {
		r.unknownAll(Storage, "no S3 client", ItemDefaultEncryption, ItemBucketKey, ItemPublicAccess, ItemVersioning, ItemObjectLock, ItemAccessLogging)
		return
	}
	r.encryption(ctx)

	pab, err := r.c.S3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &b})
	fixPAB := fmt.Sprintf("aws s3api put-public-access-block --bucket %s --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true", b)
	switch {
	case errorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		r.add(Storage, ItemPublicAccess, Fail, "the bucket has no Block Public Access configuration", fixPAB)
	case err != nil:
		r.add(Storage, ItemPublicAccess, Unknown, cannotSay("GetPublicAccessBlock", err), "")
	default:
		st, ev := evalPublicAccess(pab.PublicAccessBlockConfiguration)
		r.add(Storage, ItemPublicAccess, st, ev, fixPAB)
	}

	ver, err := r.c.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b})
	switch {
	case err != nil:
		r.add(Storage, ItemVersioning, Unknown, cannotSay("GetBucketVersioning", err), "")
	case ver.Status == types.BucketVersioningStatusEnabled:
		r.add(Storage, ItemVersioning, Pass, fmt.Sprintf("Status Enabled, MFADelete %s", orNone(string(ver.MFADelete))), "")
	default:
		r.add(Storage, ItemVersioning, Fail, fmt.Sprintf("Status %s: an overwrite or delete loses the old data", orNone(string(ver.Status))),
			fmt.Sprintf("aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled", b))
	}

	lock, err := r.c.S3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &b})
	switch {
	case errorCode(err) == "ObjectLockConfigurationNotFoundError":
		r.add(Storage, ItemObjectLock, Info, "not enabled (optional: WORM retention for records that must not be deleted)", "")
	case err != nil:
		r.add(Storage, ItemObjectLock, Unknown, cannotSay("GetObjectLockConfiguration", err), "")
	case lock.ObjectLockConfiguration == nil || lock.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled:
		r.add(Storage, ItemObjectLock, Info, "not enabled (optional: WORM retention for records that must not be deleted)", "")
	default:
		ev := "enabled, no default retention"
		if rule := lock.ObjectLockConfiguration.Rule; rule != nil && rule.DefaultRetention != nil {
			d := rule.DefaultRetention
			ev = fmt.Sprintf("enabled, default retention %s %d days %d years", orNone(string(d.Mode)), aws.ToInt32(d.Days), aws.ToInt32(d.Years))
		}
		r.add(Storage, ItemObjectLock, Info, ev, "")
	}

	r.logging(ctx, trails)
}

// encryption adds the default encryption and bucket key items.
func (r *run) encryption(ctx context.Context) {
	b := r.o.Bucket
	fixKey := r.o.Key
	if fixKey == "" {
		fixKey = "KEY_ARN"
	}
	fixEnc := fmt.Sprintf(`aws s3api put-bucket-encryption --bucket %s --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"%s"},"BucketKeyEnabled":true}]}'`, b, fixKey)
	out, err := r.c.S3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &b})
	switch {
	case errorCode(err) == "ServerSideEncryptionConfigurationNotFoundError":
		r.add(Storage, ItemDefaultEncryption, Fail, "the bucket has no default encryption", fixEnc)
		r.add(Storage, ItemBucketKey, Fail, "no SSE-KMS default encryption to use bucket keys with", fixEnc)
		return
	case err != nil:
		r.unknownAll(Storage, cannotSay("GetBucketEncryption", err), ItemDefaultEncryption, ItemBucketKey)
		return
	case out.ServerSideEncryptionConfiguration == nil || len(out.ServerSideEncryptionConfiguration.Rules) == 0:
		r.unknownAll(Storage, "GetBucketEncryption answered with no rule", ItemDefaultEncryption, ItemBucketKey)
		return
	}
	rule := out.ServerSideEncryptionConfiguration.Rules[0]
	def := rule.ApplyServerSideEncryptionByDefault
	if def == nil || (def.SSEAlgorithm != types.ServerSideEncryptionAwsKms && def.SSEAlgorithm != types.ServerSideEncryptionAwsKmsDsse) {
		alg := ""
		if def != nil {
			alg = string(def.SSEAlgorithm)
		}
		r.add(Storage, ItemDefaultEncryption, Fail, fmt.Sprintf("default encryption is %s, not aws:kms: no KMS key policy or CloudTrail record guards reads", q(alg)), fixEnc)
		r.add(Storage, ItemBucketKey, Fail, "no SSE-KMS default encryption to use bucket keys with", fixEnc)
		return
	}
	if aws.ToBool(rule.BucketKeyEnabled) {
		r.add(Storage, ItemBucketKey, Pass, "BucketKeyEnabled true", "")
	} else {
		r.add(Storage, ItemBucketKey, Fail, "BucketKeyEnabled false: one KMS request per object read or written", fixEnc)
	}
	key := aws.ToString(def.KMSMasterKeyID)
	if key == "" || strings.EqualFold(key, "alias/aws/s3") || strings.HasSuffix(strings.ToLower(key), ":alias/aws/s3") {
		r.add(Storage, ItemDefaultEncryption, Fail, fmt.Sprintf("%s with the AWS managed key aws/s3 (%s): its key policy cannot be narrowed", def.SSEAlgorithm, orNone(q(key))), fixEnc)
		return
	}
	r.bucketKey = key
	if r.c.KMS == nil {
		r.add(Storage, ItemDefaultEncryption, Unknown, fmt.Sprintf("%s with key %s; no KMS client to ask who manages it", def.SSEAlgorithm, q(key)), "")
		return
	}
	md, err := describeKey(ctx, r.c.KMS, key)
	switch {
	case err != nil:
		r.add(Storage, ItemDefaultEncryption, Unknown, fmt.Sprintf("%s with key %s; %s", def.SSEAlgorithm, q(key), cannotSay("DescribeKey", err)), "")
	case md.KeyManager == kmstypes.KeyManagerTypeCustomer:
		r.add(Storage, ItemDefaultEncryption, Pass, fmt.Sprintf("%s with key %s (KeyManager CUSTOMER)", def.SSEAlgorithm, q(aws.ToString(md.Arn))), "")
	default:
		r.add(Storage, ItemDefaultEncryption, Fail, fmt.Sprintf("%s with key %s, KeyManager %s", def.SSEAlgorithm, q(key), q(string(md.KeyManager))), fixEnc)
	}
}

// evalPublicAccess checks that all four Block Public Access settings are on.
func evalPublicAccess(c *types.PublicAccessBlockConfiguration) (Status, string) {
	if c == nil || (c.BlockPublicAcls == nil && c.IgnorePublicAcls == nil && c.BlockPublicPolicy == nil && c.RestrictPublicBuckets == nil) {
		// S3 names all four; a server that answers with none of them
		// (an S3-compatible one that ignores ?publicAccessBlock) cannot say.
		return Unknown, "GetPublicAccessBlock answered with none of the four settings"
	}
	var off []string
	for _, s := range []struct {
		name string
		v    *bool
	}{{"BlockPublicAcls", c.BlockPublicAcls}, {"IgnorePublicAcls", c.IgnorePublicAcls}, {"BlockPublicPolicy", c.BlockPublicPolicy}, {"RestrictPublicBuckets", c.RestrictPublicBuckets}} {
		if !aws.ToBool(s.v) {
			off = append(off, s.name)
		}
	}
	if len(off) > 0 {
		return Fail, "off: " + strings.Join(off, ", ")
	}
	return Pass, "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets all true (bucket level)"
}

// logging adds the access logging item: server access logging, or a
// logging trail with data events for the bucket.
func (r *run) logging(ctx context.Context, trails *trailInfo) {
	b := r.o.Bucket
	out, err := r.c.S3.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: &b})
	var ev []string
	switch {
	case err != nil:
		ev = append(ev, cannotSay("GetBucketLogging", err))
	case out.LoggingEnabled != nil:
		le := out.LoggingEnabled
		r.add(Storage, ItemAccessLogging, Pass, fmt.Sprintf("server access logs to s3://%s/%s", aws.ToString(le.TargetBucket), aws.ToString(le.TargetPrefix)), "")
		return
	default:
		ev = append(ev, "server access logging off")
	}
	if t := trails.dataEvents; t != "" {
		r.add(Storage, ItemAccessLogging, Pass, fmt.Sprintf("CloudTrail trail %s logs S3 data events for the bucket", q(t)), "")
		return
	}
	ev = append(ev, trails.dataEventsWhy)
	st := Fail
	if err != nil || trails.err != "" || trails.dataErr {
		st = Unknown
	}
	r.add(Storage, ItemAccessLogging, st, strings.Join(ev, "; "),
		fmt.Sprintf("aws s3api put-bucket-logging --bucket %s --bucket-logging-status '{\"LoggingEnabled\":{\"TargetBucket\":\"LOG_BUCKET\",\"TargetPrefix\":\"%s/\"}}', or CloudTrail data events (see Audit)", b, b))
}

// transit adds the bucket policy item: a Deny of requests without TLS.
func (r *run) transit(ctx context.Context) {
	b := r.o.Bucket
	fix := fmt.Sprintf(`add to the bucket policy: {"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, b, b)
	if r.c.S3 == nil {
		r.add(Transit, ItemSecureTransport, Unknown, "no S3 client", "")
		return
	}
	out, err := r.c.S3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &b})
	switch {
	case errorCode(err) == "NoSuchBucketPolicy":
		r.add(Transit, ItemSecureTransport, Fail, "the bucket has no policy", fix)
		return
	case err != nil:
		r.add(Transit, ItemSecureTransport, Unknown, cannotSay("GetBucketPolicy", err), "")
		return
	}
	st, ev := evalSecureTransport(aws.ToString(out.Policy), b)
	r.add(Transit, ItemSecureTransport, st, ev, fix)
}

// evalSecureTransport checks a bucket policy for a Deny of every request
// without TLS to the bucket's objects.
func evalSecureTransport(doc, bucket string) (Status, string) {
	p, err := parsePolicy(doc)
	if err != nil {
		return Unknown, q(err.Error())
	}
	var near []string
	for i := range p.Statement {
		s := &p.Statement[i]
		ok, why := secureTransportDeny(s, bucket)
		if ok {
			return Pass, fmt.Sprintf("statement %s denies every principal s3 requests without TLS", sidOf(s, i))
		}
		if why != "" {
			near = append(near, fmt.Sprintf("statement %s has the condition but %s", sidOf(s, i), why))
		}
	}
	if len(near) > 0 {
		return Fail, strings.Join(near, "; ")
	}
	return Fail, fmt.Sprintf("no Deny statement with Bool aws:SecureTransport \"false\" among %d statements", len(p.Statement))
}

// sidOf names statement i: its quoted Sid, or its index.
func sidOf(s *statement, i int) string {
	if s.Sid != "" {
		return q(s.Sid)
	}
	return fmt.Sprintf("#%d", i+1)
}

func orNone(s string) string {
	if s == "" || s == `""` {
		return "(none)"
	}
	return s
}

// describeKey calls DescribeKey, in the key ARN's region when it has one.
func describeKey(ctx context.Context, c *kms.Client, key string) (*kmstypes.KeyMetadata, error) {
	out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &key}, inRegion(key))
	if err != nil {
		return nil, err
	}
	if out.KeyMetadata == nil {
		return nil, fmt.Errorf("DescribeKey answered with no KeyMetadata")
	}
	return out.KeyMetadata, nil
}

// inRegion sends a KMS call to the region of a key ARN; other key names
// keep the client's region.
func inRegion(key string) func(*kms.Options) {
	return func(o *kms.Options) {
		if f := strings.Split(key, ":"); len(f) >= 6 && f[0] == "arn" && f[3] != "" {
			o.Region = f[3]
		}
	}
}
