package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Names of the Keys items.
const (
	ItemKeyCustomer  = "customer managed key"
	ItemKeyEnabled   = "key enabled"
	ItemKeySymmetric = "symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)"
	ItemKeyRotation  = "automatic key rotation"
	ItemKeyPolicy    = "key policy: no wildcard principal without conditions"
	ItemKeyContext   = "key policy: encryption context conditions"
)

var keyItems = []string{ItemKeyCustomer, ItemKeyEnabled, ItemKeySymmetric, ItemKeyRotation, ItemKeyPolicy, ItemKeyContext}

// keys adds the Keys items for Options.Key, or else for the bucket's
// default SSE-KMS key.
func (r *run) keys(ctx context.Context) {
	key := r.o.Key
	if key == "" {
		key = r.bucketKey
	}
	switch {
	case key == "":
		if r.o.Bucket == "" {
			return
		}
		r.add(Keys, ItemKeyCustomer, Unknown, "no --key given and the bucket's default encryption names no KMS key", "")
		return
	case r.c.KMS == nil:
		r.unknownAll(Keys, "no KMS client", keyItems...)
		return
	}
	md, err := describeKey(ctx, r.c.KMS, key)
	switch {
	case errorCode(err) == "NotFoundException":
		r.add(Keys, ItemKeyCustomer, Fail, fmt.Sprintf("key %s not found", q(key)), "name an existing key with --key (ARN, key id or alias/NAME)")
		return
	case err != nil:
		r.unknownAll(Keys, fmt.Sprintf("key %s: %s", q(key), cannotSay("DescribeKey", err)), keyItems...)
		return
	}
	arn := aws.ToString(md.Arn)
	if arn == "" {
		arn = key
	}
	name := q(arn)
	if md.KeyManager == kmstypes.KeyManagerTypeCustomer {
		r.add(Keys, ItemKeyCustomer, Pass, fmt.Sprintf("%s: KeyManager CUSTOMER, Origin %s", name, orNone(string(md.Origin))), "")
	} else {
		r.add(Keys, ItemKeyCustomer, Fail, fmt.Sprintf("%s: KeyManager %s: its key policy is AWS's and cannot be narrowed", name, q(string(md.KeyManager))),
			"aws kms create-key --description phicrypt, then use its ARN with --key and in the bucket's default encryption")
	}
	if md.Enabled && md.KeyState == kmstypes.KeyStateEnabled {
		r.add(Keys, ItemKeyEnabled, Pass, fmt.Sprintf("%s: KeyState Enabled", name), "")
	} else {
		r.add(Keys, ItemKeyEnabled, Fail, fmt.Sprintf("%s: Enabled %v, KeyState %s", name, md.Enabled, q(string(md.KeyState))),
			fmt.Sprintf("aws kms enable-key --key-id %s (or cancel-key-deletion first)", arn))
	}
	if md.KeySpec == kmstypes.KeySpecSymmetricDefault && md.KeyUsage == kmstypes.KeyUsageTypeEncryptDecrypt {
		r.add(Keys, ItemKeySymmetric, Pass, fmt.Sprintf("%s: KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT", name), "")
	} else {
		r.add(Keys, ItemKeySymmetric, Fail, fmt.Sprintf("%s: KeySpec %s, KeyUsage %s: cannot make data keys", name, q(string(md.KeySpec)), q(string(md.KeyUsage))),
			"use a key created with KeySpec SYMMETRIC_DEFAULT and KeyUsage ENCRYPT_DECRYPT")
	}
	r.rotation(ctx, arn, md)
	r.keyPolicy(ctx, arn)
}

func (r *run) rotation(ctx context.Context, arn string, md *kmstypes.KeyMetadata) {
	fix := fmt.Sprintf("aws kms enable-key-rotation --key-id %s", arn)
	if md.Origin != "" && md.Origin != kmstypes.OriginTypeAwsKms {
		r.add(Keys, ItemKeyRotation, Fail, fmt.Sprintf("%s: Origin %s keys cannot rotate automatically", q(arn), q(string(md.Origin))),
			"rotate imported or external key material by hand, or use an AWS_KMS origin key")
		return
	}
	out, err := r.c.KMS.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: &arn}, inRegion(arn))
	switch {
	case err != nil:
		r.add(Keys, ItemKeyRotation, Unknown, cannotSay("GetKeyRotationStatus", err), "")
	case out.KeyRotationEnabled:
		ev := fmt.Sprintf("%s: KeyRotationEnabled true", q(arn))
		if p := aws.ToInt32(out.RotationPeriodInDays); p > 0 {
			ev += fmt.Sprintf(", every %d days", p)
		}
		r.add(Keys, ItemKeyRotation, Pass, ev, "")
	default:
		r.add(Keys, ItemKeyRotation, Fail, fmt.Sprintf("%s: KeyRotationEnabled false", q(arn)), fix)
	}
}

// keyPolicy adds the wildcard principal and encryption context items.
func (r *run) keyPolicy(ctx context.Context, arn string) {
	out, err := r.c.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: &arn, PolicyName: aws.String("default")}, inRegion(arn))
	if err != nil {
		r.unknownAll(Keys, cannotSay("GetKeyPolicy", err), ItemKeyPolicy, ItemKeyContext)
		return
	}
	wild, ctxEv := evalKeyPolicy(aws.ToString(out.Policy))
	r.add(Keys, ItemKeyPolicy, wild.status, wild.evidence, "remove the statements named, or add a Condition (aws:PrincipalAccount, kms:CallerAccount, kms:ViaService, kms:EncryptionContext:…) to each")
	r.add(Keys, ItemKeyContext, ctxEv.status, ctxEv.evidence, "")
}

type verdict struct {
	status   Status
	evidence string
}

// evalKeyPolicy flags Allow statements whose principal is "*" (alone or
// among others) with no condition, and lists the encryption context
// condition keys of the policy (reported as Info: they narrow who may use
// the key with which records, and are not required).
func evalKeyPolicy(doc string) (wild, ec verdict) {
	p, err := parsePolicy(doc)
	if err != nil {
		v := verdict{Unknown, q(err.Error())}
		return v, v
	}
	var flagged, narrowed []string
	var ecKeys []string
	for i := range p.Statement {
		s := &p.Statement[i]
		for _, keys := range s.Condition {
			for k := range keys {
				if isECCondition(k) && !slices.Contains(ecKeys, k) {
					ecKeys = append(ecKeys, k)
				}
			}
		}
		if strings.EqualFold(s.Effect, "Deny") {
			continue
		}
		if s.NotPrincipal != nil || s.Principal.star {
			if s.conditionCount() == 0 {
				flagged = append(flagged, sidOf(s, i))
			} else {
				narrowed = append(narrowed, sidOf(s, i))
			}
		}
	}
	switch {
	case len(flagged) > 0:
		wild = verdict{Fail, fmt.Sprintf("statements allowing principal \"*\" with no condition: %s", strings.Join(flagged, ", "))}
	case len(narrowed) > 0:
		wild = verdict{Pass, fmt.Sprintf("%d statements; principal \"*\" only with conditions (%s)", len(p.Statement), strings.Join(narrowed, ", "))}
	default:
		wild = verdict{Pass, fmt.Sprintf("%d statements, none with principal \"*\"", len(p.Statement))}
	}
	slices.Sort(ecKeys)
	if len(ecKeys) == 0 {
		ec = verdict{Info, "no kms:EncryptionContext condition: any caller the policy allows may use the key with any context"}
	} else {
		ec = verdict{Info, "conditions on " + qlist(ecKeys)}
	}
	return wild, ec
}
