package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxPolicyBytes bounds the policy documents parsed (S3 allows 20 KiB,
// KMS 32 KiB); a longer one is not parsed.
const maxPolicyBytes = 1 << 20

// ErrPolicy reports a policy document that does not parse.
var ErrPolicy = errors.New("policy does not parse")

// policy is an IAM policy document: Statement is an object or an array.
type policy struct {
	Statement statements
}

type statements []statement

func (s *statements) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
		var one statement
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = statements{one}
		return nil
	}
	var many []statement
	err := json.Unmarshal(b, &many)
	*s = many
	return err
}

// statement is one policy statement. Condition maps an operator
// ("Bool", "StringEquals", …) to condition keys and their values.
type statement struct {
	Sid          string
	Effect       string
	Principal    principal
	NotPrincipal *principal
	Action       stringList
	NotAction    stringList
	Resource     stringList
	NotResource  stringList
	Condition    map[string]map[string]stringList
}

// principal is "*" or an object of principal types ("AWS", "Service", …)
// to one or more values.
type principal struct {
	set  bool
	star bool // "*", or "*" among any type's values
	// values lists "Type:value" for each principal named.
	values []string
}

func (p *principal) UnmarshalJSON(b []byte) error {
	p.set = true
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		p.star = s == "*"
		p.values = []string{s}
		return nil
	}
	var m map[string]stringList
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for typ, vals := range m {
		for _, v := range vals {
			p.star = p.star || v == "*"
			p.values = append(p.values, typ+":"+v)
		}
	}
	return nil
}

// stringList is a string or an array of strings; in conditions also a
// bool or a number (or arrays of them), kept as their JSON text.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make(stringList, 0, len(raw))
		for _, r := range raw {
			s, err := scalar(r)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	s, err := scalar(b)
	if err != nil {
		return err
	}
	*l = stringList{s}
	return nil
}

// scalar returns a JSON string's value, or a bool's or number's text.
func scalar(b []byte) (string, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return string(bytes.TrimSpace(b)), nil
	}
	return "", fmt.Errorf("want a string, a bool or a number, got %s", q(string(b)))
}

// parsePolicy parses an IAM policy document.
func parsePolicy(doc string) (*policy, error) {
	if len(doc) > maxPolicyBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrPolicy, len(doc), maxPolicyBytes)
	}
	var p policy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	return &p, nil
}

// conditionCount is the number of condition keys in a statement.
func (s *statement) conditionCount() int {
	n := 0
	for _, keys := range s.Condition {
		n += len(keys)
	}
	return n
}

// match reports whether IAM wildcard pattern p (* any run, ? one
// character) matches s, ignoring ASCII case when fold is set.
func match(p, s string, fold bool) bool {
	if fold {
		p, s = strings.ToLower(p), strings.ToLower(s)
	}
	// Iterative glob with one backtrack point: linear in practice,
	// O(len(p)*len(s)) at worst, so a hostile pattern cannot blow up.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// anyMatch reports whether any pattern in l matches s.
func anyMatch(l stringList, s string, fold bool) bool {
	for _, p := range l {
		if match(p, s, fold) {
			return true
		}
	}
	return false
}

// secureTransportDeny reports whether s denies every principal the S3
// object reads and writes on bucket made without TLS, and if not, why.
// The Condition must be Bool (or BoolIfExists) aws:SecureTransport
// "false" and nothing else: another condition narrows the deny.
func secureTransportDeny(s *statement, bucket string) (bool, string) {
	if !strings.EqualFold(s.Effect, "Deny") {
		return false, ""
	}
	st, other := false, 0
	for op, keys := range s.Condition {
		for k, vals := range keys {
			if (op == "Bool" || op == "BoolIfExists") && strings.EqualFold(k, "aws:SecureTransport") &&
				len(vals) == 1 && strings.EqualFold(vals[0], "false") {
				st = true
				continue
			}
			other++
		}
	}
	if !st {
		return false, ""
	}
	why := ""
	switch {
	case other > 0:
		why = "its deny is narrowed by other conditions"
	case s.NotPrincipal != nil || !s.Principal.star:
		why = "it denies only some principals, want \"*\""
	case len(s.NotAction) > 0 || !anyMatch(s.Action, "s3:GetObject", true) || !anyMatch(s.Action, "s3:PutObject", true):
		why = "its Action does not cover s3:GetObject and s3:PutObject (want s3:*)"
	case len(s.NotResource) > 0 || !coversObjects(s.Resource, bucket):
		why = fmt.Sprintf("its Resource does not cover the objects (want arn:aws:s3:::%s/*)", bucket)
	}
	return why == "", why
}

// coversObjects reports whether resource patterns l match every object of
// bucket: the pattern must match two different object ARNs of it, with
// the pattern's own partition.
func coversObjects(l stringList, bucket string) bool {
	for _, p := range l {
		part := "aws"
		if f := strings.SplitN(p, ":", 3); len(f) == 3 && f[0] == "arn" {
			part = f[1]
		}
		base := "arn:" + part + ":s3:::" + bucket + "/"
		if match(p, base+"a", false) && match(p, base+"z/y.x", false) {
			return true
		}
	}
	return false
}

// isECCondition reports whether a condition key is an encryption context
// condition of KMS.
func isECCondition(k string) bool {
	k = strings.ToLower(k)
	return strings.HasPrefix(k, "kms:encryptioncontext:") || k == "kms:encryptioncontextkeys"
}
