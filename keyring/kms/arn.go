package kms

import (
	"errors"
	"fmt"
	"strings"
)

// ARN is a parsed AWS KMS ARN:
//
//	arn:<Partition>:<Service>:<Region>:<Account>:<ResourceType>/<ResourceID>
type ARN struct {
	Partition    string // "aws", "aws-cn", "aws-us-gov", ...
	Service      string // always "kms"
	Region       string
	Account      string
	ResourceType string // "key" or "alias"
	ResourceID   string // a key id ("mrk-..." for a multi-Region key) or an alias name
}

// ErrInvalidARN reports a string that is not a valid AWS KMS ARN.
var ErrInvalidARN = errors.New("not a valid AWS KMS ARN")

// ParseARN parses an AWS KMS ARN under the rules of the ESDK specification
// (framework/aws-kms/aws-kms-key-arn.md): exactly five ':' delimiting six
// parts; "arn"; a non-empty partition; the service "kms"; a non-empty region
// and account; and a resource split at its first '/' into the type "key" or
// "alias" and a non-empty id (later '/' belong to the id).
func ParseARN(s string) (ARN, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return ARN{}, fmt.Errorf("kms: %q has %d ':'-separated parts, want 6: %w", clip(s), len(parts), ErrInvalidARN)
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4]}
	var fail string
	switch {
	case parts[0] != "arn":
		fail = "does not start with \"arn\""
	case a.Partition == "":
		fail = "has an empty partition"
	case a.Service != "kms":
		fail = "is not a kms ARN"
	case a.Region == "":
		fail = "has an empty region"
	case a.Account == "":
		fail = "has an empty account"
	}
	if fail == "" {
		var ok bool
		a.ResourceType, a.ResourceID, ok = strings.Cut(parts[5], "/")
		switch {
		case !ok:
			fail = "has no '/' in its resource"
		case a.ResourceType != "key" && a.ResourceType != "alias":
			fail = "has resource type " + fmt.Sprintf("%q", clip(a.ResourceType)) + ", want key or alias"
		case a.ResourceID == "":
			fail = "has an empty resource id"
		}
	}
	if fail != "" {
		return ARN{}, fmt.Errorf("kms: %q %s: %w", clip(s), fail, ErrInvalidARN)
	}
	return a, nil
}

// String returns the ARN in its text form.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.ResourceType + "/" + a.ResourceID
}

// IsKey reports whether the ARN names a key (not an alias).
func (a ARN) IsKey() bool { return a.ResourceType == "key" }

// IsMRK reports whether the ARN names a multi-Region key: resource type
// "key" and an id starting with "mrk-". An alias is never an MRK, whatever
// its name.
func (a ARN) IsMRK() bool { return a.ResourceType == "key" && strings.HasPrefix(a.ResourceID, "mrk-") }

// parseKeyARN parses s and requires resource type key.
func parseKeyARN(s string) (ARN, error) {
	a, err := ParseARN(s)
	if err != nil {
		return ARN{}, err
	}
	if !a.IsKey() {
		return ARN{}, fmt.Errorf("kms: %q names an alias, want a key ARN: %w", clip(s), ErrInvalidARN)
	}
	return a, nil
}

// checkIdentifier reports whether id is a valid AWS KMS key identifier: a
// valid key or alias ARN, an alias name ("alias/..."), or a key id.
func checkIdentifier(id string) error {
	switch {
	case id == "":
		return errors.New("kms: empty AWS KMS key identifier")
	case strings.HasPrefix(id, "arn:"):
		_, err := ParseARN(id)
		return err
	case strings.HasPrefix(id, "alias/"):
		if id == "alias/" {
			return fmt.Errorf("kms: empty alias name in %q", id)
		}
	case strings.ContainsAny(id, " \t\r\n:"):
		return fmt.Errorf("kms: %q is not an AWS KMS key identifier", id)
	}
	return nil
}

// IsMRKIdentifier reports whether the key identifier id names a multi-Region
// key: an MRK ARN, or a key id starting with "mrk-". Aliases and alias ARNs
// never do.
func IsMRKIdentifier(id string) bool {
	if strings.HasPrefix(id, "arn:") {
		a, err := ParseARN(id)
		return err == nil && a.IsMRK()
	}
	return !strings.HasPrefix(id, "alias/") && strings.HasPrefix(id, "mrk-")
}

// MRKMatch is the specification's "MRK match for decrypt": true if the two
// identifiers are identical, or if both are multi-Region key ARNs equal in
// every part but the region.
func MRKMatch(a, b string) bool {
	if a == b {
		return true
	}
	x, err := ParseARN(a)
	if err != nil || !x.IsMRK() {
		return false
	}
	y, err := ParseARN(b)
	if err != nil || !y.IsMRK() {
		return false
	}
	x.Region = y.Region
	return x == y
}
