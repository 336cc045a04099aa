package kms_test

import (
	"errors"
	"testing"

	"github.com/phicrypt/phicrypt/keyring/kms"
)

// TestParseARN follows aws-kms-key-arn.md section "A valid AWS KMS ARN".
func TestParseARN(t *testing.T) {
	valid := []struct {
		in   string
		want kms.ARN
		mrk  bool
	}{
		{"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			kms.ARN{"aws", "kms", "us-west-2", "111122223333", "key", "1234abcd-12ab-34cd-56ef-1234567890ab"}, false},
		{"arn:aws:kms:us-west-2:111122223333:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
			kms.ARN{"aws", "kms", "us-west-2", "111122223333", "key", "mrk-80bd8ecdcd4342aebd84b7dc9da498a7"}, true},
		{"arn:aws:kms:us-west-2:111122223333:alias/phi",
			kms.ARN{"aws", "kms", "us-west-2", "111122223333", "alias", "phi"}, false},
		// An alias is never an MRK, whatever its name.
		{"arn:aws:kms:us-west-2:111122223333:alias/mrk-looks-like-one",
			kms.ARN{"aws", "kms", "us-west-2", "111122223333", "alias", "mrk-looks-like-one"}, false},
		// The resource splits at the first '/'; later ones belong to the id.
		{"arn:aws:kms:us-west-2:111122223333:alias/team/phi",
			kms.ARN{"aws", "kms", "us-west-2", "111122223333", "alias", "team/phi"}, false},
		{"arn:aws-cn:kms:cn-north-1:111122223333:key/k",
			kms.ARN{"aws-cn", "kms", "cn-north-1", "111122223333", "key", "k"}, false},
		{"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1",
			kms.ARN{"aws-us-gov", "kms", "us-gov-west-1", "111122223333", "key", "mrk-1"}, true},
	}
	for _, c := range valid {
		t.Run(c.in, func(t *testing.T) {
			got, err := kms.ParseARN(c.in)
			if err != nil {
				t.Errorf("ParseARN(%q): %v", c.in, err)
				return
			}
			if got != c.want || got.String() != c.in || got.IsMRK() != c.mrk || got.IsKey() != (c.want.ResourceType == "key") {
				t.Errorf("ParseARN(%q) = %+v (String %q, MRK %v)", c.in, got, got.String(), got.IsMRK())
			}
		})
	}

	invalid := []struct{ in, why string }{
		{"", "empty"},
		{"1234abcd-12ab-34cd-56ef-1234567890ab", "a bare key id"},
		{"alias/phi", "an alias name"},
		{"arn:aws:kms:us-west-2:111122223333", "five parts"},
		{"arn:aws:kms:us-west-2:111122223333:key/k:extra", "seven parts"},
		{"aws:aws:kms:us-west-2:111122223333:key/k", "not starting with arn"},
		{"ARN:aws:kms:us-west-2:111122223333:key/k", "ARN in upper case"},
		{"arn::kms:us-west-2:111122223333:key/k", "empty partition"},
		{"arn:aws:s3:us-west-2:111122223333:key/k", "service s3"},
		{"arn:aws::us-west-2:111122223333:key/k", "empty service"},
		{"arn:aws:kms::111122223333:key/k", "empty region"},
		{"arn:aws:kms:us-west-2::key/k", "empty account"},
		{"arn:aws:kms:us-west-2:111122223333:", "empty resource"},
		{"arn:aws:kms:us-west-2:111122223333:key", "resource without '/'"},
		{"arn:aws:kms:us-west-2:111122223333:key/", "empty resource id"},
		{"arn:aws:kms:us-west-2:111122223333:alias/", "empty alias name"},
		{"arn:aws:kms:us-west-2:111122223333:grant/k", "resource type grant"},
		{"arn:aws:kms:us-west-2:111122223333:/k", "empty resource type"},
	}
	for _, c := range invalid {
		t.Run(c.why, func(t *testing.T) {
			if a, err := kms.ParseARN(c.in); !errors.Is(err, kms.ErrInvalidARN) {
				t.Errorf("ParseARN(%q) (%s) = %+v, %v; want ErrInvalidARN", c.in, c.why, a, err)
			}
		})
	}
}

func TestIsMRKIdentifier(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"arn:aws:kms:us-west-2:111122223333:key/mrk-1", true},
		{"arn:aws:kms:us-west-2:111122223333:key/1", false},
		{"arn:aws:kms:us-west-2:111122223333:alias/mrk-1", false},
		{"arn:aws:kms:us-west-2::key/mrk-1", false}, // an invalid ARN is no MRK
		{"mrk-80bd8ecdcd4342aebd84b7dc9da498a7", true},
		{"1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"alias/mrk-1", false},
	} {
		t.Run(c.id, func(t *testing.T) {
			if got := kms.IsMRKIdentifier(c.id); got != c.want {
				t.Errorf("IsMRKIdentifier(%q) = %v, want %v", c.id, got, c.want)
			}
		})
	}
}

