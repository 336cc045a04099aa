package doctor

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

const bucket = "phi-records"

// setup is one doctor run against the fakes: S3 and CloudTrail replies,
// kmslocal with reply overrides, and options.
type setup struct {
	keyARN string
	s3, ct map[string]reply
	kms    map[string]reply
	opts   Options
	noCT   bool // no CloudTrail client
}

// check runs doctor on the fakes after mod changed the passing setup.
func check(t *testing.T, mod func(*setup)) []Item {
	t.Helper()
	k := serveKMS(t, nil)
	s := &setup{keyARN: k.keyARN, s3: s3Default(bucket, k.keyARN), ct: goodTrail(bucket),
		kms: map[string]reply{"GetKeyPolicy": keyPolicy(goodKeyPolicy)}, opts: Options{Bucket: bucket}}
	if mod != nil {
		mod(s)
	}
	k.front.replies = s.kms
	c := Clients{S3: serveS3(t, s.s3), KMS: k.client}
	if !s.noCT {
		c.CloudTrail, _ = serveCloudTrail(t, s.ct)
	}
	items, err := Run(t.Context(), c, s.opts)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func find(t *testing.T, items []Item, name string) Item {
	t.Helper()
	for _, it := range items {
		if it.Name == name {
			return it
		}
	}
	t.Fatalf("no item %q in %+v", name, items)
	return Item{}
}

// row is one table row: a change to the passing setup, the item it
// affects and the status and evidence text it must then have.
type row struct {
	name     string
	mod      func(*setup)
	item     string
	want     Status
	evidence string
}

func runRows(t *testing.T, rows []row) {
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			it := find(t, check(t, r.mod), r.item)
			if it.Status != r.want || !strings.Contains(it.Evidence, r.evidence) {
				t.Fatalf("%s: got %s %q, want %s with %q", r.item, it.Status, it.Evidence, r.want, r.evidence)
			}
			if (it.Status == Fail) != (it.Fix != "") {
				t.Errorf("fix %q with status %s", it.Fix, it.Status)
			}
		})
	}
}

func TestAllPass(t *testing.T) {
	items := check(t, nil)
	sections := map[string]int{}
	for _, it := range items {
		sections[it.Section]++
		if it.Status == Fail || it.Status == Unknown {
			t.Errorf("%s %s: %s %s", it.Section, it.Name, it.Status, it.Evidence)
		}
	}
	if sections[Storage] != 6 || sections[Transit] != 1 || sections[Keys] != 6 || sections[Audit] != 4 {
		t.Errorf("items per section: %v", sections)
	}
	if Failed(items) {
		t.Error("Failed with no FAIL")
	}
}

