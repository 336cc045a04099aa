package doctor

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Attack: a trail name (or any string a service returns) carrying
// terminal escapes and megabytes of text reaches the report verbatim.
func TestHostileEvidenceQuoted(t *testing.T) {
	name := "\x1b[2J\x1b[32mPASS\x1b[0m\n" + strings.Repeat("A", 1<<20)
	items := check(t, func(s *setup) {
		s.ct["DescribeTrails"] = ctJSON(map[string]any{"trailList": []any{map[string]any{
			"Name": name, "HomeRegion": "us-east-1", "IsMultiRegionTrail": true, "LogFileValidationEnabled": true, "KmsKeyId": name}}})
	})
	for _, it := range items {
		if strings.ContainsAny(it.Evidence, "\x1b\n") || len(it.Evidence) > 2000 {
			t.Fatalf("%s: evidence of %d bytes, raw: %.100q", it.Name, len(it.Evidence), it.Evidence)
		}
	}
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprintf("s3://b/%d\x1b", i)
	}
	if l := qlist(many); len(l) > 2000 || strings.Contains(l, "\x1b") || !strings.HasSuffix(l, "and 9995 more") {
		t.Fatalf("qlist: %d bytes: %.200s", len(l), l)
	}
}

// Attack: a key policy hides the wildcard principal among others in an
// array, so that a check of Principal == "*" alone misses it.
func TestHostileWildcardAmongPrincipals(t *testing.T) {
	for _, p := range []string{
		`{"AWS":["arn:aws:iam::111122223333:root","*"]}`,
		`{"Service":"kms.amazonaws.com","AWS":"*"}`,
		`"*"`,
	} {
		wild, _ := evalKeyPolicy(`{"Statement":[{"Sid":"s","Effect":"Allow","Principal":` + p + `,"Action":"kms:Decrypt","Resource":"*"}]}`)
		if wild.status != Fail {
			t.Errorf("principal %s: %+v", p, wild)
		}
	}
}

// Attack: an empty condition block ("Condition": {} or an operator with
// no keys) makes a wildcard statement look conditioned.
func TestHostileEmptyCondition(t *testing.T) {
	for _, c := range []string{`{}`, `{"StringEquals":{}}`, `{"StringEquals":{},"Bool":{}}`} {
		wild, _ := evalKeyPolicy(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*","Condition":` + c + `}]}`)
		if wild.status != Fail {
			t.Errorf("condition %s: %+v", c, wild)
		}
	}
}

// Attack: the TLS deny statement carries a second condition that never
// holds, so it denies nothing, yet names aws:SecureTransport.
func TestHostileNarrowedTLSDeny(t *testing.T) {
	doc := `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*",` +
		`"Condition":{"Bool":{"aws:SecureTransport":"false"},"StringEquals":{"aws:username":"nobody-ever"}}}]}`
	if st, ev := evalSecureTransport(doc, "b"); st != Fail || !strings.Contains(ev, "narrowed") {
		t.Fatalf("%s %s", st, ev)
	}
}

// Attack: a bucket or key policy with many wildcards makes a
// backtracking glob matcher take exponential time, hanging doctor.
func TestHostileWildcardBacktracking(t *testing.T) {
	p := strings.Repeat("*a", 200) + "*b"
	s := strings.Repeat("a", 20000)
	start := time.Now()
	if match(p, s, true) {
		t.Fatal("matched")
	}
	doc := `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"` + p + `","Resource":"` + p + `","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	evalSecureTransport(doc, s)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
}

// Attack: DescribeTrails lists thousands of trails, and doctor makes two
// more calls for each.
func TestHostileTrailFlood(t *testing.T) {
	trails := make([]any, 5000)
	for i := range trails {
		trails[i] = map[string]any{"Name": fmt.Sprint("t", i), "HomeRegion": "us-east-1"}
	}
	replies := goodTrail(bucket)
	replies["DescribeTrails"] = ctJSON(map[string]any{"trailList": trails})
	replies["GetTrailStatus"] = ctJSON(map[string]any{"IsLogging": true})
	c, f := serveCloudTrail(t, replies)
	if _, err := Run(t.Context(), Clients{CloudTrail: c}, Options{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.targets); n > 1+2*maxTrails {
		t.Fatalf("%d requests for %d trails", n, len(trails))
	}
}

// FuzzPolicy feeds policy documents, which whoever may write a bucket or
// key policy controls, to both evaluations: no panic, bounded evidence.
func FuzzPolicy(f *testing.F) {
	f.Add(goodKeyPolicy, "b")
	f.Add(`{"Statement":{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":["s3:*"],"Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":[false]}}}}`, "b")
	f.Add(`{"Statement":[{"Principal":{"AWS":{}},"Condition":{"X":{"k":[1,{"a":2}]}}}]}`, "")
	f.Add(`{"Statement":[{"NotPrincipal":"*","Action":"*?*?","Resource":[]}]}`, "*")
	f.Fuzz(func(t *testing.T, doc, bucket string) {
		if len(doc) > 64<<10 || len(bucket) > 1024 {
			return
		}
		st, ev := evalSecureTransport(doc, bucket)
		wild, ec := evalKeyPolicy(doc)
		for _, e := range []string{ev, wild.evidence, ec.evidence} {
			if len(e) > 8<<10 {
				t.Fatalf("evidence of %d bytes", len(e))
			}
		}
		if st == "" || wild.status == "" || ec.status == "" {
			t.Fatal("no status")
		}
	})
}
