package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/phicrypt/phicrypt/batch"
)

// Status is a checklist item's outcome.
type Status string

// Statuses. Only FAIL makes Failed true.
const (
	Pass    Status = "PASS"    // the API shows the item holds
	Fail    Status = "FAIL"    // the API shows it does not
	Unknown Status = "UNKNOWN" // the API could not say: denied, not supported, or an error
	Info    Status = "INFO"    // reported for the record, not a requirement
)

// Sections of the checklist, in the order Run reports them.
const (
	Storage = "Storage"
	Transit = "Transit"
	Keys    = "Keys"
	Audit   = "Audit"
	Client  = "Client"
)

// Item is one checked line of the checklist. Evidence quotes what came
// from the service (bounded); Fix says what would make a FAIL pass.
type Item struct {
	Section  string `json:"section"`
	Name     string `json:"name"`
	Status   Status `json:"status"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix,omitempty"`
}

// Clients are the service clients the checks call; a nil client makes the
// items that need it UNKNOWN.
type Clients struct {
	S3         *s3.Client
	KMS        *kms.Client
	CloudTrail *cloudtrail.Client
}

// Options say what Run checks.
type Options struct {
	Bucket string // "" skips the Storage, Transit and Client items
	Key    string // KMS key ARN, key id or alias/NAME; "" checks the bucket's default key, if any
	Prefix string // the Client sample lists s3://Bucket/Prefix
	// Sample is the most objects the Client item reads a header of; 0
	// skips the item.
	Sample int
	// ScanS3 reaches S3 for the sample (batch.Scan makes its own client).
	ScanS3 batch.S3Options
}

// Failed reports whether any item failed.
func Failed(items []Item) bool {
	for _, it := range items {
		if it.Status == Fail {
			return true
		}
	}
	return false
}

// Run checks every item the options and clients allow, in section order.
// It returns an error only when ctx ends; every API error becomes an
// UNKNOWN (or, for a "no such configuration" answer, a FAIL) item.
func Run(ctx context.Context, c Clients, o Options) ([]Item, error) {
	r := &run{c: c, o: o}
	trails := r.trails(ctx)
	if o.Bucket != "" {
		r.storage(ctx, trails)
		r.transit(ctx)
	}
	r.keys(ctx)
	r.audit(trails)
	if o.Bucket != "" && o.Sample > 0 {
		r.sample(ctx)
	}
	r.fips()
	if err := ctx.Err(); err != nil {
		return r.items, err
	}
	return r.items, nil
}

// run collects the items of one Run.
type run struct {
	c     Clients
	o     Options
	items []Item
	// bucketKey is the bucket's default SSE-KMS key, when it names one.
	bucketKey string
}

func (r *run) add(section, name string, st Status, evidence, fix string) {
	if st != Fail {
		fix = ""
	}
	r.items = append(r.items, Item{Section: section, Name: name, Status: st, Evidence: evidence, Fix: fix})
}

// maxQuoted bounds each service-supplied string an evidence line repeats.
const maxQuoted = 200

// q quotes a string that came from a service or a policy document, cut to
// maxQuoted bytes on a rune boundary.
func q(s string) string { return batch.QuoteN(s, maxQuoted) }

// maxList bounds how many names an evidence line lists.
const maxList = 5

// qlist quotes up to maxList names, saying how many more there are.
func qlist(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i == maxList {
			fmt.Fprintf(&b, " and %d more", len(names)-maxList)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q(n))
	}
	return b.String()
}

// errorCode returns the API error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// cannotSay describes an error that leaves an item UNKNOWN: access denied,
// an operation the endpoint does not implement, or any other failure.
func cannotSay(op string, err error) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Sprintf("%s failed: %s", op, q(err.Error()))
	}
	code := ae.ErrorCode()
	switch code {
	case "AccessDenied", "AccessDeniedException", "AllAccessDisabled":
		return fmt.Sprintf("%s: access denied (%s); grant the caller this read permission", op, q(code))
	case "NotImplemented", "UnsupportedOperation", "UnsupportedOperationException",
		"UnknownOperationException", "MethodNotAllowed", "InvalidAction":
		return fmt.Sprintf("%s: not supported by the endpoint (%s)", op, q(code))
	}
	return fmt.Sprintf("%s failed: %s: %s", op, q(code), q(ae.ErrorMessage()))
}

// unknownAll adds each name as UNKNOWN with the same evidence.
func (r *run) unknownAll(section, evidence string, names ...string) {
	for _, n := range names {
		r.add(section, n, Unknown, evidence, "")
	}
}