func TestStorage(t *testing.T) {
	enc := func(body string) func(*setup) {
		return func(s *setup) { s.s3["encryption"] = reply{200, body} }
	}
	rule := func(alg, key, bk string) string {
		return `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>` + alg + `</SSEAlgorithm>` +
			key + `</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>` + bk + `</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`
	}
	pab := func(off string) func(*setup) {
		return func(s *setup) {
			s.s3["publicAccessBlock"] = reply{200, strings.Replace(s.s3["publicAccessBlock"].body, "<"+off+">true", "<"+off+">false", 1)}
		}
	}
	awsManaged := func(s *setup) {
		s.kms["DescribeKey"] = ctJSON(map[string]any{"KeyMetadata": map[string]any{"Arn": s.keyARN, "KeyId": "k", "KeyManager": "AWS",
			"Enabled": true, "KeyState": "Enabled", "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Origin": "AWS_KMS"}})
	}
	runRows(t, []row{
		{"sse-kms customer key", nil, ItemDefaultEncryption, Pass, "KeyManager CUSTOMER"},
		{"no default encryption", func(s *setup) { s.s3["encryption"] = s3Error(404, "ServerSideEncryptionConfigurationNotFoundError") }, ItemDefaultEncryption, Fail, "no default encryption"},
		{"sse-s3", enc(rule("AES256", "", "false")), ItemDefaultEncryption, Fail, `"AES256"`},
		{"aws/s3 alias", enc(rule("aws:kms", "<KMSMasterKeyID>alias/aws/s3</KMSMasterKeyID>", "true")), ItemDefaultEncryption, Fail, "aws/s3"},
		{"aws:kms without key id", enc(rule("aws:kms", "", "true")), ItemDefaultEncryption, Fail, "AWS managed key"},
		{"aws managed key arn", awsManaged, ItemDefaultEncryption, Fail, `KeyManager "AWS"`},
		{"encryption denied", func(s *setup) { s.s3["encryption"] = s3Error(403, "AccessDenied") }, ItemDefaultEncryption, Unknown, "access denied"},
		{"bucket key on", nil, ItemBucketKey, Pass, "true"},
		{"bucket key off", func(s *setup) {
			s.s3["encryption"] = reply{200, strings.Replace(s.s3["encryption"].body, "<BucketKeyEnabled>true", "<BucketKeyEnabled>false", 1)}
		}, ItemBucketKey, Fail, "false"},
		{"bucket key with sse-s3", enc(rule("AES256", "", "true")), ItemBucketKey, Fail, "no SSE-KMS"},
		{"public access all on", nil, ItemPublicAccess, Pass, "all true"},
		{"public policy allowed", pab("BlockPublicPolicy"), ItemPublicAccess, Fail, "BlockPublicPolicy"},
		{"public acls ignored off", pab("IgnorePublicAcls"), ItemPublicAccess, Fail, "IgnorePublicAcls"},
		{"one setting missing", func(s *setup) {
			s.s3["publicAccessBlock"] = reply{200, `<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy></PublicAccessBlockConfiguration>`}
		}, ItemPublicAccess, Fail, "RestrictPublicBuckets"},
		{"answer without settings (a bucket listing)", func(s *setup) {
			s.s3["publicAccessBlock"] = reply{200, `<ListBucketResult><Name>` + bucket + `</Name></ListBucketResult>`}
		}, ItemPublicAccess, Unknown, "none of the four"},
		{"no public access block", func(s *setup) { s.s3["publicAccessBlock"] = s3Error(404, "NoSuchPublicAccessBlockConfiguration") }, ItemPublicAccess, Fail, "no Block Public Access"},
		{"public access not implemented", func(s *setup) { delete(s.s3, "publicAccessBlock") }, ItemPublicAccess, Unknown, "not supported"},
		{"versioning on", nil, ItemVersioning, Pass, "Enabled"},
		{"versioning suspended", func(s *setup) {
			s.s3["versioning"] = reply{200, `<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>`}
		}, ItemVersioning, Fail, "Suspended"},
		{"versioning never on", func(s *setup) { s.s3["versioning"] = reply{200, `<VersioningConfiguration/>`} }, ItemVersioning, Fail, "(none)"},
		{"object lock on", nil, ItemObjectLock, Info, "enabled"},
		{"object lock off", func(s *setup) { s.s3["object-lock"] = s3Error(404, "ObjectLockConfigurationNotFoundError") }, ItemObjectLock, Info, "not enabled"},
		{"server access logs", nil, ItemAccessLogging, Pass, "server access logs"},
		{"data events instead", func(s *setup) { s.s3["logging"] = reply{200, `<BucketLoggingStatus/>`} }, ItemAccessLogging, Pass, "org-trail"},
		{"neither", func(s *setup) {
			s.s3["logging"] = reply{200, `<BucketLoggingStatus/>`}
			s.ct["GetEventSelectors"] = ctJSON(map[string]any{})
		}, ItemAccessLogging, Fail, "server access logging off"},
		{"logging off, selectors denied", func(s *setup) {
			s.s3["logging"] = reply{200, `<BucketLoggingStatus/>`}
			s.ct["GetEventSelectors"] = ctError(400, "AccessDeniedException")
		}, ItemAccessLogging, Unknown, "GetEventSelectors"},
		{"logging denied, no trail client", func(s *setup) {
			s.s3["logging"] = s3Error(403, "AccessDenied")
			s.noCT = true
		}, ItemAccessLogging, Unknown, "access denied"},
	})
}