// TestMRKMatch follows aws-kms-mrk-match-for-decrypt.md: identical
// identifiers match; otherwise both must be MRK ARNs equal but for region.
func TestMRKMatch(t *testing.T) {
	const (
		east  = "arn:aws:kms:us-east-1:111122223333:key/mrk-1"
		west  = "arn:aws:kms:us-west-2:111122223333:key/mrk-1"
		srk   = "arn:aws:kms:us-east-1:111122223333:key/k-1"
		srkW  = "arn:aws:kms:us-west-2:111122223333:key/k-1"
		alias = "arn:aws:kms:us-east-1:111122223333:alias/mrk-1"
	)
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{east, east, true},
		{east, west, true},
		{west, east, true},
		{srk, srk, true},
		{srk, srkW, false}, // single-Region keys match only exactly
		{east, "arn:aws:kms:us-west-2:444455556666:key/mrk-1", false},
		{east, "arn:aws-cn:kms:us-west-2:111122223333:key/mrk-1", false},
		{east, "arn:aws:kms:us-west-2:111122223333:key/mrk-2", false},
		{alias, "arn:aws:kms:us-west-2:111122223333:alias/mrk-1", false},
		{east, alias, false},
		{"mrk-1", "mrk-1", true},
		{"mrk-1", east, false}, // a key id is not an ARN
		{"alias/a", "alias/a", true},
		{"not an arn", "not an arn", true},
	} {
		t.Run(c.a+" vs "+c.b, func(t *testing.T) {
			if got := kms.MRKMatch(c.a, c.b); got != c.want {
				t.Errorf("MRKMatch(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
			}
		})
	}
}

// TestNewChecksIdentifiers: New accepts every KMS key identifier form and
// refuses what is none.
func TestNewChecksIdentifiers(t *testing.T) {
	c := newKMSClient("http://127.0.0.1:1", "us-east-1")
	for _, id := range []string{
		"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-west-2:111122223333:alias/phi",
		"1234abcd-12ab-34cd-56ef-1234567890ab",
		"mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
		"alias/phi",
	} {
		if _, err := kms.New(c, id); err != nil {
			t.Errorf("New(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", "alias/", "arn:aws:kms:us-west-2::key/k", "key id with spaces", "a:b"} {
		if _, err := kms.New(c, id); err == nil {
			t.Errorf("New(%q) accepted an invalid identifier", id)
		}
		if _, err := kms.New(c, "alias/ok", kms.WithAdditionalKeys(id)); err == nil {
			t.Errorf("New(WithAdditionalKeys(%q)) accepted an invalid identifier", id)
		}
	}
	if _, err := kms.New(nil, "alias/ok"); err == nil {
		t.Error("New accepted a nil client")
	}
}

// FuzzParseARN: provider infos come from untrusted message headers.
// ParseARN never panics, a parsed ARN prints back to its input, and
// MRKMatch is symmetric.
func FuzzParseARN(f *testing.F) {
	f.Add("arn:aws:kms:us-west-2:111122223333:key/mrk-1", "arn:aws:kms:us-east-1:111122223333:key/mrk-1")
	f.Add("arn:aws:kms:us-west-2:111122223333:alias/a/b", "alias/a")
	f.Add("arn:::::", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		x, err := kms.ParseARN(a)
		if err == nil {
			if x.String() != a {
				t.Fatalf("ParseARN(%q).String() = %q", a, x.String())
			}
			if x.IsMRK() && !x.IsKey() {
				t.Fatalf("%q: an MRK that is not a key", a)
			}
		} else if !errors.Is(err, kms.ErrInvalidARN) {
			t.Fatalf("ParseARN(%q): %v, not ErrInvalidARN", a, err)
		}
		if kms.MRKMatch(a, b) != kms.MRKMatch(b, a) {
			t.Fatalf("MRKMatch(%q, %q) is not symmetric", a, b)
		}
		if !kms.MRKMatch(a, a) {
			t.Fatalf("MRKMatch(%q, itself) is false", a)
		}
	})
}
