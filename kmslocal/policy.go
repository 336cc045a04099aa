package kmslocal

import (
	"context"
	"encoding/json"
)

const (
	// defaultPolicyName is the only key policy name KMS knows.
	defaultPolicyName = "default"
	// maxPolicy is KMS's key policy size limit in bytes.
	maxPolicy = 32 << 10
)

// ErrMalformedPolicyDocument and ErrLimitExceeded are the errors of
// PutKeyPolicy and CreateKey for a policy that is not a key policy or is
// longer than 32 KiB.
var (
	ErrMalformedPolicyDocument = &Error{Code: "MalformedPolicyDocumentException"}
	ErrLimitExceeded           = &Error{Code: "LimitExceededException"}
)

// defaultPolicy is the key policy KMS gives a key created through the API
// without one: the account's IAM policies decide all access.
func (s *Server) defaultPolicy() string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:` + partition(s.region) + `:iam::` + s.account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// policyOf returns k's key policy; "" stored means the default policy.
func (s *Server) policyOf(k key) string {
	if k.policy == "" {
		return s.defaultPolicy()
	}
	return k.policy
}

// checkPolicy validates a key policy as KMS does before storing it: at
// most maxPolicy bytes of tab, LF, CR and U+0020..U+00FF (invalid UTF-8
// is U+FFFD, so refused), a JSON object
// whose Statement is one statement or a non-empty list of them, each with
// Effect Allow or Deny and a Principal. Action and Resource may be absent
// (KMS accepts such ineffective statements). Principals are not checked
// against any account, and there is no lockout safety check: kmslocal
// does not authenticate callers.
func checkPolicy(p string) error {
	if len(p) > maxPolicy {
		return apiErr(ErrLimitExceeded, "key policy is %d bytes, more than the limit of %d", len(p), maxPolicy)
	}
	if p == "" {
		return apiErr(ErrValidation, "Policy is required")
	}
	for i, r := range p {
		if r > 0xff || r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return apiErr(ErrValidation, "Policy contains a character outside U+0020..U+00FF, tab, LF and CR at byte %d", i)
		}
	}
	var doc struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(p), &doc); err != nil {
		return apiErr(ErrMalformedPolicyDocument, "key policy is not a JSON object: %v", err)
	}
	var stmts []map[string]json.RawMessage
	if err := json.Unmarshal(doc.Statement, &stmts); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(doc.Statement, &one); err != nil || one == nil {
			return apiErr(ErrMalformedPolicyDocument, "key policy needs a Statement: one statement object or a list of them")
		}
		stmts = append(stmts, one)
	}
	if len(stmts) == 0 {
		return apiErr(ErrMalformedPolicyDocument, "key policy has no statements")
	}
	for i, st := range stmts {
		var effect string
		if json.Unmarshal(st["Effect"], &effect) != nil || effect != "Allow" && effect != "Deny" {
			return apiErr(ErrMalformedPolicyDocument, "statement %d: Effect must be \"Allow\" or \"Deny\"", i)
		}
		if pr := st["Principal"]; len(pr) == 0 || string(pr) == "null" {
			return apiErr(ErrMalformedPolicyDocument, "statement %d has no Principal; every key policy statement needs one", i)
		}
	}
	return nil
}

type keyPolicyReq struct {
	KeyId      string
	PolicyName *string
}

// checkPolicyName accepts "default" or an absent name.
func checkPolicyName(name *string) error {
	if name != nil && *name != defaultPolicyName {
		return apiErr(ErrNotFound, "no key policy named %q; the only key policy name is %q", bounded(*name), defaultPolicyName)
	}
	return nil
}

type getKeyPolicyResp struct {
	Policy     string
	PolicyName string
}

func (s *Server) getKeyPolicy(_ context.Context, in *keyPolicyReq) (*getKeyPolicyResp, error) {
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyId)
	if err != nil {
		return nil, err
	}
	return &getKeyPolicyResp{Policy: s.policyOf(k), PolicyName: defaultPolicyName}, nil
}

type putKeyPolicyReq struct {
	KeyId                          string
	PolicyName                     *string
	Policy                         string
	BypassPolicyLockoutSafetyCheck bool
}

func (s *Server) putKeyPolicy(_ context.Context, in *putKeyPolicyReq) (*empty, error) {
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	if err := checkPolicy(in.Policy); err != nil {
		return nil, err
	}
	err := s.st.update(func() (func(), error) {
		k, err := s.resolveLocked(in.KeyId)
		if err != nil {
			return nil, err
		}
		old := k.policy
		k.policy = in.Policy
		return func() { k.policy = old }, nil
	})
	if err != nil {
		return nil, err
	}
	return &empty{}, nil
}

type listKeyPoliciesResp struct {
	PolicyNames []string
	Truncated   bool
}

func (s *Server) listKeyPolicies(_ context.Context, in *listReq) (*listKeyPoliciesResp, error) {
	if _, err := s.resolve(in.KeyId); err != nil {
		return nil, err
	}
	return &listKeyPoliciesResp{PolicyNames: []string{defaultPolicyName}}, nil
}
