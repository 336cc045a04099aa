package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// Names of the Audit items.
const (
	ItemTrail           = "multi-region CloudTrail trail, logging"
	ItemTrailValidation = "trail log file validation"
	ItemTrailKMS        = "trail logs encrypted with KMS"
	ItemTrailData       = "trail logs S3 data events for the bucket (reads and writes)"
)

// maxTrails bounds the trails whose status and selectors are fetched.
const maxTrails = 50

// trailInfo is what the CloudTrail calls showed, shared by the Storage
// logging item and the Audit items.
type trailInfo struct {
	err   string // why nothing is known ("" when DescribeTrails answered)
	found int    // trails described
	// best is the multi-region logging trail with the most items met.
	best                 *cttypes.Trail
	validation, kmsKeyID bool
	// dataEvents names a logging trail with read and write data events
	// for the bucket; dataEventsWhy says why none was found.
	dataEvents, dataEventsWhy string
	dataErr                   bool // a selector call failed
}

// trails describes the account's trails (shadow trails included, so that
// a multi-region trail from another home region counts) and, for each
// that is logging, its status and event selectors.
func (r *run) trails(ctx context.Context) *trailInfo {
	t := &trailInfo{dataEventsWhy: "no logging trail has data events for the bucket"}
	if r.c.CloudTrail == nil {
		t.err = "no CloudTrail client"
		t.dataEventsWhy = t.err
		return t
	}
	out, err := r.c.CloudTrail.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		t.err = cannotSay("DescribeTrails", err)
		t.dataEventsWhy = t.err
		return t
	}
	list := out.TrailList
	t.found = len(list)
	if len(list) > maxTrails {
		list = list[:maxTrails]
	}
	score := -1
	for i := range list {
		tr := &list[i]
		id := aws.ToString(tr.TrailARN)
		if id == "" {
			id = aws.ToString(tr.Name)
		}
		st, err := r.c.CloudTrail.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: &id}, ctRegion(tr))
		if err != nil {
			if t.err == "" {
				t.err = cannotSay("GetTrailStatus", err)
			}
			continue
		}
		if !aws.ToBool(st.IsLogging) {
			continue
		}
		if aws.ToBool(tr.IsMultiRegionTrail) {
			s := 0
			if aws.ToBool(tr.LogFileValidationEnabled) {
				s++
			}
			if aws.ToString(tr.KmsKeyId) != "" {
				s++
			}
			if s > score {
				score, t.best = s, tr
				t.validation, t.kmsKeyID = aws.ToBool(tr.LogFileValidationEnabled), aws.ToString(tr.KmsKeyId) != ""
			}
		}
		if r.o.Bucket == "" || t.dataEvents != "" {
			continue
		}
		sel, err := r.c.CloudTrail.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: &id}, ctRegion(tr))
		if err != nil {
			t.dataErr = true
			t.dataEventsWhy = cannotSay("GetEventSelectors", err)
			continue
		}
		read, write := selectorsCover(sel, r.o.Bucket, r.o.Prefix)
		switch {
		case read && write:
			t.dataEvents = aws.ToString(tr.Name)
		case (read || write) && !t.dataErr:
			t.dataEventsWhy = fmt.Sprintf("trail %s logs only %s data events for the bucket", q(aws.ToString(tr.Name)), map[bool]string{true: "read", false: "write"}[read])
		}
	}
	return t
}

// ctRegion sends a call about a trail to its home region (a shadow
// trail answers only there).
func ctRegion(tr *cttypes.Trail) func(*cloudtrail.Options) {
	return func(o *cloudtrail.Options) {
		if h := aws.ToString(tr.HomeRegion); h != "" {
			o.Region = h
		}
	}
}

// audit adds the Audit items.
func (r *run) audit(t *trailInfo) {
	trailFix := "aws cloudtrail create-trail --name phicrypt-audit --s3-bucket-name LOG_BUCKET --is-multi-region-trail --enable-log-file-validation --kms-key-id KEY_ARN, then aws cloudtrail start-logging --name phicrypt-audit"
	if t.best == nil {
		st, ev := Fail, fmt.Sprintf("no multi-region trail is logging (%d trails)", t.found)
		if t.err != "" {
			st, ev = Unknown, t.err
		}
		r.add(Audit, ItemTrail, st, ev, trailFix)
		r.add(Audit, ItemTrailValidation, st, ev, trailFix)
		r.add(Audit, ItemTrailKMS, st, ev, trailFix)
	} else {
		name := q(aws.ToString(t.best.Name))
		r.add(Audit, ItemTrail, Pass, fmt.Sprintf("trail %s: IsMultiRegionTrail true, IsLogging true (home %s)", name, aws.ToString(t.best.HomeRegion)), "")
		if t.validation {
			r.add(Audit, ItemTrailValidation, Pass, fmt.Sprintf("trail %s: LogFileValidationEnabled true", name), "")
		} else {
			r.add(Audit, ItemTrailValidation, Fail, fmt.Sprintf("trail %s: LogFileValidationEnabled false", name),
				fmt.Sprintf("aws cloudtrail update-trail --name %s --enable-log-file-validation", aws.ToString(t.best.Name)))
		}
		if t.kmsKeyID {
			r.add(Audit, ItemTrailKMS, Pass, fmt.Sprintf("trail %s: KmsKeyId %s", name, q(aws.ToString(t.best.KmsKeyId))), "")
		} else {
			r.add(Audit, ItemTrailKMS, Fail, fmt.Sprintf("trail %s: no KmsKeyId (SSE-S3 only)", name),
				fmt.Sprintf("aws cloudtrail update-trail --name %s --kms-key-id KEY_ARN", aws.ToString(t.best.Name)))
		}
	}
	if r.o.Bucket == "" {
		return
	}
	switch {
	case t.dataEvents != "":
		r.add(Audit, ItemTrailData, Pass, fmt.Sprintf("trail %s logs read and write data events for the bucket", q(t.dataEvents)), "")
	case t.err != "" || t.dataErr:
		r.add(Audit, ItemTrailData, Unknown, t.dataEventsWhy, "")
	default:
		r.add(Audit, ItemTrailData, Fail, t.dataEventsWhy,
			fmt.Sprintf(`aws cloudtrail put-event-selectors --trail-name TRAIL --advanced-event-selectors '[{"Name":"phicrypt data","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"resources.ARN","StartsWith":["arn:aws:s3:::%s/"]}]}]'`, r.o.Bucket))
	}
}