func TestTransit(t *testing.T) {
	pol := func(doc string) func(*setup) {
		return func(s *setup) { s.s3["policy"] = reply{200, doc} }
	}
	runRows(t, []row{
		{"deny insecure", nil, ItemSecureTransport, Pass, `"DenyInsecureTransport"`},
		{"no policy", func(s *setup) { s.s3["policy"] = s3Error(404, "NoSuchBucketPolicy") }, ItemSecureTransport, Fail, "no policy"},
		{"policy denied", func(s *setup) { s.s3["policy"] = s3Error(403, "AccessDenied") }, ItemSecureTransport, Unknown, "access denied"},
		{"no deny", pol(`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:*","Resource":"*"}}`), ItemSecureTransport, Fail, "among 1 statements"},
		{"statement object, array action", pol(`{"Statement":{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::` + bucket + `/*","Condition":{"Bool":{"aws:SecureTransport":false}}}}`), ItemSecureTransport, Pass, "#1"},
		{"narrowed", pol(`{"Statement":[{"Sid":"x","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::` + bucket + `/*","Condition":{"Bool":{"aws:SecureTransport":"false"},"StringEquals":{"aws:SourceVpc":"vpc-1"}}}]}`), ItemSecureTransport, Fail, "narrowed"},
		{"bucket arn only", pol(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::` + bucket + `","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`), ItemSecureTransport, Fail, "Resource"},
		{"only reads", pol(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:Get*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`), ItemSecureTransport, Fail, "Action"},
		{"one principal", pol(`{"Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::1:role/r"},"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`), ItemSecureTransport, Fail, "some principals"},
		{"true not false", pol(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`), ItemSecureTransport, Fail, "no Deny statement"},
		{"not json", pol(`<html>`), ItemSecureTransport, Unknown, "does not parse"},
	})
}

func TestKeys(t *testing.T) {
	describe := func(change map[string]any) func(*setup) {
		return func(s *setup) {
			md := map[string]any{"Arn": s.keyARN, "KeyId": "k", "KeyManager": "CUSTOMER", "Enabled": true, "KeyState": "Enabled",
				"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Origin": "AWS_KMS"}
			for k, v := range change {
				md[k] = v
			}
			s.kms["DescribeKey"] = ctJSON(map[string]any{"KeyMetadata": md})
		}
	}
	pol := func(doc string) func(*setup) {
		return func(s *setup) { s.kms["GetKeyPolicy"] = keyPolicy(doc) }
	}
	byKey := func(key string) func(*setup) {
		return func(s *setup) { s.opts = Options{Key: key} }
	}
	runRows(t, []row{
		{"kmslocal key", nil, ItemKeyCustomer, Pass, "CUSTOMER"},
		{"by alias", byKey("alias/phi"), ItemKeyCustomer, Pass, "CUSTOMER"},
		{"unknown alias", byKey("alias/nope"), ItemKeyCustomer, Fail, "not found"},
		{"aws managed", describe(map[string]any{"KeyManager": "AWS"}), ItemKeyCustomer, Fail, `"AWS"`},
		{"enabled", nil, ItemKeyEnabled, Pass, "Enabled"},
		{"pending deletion", describe(map[string]any{"Enabled": false, "KeyState": "PendingDeletion"}), ItemKeyEnabled, Fail, "PendingDeletion"},
		{"symmetric", nil, ItemKeySymmetric, Pass, "SYMMETRIC_DEFAULT"},
		{"rsa", describe(map[string]any{"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}), ItemKeySymmetric, Fail, `"RSA_2048"`},
		{"hmac", describe(map[string]any{"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}), ItemKeySymmetric, Fail, "GENERATE_VERIFY_MAC"},
		{"rotation on (kmslocal)", nil, ItemKeyRotation, Pass, "every 365 days"},
		{"rotation off", func(s *setup) { s.kms["GetKeyRotationStatus"] = ctJSON(map[string]any{"KeyRotationEnabled": false}) }, ItemKeyRotation, Fail, "false"},
		{"imported material", describe(map[string]any{"Origin": "EXTERNAL"}), ItemKeyRotation, Fail, "EXTERNAL"},
		{"rotation denied", func(s *setup) { s.kms["GetKeyRotationStatus"] = ctError(400, "AccessDeniedException") }, ItemKeyRotation, Unknown, "access denied"},
		{"default policy", nil, ItemKeyPolicy, Pass, "none with principal"},
		{"wildcard no condition", pol(`{"Statement":[{"Sid":"open","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`), ItemKeyPolicy, Fail, `"open"`},
		{"wildcard AWS array", pol(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"kms:Decrypt","Resource":"*"}]}`), ItemKeyPolicy, Fail, "#1"},
		{"wildcard with condition", pol(`{"Statement":[{"Sid":"acct","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}]}`), ItemKeyPolicy, Pass, `"acct"`},
		{"wildcard deny", pol(`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}`), ItemKeyPolicy, Pass, "none with principal"},
		{"policy not supported", func(s *setup) { s.kms["GetKeyPolicy"] = ctError(400, "UnsupportedOperationException") }, ItemKeyPolicy, Unknown, "not supported"},
		{"context conditions", nil, ItemKeyContext, Info, `"kms:EncryptionContext:purpose"`},
		{"no context conditions", pol(`{"Statement":[]}`), ItemKeyContext, Info, "no kms:EncryptionContext"},
		{"aws wire shape", describe(nil), ItemKeyCustomer, Pass, "CUSTOMER"},
	})
	t.Run("no key, bucket without kms key", func(t *testing.T) {
		items := check(t, func(s *setup) {
			s.s3["encryption"] = reply{200, `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`}
		})
		if it := find(t, items, ItemKeyCustomer); it.Status != Unknown {
			t.Fatalf("%+v", it)
		}
	})
	t.Run("describe denied", func(t *testing.T) {
		items := check(t, func(s *setup) { s.kms["DescribeKey"] = ctError(400, "AccessDeniedException") })
		for _, n := range keyItems {
			if it := find(t, items, n); it.Status != Unknown {
				t.Errorf("%+v", it)
			}
		}
	})
}

func TestAudit(t *testing.T) {
	trail := func(change map[string]any) func(*setup) {
		return func(s *setup) {
			tr := map[string]any{"Name": "t1", "TrailARN": "arn:aws:cloudtrail:us-east-1:1:trail/t1", "HomeRegion": "us-east-1",
				"IsMultiRegionTrail": true, "LogFileValidationEnabled": true, "KmsKeyId": "arn:aws:kms:us-east-1:1:key/x"}
			for k, v := range change {
				tr[k] = v
			}
			s.ct["DescribeTrails"] = ctJSON(map[string]any{"trailList": []any{tr}})
		}
	}
	sel := func(v map[string]any) func(*setup) {
		return func(s *setup) { s.ct["GetEventSelectors"] = ctJSON(v) }
	}
	adv := func(fields ...map[string]any) map[string]any {
		return map[string]any{"AdvancedEventSelectors": []any{map[string]any{"Name": "data", "FieldSelectors": fields}}}
	}
	data := map[string]any{"Field": "eventCategory", "Equals": []string{"Data"}}
	obj := map[string]any{"Field": "resources.type", "Equals": []string{"AWS::S3::Object"}}
	runRows(t, []row{
		{"good trail", nil, ItemTrail, Pass, `"org-trail"`},
		{"no trails", func(s *setup) { s.ct["DescribeTrails"] = ctJSON(map[string]any{"trailList": []any{}}) }, ItemTrail, Fail, "0 trails"},
		{"single region", trail(map[string]any{"IsMultiRegionTrail": false}), ItemTrail, Fail, "1 trails"},
		{"not logging", func(s *setup) { s.ct["GetTrailStatus"] = ctJSON(map[string]any{"IsLogging": false}) }, ItemTrail, Fail, "no multi-region trail is logging"},
		{"trails denied", func(s *setup) { s.ct["DescribeTrails"] = ctError(400, "AccessDeniedException") }, ItemTrail, Unknown, "access denied"},
		{"no cloudtrail endpoint", func(s *setup) { delete(s.ct, "DescribeTrails") }, ItemTrailValidation, Unknown, "not supported"},
		{"validation", nil, ItemTrailValidation, Pass, "true"},
		{"no validation", trail(map[string]any{"LogFileValidationEnabled": false}), ItemTrailValidation, Fail, "false"},
		{"kms", nil, ItemTrailKMS, Pass, "KmsKeyId"},
		{"no kms", trail(map[string]any{"KmsKeyId": nil}), ItemTrailKMS, Fail, "no KmsKeyId"},
		{"basic data events", nil, ItemTrailData, Pass, "org-trail"},
		{"basic, all buckets", sel(map[string]any{"EventSelectors": []any{map[string]any{"DataResources": []any{map[string]any{"Type": "AWS::S3::Object", "Values": []string{"arn:aws:s3"}}}}}}), ItemTrailData, Pass, "t"},
		{"basic, read only", sel(map[string]any{"EventSelectors": []any{map[string]any{"ReadWriteType": "ReadOnly", "DataResources": []any{map[string]any{"Type": "AWS::S3::Object", "Values": []string{"arn:aws:s3:::" + bucket + "/"}}}}}}), ItemTrailData, Fail, "only read"},
		{"basic, other bucket", sel(map[string]any{"EventSelectors": []any{map[string]any{"DataResources": []any{map[string]any{"Type": "AWS::S3::Object", "Values": []string{"arn:aws:s3:::" + bucket + "-old/"}}}}}}), ItemTrailData, Fail, "no logging trail"},
		{"management only", sel(map[string]any{"EventSelectors": []any{map[string]any{"ReadWriteType": "All", "IncludeManagementEvents": true}}}), ItemTrailData, Fail, "no logging trail"},
		{"advanced, all s3", sel(adv(data, obj)), ItemTrailData, Pass, "read and write"},
		{"advanced, bucket prefix", sel(adv(data, obj, map[string]any{"Field": "resources.ARN", "StartsWith": []string{"arn:aws:s3:::" + bucket + "/"}})), ItemTrailData, Pass, "read and write"},
		{"advanced, other bucket", sel(adv(data, obj, map[string]any{"Field": "resources.ARN", "StartsWith": []string{"arn:aws:s3:::other/"}})), ItemTrailData, Fail, "no logging trail"},
		{"advanced, bucket excluded", sel(adv(data, obj, map[string]any{"Field": "resources.ARN", "NotStartsWith": []string{"arn:aws:s3:::" + bucket + "/"}})), ItemTrailData, Fail, "no logging trail"},
		{"advanced, writes only", sel(adv(data, obj, map[string]any{"Field": "readOnly", "Equals": []string{"false"}})), ItemTrailData, Fail, "only write"},
		{"advanced, some events", sel(adv(data, obj, map[string]any{"Field": "eventName", "Equals": []string{"PutObject"}})), ItemTrailData, Fail, "no logging trail"},
		{"selectors denied", func(s *setup) { s.ct["GetEventSelectors"] = ctError(400, "AccessDeniedException") }, ItemTrailData, Unknown, "GetEventSelectors"},
	})
}

// TestCloudTrailWire checks the requests the SDK sent the fake: the
// awsJson1_1 target of each operation and the shadow trails flag.
func TestCloudTrailWire(t *testing.T) {
	c, f := serveCloudTrail(t, goodTrail(bucket))
	if _, err := Run(t.Context(), Clients{CloudTrail: c}, Options{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	want := []string{"CloudTrail_20131101.DescribeTrails", "CloudTrail_20131101.GetTrailStatus", "CloudTrail_20131101.GetEventSelectors"}
	if strings.Join(f.targets, " ") != strings.Join(want, " ") {
		t.Errorf("targets %q, want %q", f.targets, want)
	}
	var in map[string]any
	if err := json.Unmarshal([]byte(f.bodies["DescribeTrails"]), &in); err != nil || in["includeShadowTrails"] != true {
		t.Errorf("DescribeTrails body %s", f.bodies["DescribeTrails"])
	}
	// The long target form of the API reference reaches the same fake.
	out, err := c.GetTrailStatus(t.Context(), &cloudtrail.GetTrailStatusInput{Name: new("t")})
	if err != nil || out.IsLogging == nil || !*out.IsLogging {
		t.Fatalf("%v %+v", err, out)
	}
}

func TestSelectorsCover(t *testing.T) {
	dr := func(vals ...string) []cttypes.DataResource {
		return []cttypes.DataResource{{Type: new("AWS::S3::Object"), Values: vals}}
	}
	for _, c := range []struct {
		vals   []string
		prefix string
		want   bool
	}{
		{[]string{"arn:aws:s3"}, "", true},
		{[]string{"arn:aws:s3:::"}, "", true},
		{[]string{"arn:aws-us-gov:s3:::" + bucket + "/"}, "", true},
		{[]string{"arn:aws:s3:::" + bucket + "/2024/"}, "", false},
		{[]string{"arn:aws:s3:::" + bucket + "/2024/"}, "2024/jan/", true},
		{[]string{"arn:aws:s3:::" + bucket + "x/"}, "", false},
		{[]string{"arn:aws:s3:::" + bucket}, "", false},
		{[]string{"arn:aws:lambda"}, "", false},
	} {
		r, w := selectorsCover(&cloudtrail.GetEventSelectorsOutput{EventSelectors: []cttypes.EventSelector{{DataResources: dr(c.vals...)}}}, bucket, c.prefix)
		if r != c.want || w != c.want {
			t.Errorf("%q under %q: %v %v, want %v", c.vals, c.prefix, r, w, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "s3:GetObject", true}, {"s3:*", "s3:GetObject", true}, {"S3:get*", "s3:GetObject", true},
		{"s3:Get?bject", "s3:GetObject", true}, {"s3:Put*", "s3:GetObject", false}, {"s3:*Object", "s3:GetObjectAcl", false},
		{"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false}, {"", "", true}, {"", "x", false},
	} {
		if got := match(c.p, c.s, true); got != c.want {
			t.Errorf("match(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestFailed(t *testing.T) {
	if Failed([]Item{{Status: Pass}, {Status: Unknown}, {Status: Info}}) {
		t.Error("Failed without a FAIL")
	}
	if !Failed([]Item{{Status: Pass}, {Status: Fail}}) {
		t.Error("not Failed with a FAIL")
	}
}

// TestKMSLocalProcess runs the key checks against the kmslocal process
// of CI ($PHICRYPT_KMS_ENDPOINT), or skips.
func TestKMSLocalProcess(t *testing.T) {
	c := kmsProcess(t)
	k, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	arn := *k.KeyMetadata.Arn
	items, err := Run(t.Context(), Clients{KMS: c}, Options{Key: arn})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Status{ItemKeyCustomer: Pass, ItemKeyEnabled: Pass, ItemKeySymmetric: Pass, ItemKeyRotation: Fail} {
		if it := find(t, items, name); it.Status != want {
			t.Errorf("%s: %s %s, want %s", name, it.Status, it.Evidence, want)
		}
	}
	if _, err := c.EnableKeyRotation(t.Context(), &kms.EnableKeyRotationInput{KeyId: &arn}); err != nil {
		t.Fatal(err)
	}
	items, _ = Run(t.Context(), Clients{KMS: c}, Options{Key: arn})
	if it := find(t, items, ItemKeyRotation); it.Status != Pass {
		t.Errorf("after EnableKeyRotation: %+v", it)
	}
}

func TestFIPSReported(t *testing.T) {
	items, err := Run(t.Context(), Clients{S3: newS3Client("http://127.0.0.1:1")}, Options{Key: ""})
	if err != nil {
		t.Fatal(err)
	}
	it := find(t, items, ItemFIPS)
	if it.Status != Info || !strings.Contains(it.Evidence, "S3 standard, KMS no client") {
		t.Fatalf("%+v", it)
	}
}