// selectorsCover reports whether a trail's selectors log read and write
// data events of every object of bucket under prefix.
func selectorsCover(out *cloudtrail.GetEventSelectorsOutput, bucket, prefix string) (read, write bool) {
	for _, es := range out.EventSelectors {
		if !basicCovers(es.DataResources, bucket, prefix) {
			continue
		}
		switch es.ReadWriteType {
		case cttypes.ReadWriteTypeReadOnly:
			read = true
		case cttypes.ReadWriteTypeWriteOnly:
			write = true
		default: // All, or unset (the API's default is All)
			read, write = true, true
		}
	}
	for _, as := range out.AdvancedEventSelectors {
		rd, wr := advancedCovers(as.FieldSelectors, bucket, prefix)
		read, write = read || rd, write || wr
	}
	return read, write
}

// basicCovers reports whether basic data resources include S3 objects of
// bucket under prefix: "arn:PARTITION:s3" (all buckets),
// "arn:PARTITION:s3:::BUCKET/" or a key prefix of prefix.
func basicCovers(drs []cttypes.DataResource, bucket, prefix string) bool {
	for _, dr := range drs {
		if aws.ToString(dr.Type) != "AWS::S3::Object" {
			continue
		}
		for _, v := range dr.Values {
			rest, ok := s3ARNRest(v)
			if !ok {
				continue
			}
			if rest == "" || rest == ":::" {
				return true // every bucket
			}
			if r, ok := strings.CutPrefix(rest, ":::"); ok && strings.HasPrefix(r, bucket+"/") && strings.HasPrefix(bucket+"/"+prefix, r) {
				return true
			}
		}
	}
	return false
}

// s3ARNRest strips "arn:PARTITION:s3" from v, returning what follows.
func s3ARNRest(v string) (string, bool) {
	f := strings.SplitN(v, ":", 3)
	if len(f) != 3 || f[0] != "arn" {
		return "", false
	}
	rest, ok := strings.CutPrefix(f[2], "s3")
	return rest, ok
}

// advancedCovers evaluates one advanced event selector for the objects of
// bucket under prefix. Fields it does not model (eventName, eventSource,
// userIdentity.arn, …) narrow what is logged, so a selector with one is
// taken as not covering.
func advancedCovers(fs []cttypes.AdvancedFieldSelector, bucket, prefix string) (read, write bool) {
	data, object := false, false
	read, write = true, true
	obj := "arn:aws:s3:::" + bucket + "/" + prefix
	for _, f := range fs {
		switch aws.ToString(f.Field) {
		case "eventCategory":
			data = len(f.Equals) > 0 && slices.Contains(f.Equals, "Data")
		case "resources.type":
			object = len(f.Equals) > 0 && slices.Contains(f.Equals, "AWS::S3::Object")
		case "readOnly":
			switch {
			case len(f.Equals) == 1 && f.Equals[0] == "true":
				write = false
			case len(f.Equals) == 1 && f.Equals[0] == "false":
				read = false
			case len(f.Equals) == 0 && len(f.NotEquals) == 0:
			default:
				return false, false
			}
		case "resources.ARN":
			if !arnFieldCovers(f, obj, bucket) {
				return false, false
			}
		default:
			return false, false
		}
	}
	if !data || !object {
		return false, false
	}
	return read, write
}

// arnFieldCovers reports whether a resources.ARN field selector keeps
// events of every object ARN starting with obj (the bucket's, under the
// prefix), in any partition.
func arnFieldCovers(f cttypes.AdvancedFieldSelector, obj, bucket string) bool {
	norm := func(v string) string {
		if rest, ok := s3ARNRest(v); ok {
			return "arn:aws:s3" + rest
		}
		return v
	}
	if len(f.Equals) > 0 || len(f.EndsWith) > 0 {
		return false // names single objects or suffixes: not every object
	}
	if len(f.StartsWith) > 0 {
		ok := false
		for _, p := range f.StartsWith {
			ok = ok || strings.HasPrefix(obj, norm(p))
		}
		if !ok {
			return false
		}
	}
	for _, p := range f.NotStartsWith {
		p = norm(p)
		// Excluding a prefix of ours, or one inside ours, drops some of
		// the bucket's objects.
		if strings.HasPrefix(obj, p) || strings.HasPrefix(p, obj) {
			return false
		}
	}
	if len(f.NotEndsWith) > 0 {
		return false // drops some objects by suffix
	}
	for _, p := range f.NotEquals {
		if strings.HasPrefix(norm(p), "arn:aws:s3:::"+bucket+"/") || norm(p) == "arn:aws:s3:::"+bucket {
			return false
		}
	}
	return true
}
