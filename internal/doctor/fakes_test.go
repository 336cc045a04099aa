package doctor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/phicrypt/phicrypt/kmslocal"
	"github.com/phicrypt/phicrypt/kmslocal/kmstest"
)

// reply is a canned HTTP response.
type reply struct {
	status int
	body   string
}

// creds are placeholders for the in-process servers.
var creds = credentials.NewStaticCredentialsProvider("AKIDDOCTORTEST", "doctor-test-only", "")

// fakeS3 answers the bucket configuration GETs of the S3 REST XML
// protocol (path style: GET /BUCKET?encryption, ?publicAccessBlock,
// ?policy, ?versioning, ?object-lock, ?logging) from a table keyed by the
// subresource; any other request is 501 NotImplemented.
type fakeS3 struct {
	replies map[string]reply
}

// s3Default is a bucket that passes every Storage and Transit check.
func s3Default(bucket, keyARN string) map[string]reply {
	return map[string]reply{
		"encryption":        {200, `<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>` + keyARN + `</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`},
		"publicAccessBlock": {200, `<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`},
		"policy":            {200, `{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::` + bucket + `","arn:aws:s3:::` + bucket + `/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`},
		"versioning":        {200, `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`},
		"object-lock":       {200, `<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`},
		"logging":           {200, `<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>` + bucket + `/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>`},
	}
}

// s3Error is an S3 XML error reply.
func s3Error(status int, code string) reply {
	return reply{status, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>test</Message></Error>`}
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for sub := range r.URL.Query() {
		if rep, ok := f.replies[sub]; ok && r.Method == http.MethodGet {
			ct := "application/xml"
			if sub == "policy" && rep.status == 200 {
				ct = "application/json"
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(rep.status)
			io.WriteString(w, rep.body)
			return
		}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusNotImplemented)
	io.WriteString(w, `<Error><Code>NotImplemented</Code><Message>not in the fake</Message></Error>`)
}

func newS3Client(url string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(url), UsePathStyle: true})
}

// serveS3 serves replies and returns a client for them.
func serveS3(t *testing.T, replies map[string]reply) *s3.Client {
	ts := httptest.NewServer(&fakeS3{replies: replies})
	t.Cleanup(ts.Close)
	return newS3Client(ts.URL)
}

// fakeCloudTrail speaks CloudTrail's awsJson1_1 protocol: POST, the
// operation in X-Amz-Target as "CloudTrail_20131101.OP" (what the Go SDK
// sends) or "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.OP"
// (the API reference's form), JSON bodies, errors as {"__type",
// "message"}. Replies are keyed by operation; a missing one is
// UnknownOperationException.
type fakeCloudTrail struct {
	replies map[string]reply
	mu      sync.Mutex
	targets []string
	bodies  map[string]string
}

func (f *fakeCloudTrail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.targets = append(f.targets, target)
	if f.bodies == nil {
		f.bodies = map[string]string{}
	}
	i := strings.LastIndexByte(target, '.')
	op := target[i+1:]
	f.bodies[op] = string(body)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	svc := target[:max(i, 0)]
	rep, ok := f.replies[op]
	switch {
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		rep = ctError(400, "SerializationException")
	case svc != "CloudTrail_20131101" && svc != "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101", !ok:
		rep = ctError(400, "UnknownOperationException")
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func ctError(status int, code string) reply {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": "test"})
	return reply{status, string(b)}
}

func ctJSON(v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return reply{200, string(b)}
}

// goodTrail is a CloudTrail fake whose one trail passes every Audit check
// and logs all data events of bucket.
func goodTrail(bucket string) map[string]reply {
	return map[string]reply{
		"DescribeTrails": ctJSON(map[string]any{"trailList": []map[string]any{{
			"Name": "org-trail", "TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail", "HomeRegion": "us-east-1",
			"IsMultiRegionTrail": true, "LogFileValidationEnabled": true, "S3BucketName": "trail-logs",
			"KmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/ct",
		}}}),
		"GetTrailStatus": ctJSON(map[string]any{"IsLogging": true}),
		"GetEventSelectors": ctJSON(map[string]any{"TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
			"EventSelectors": []map[string]any{{"ReadWriteType": "All", "IncludeManagementEvents": true,
				"DataResources": []map[string]any{{"Type": "AWS::S3::Object", "Values": []string{"arn:aws:s3:::" + bucket + "/"}}}}}}),
	}
}

func serveCloudTrail(t *testing.T, replies map[string]reply) (*cloudtrail.Client, *fakeCloudTrail) {
	f := &fakeCloudTrail{replies: replies}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	return cloudtrail.New(cloudtrail.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(ts.URL)}), f
}

// kmsFront serves kmslocal, answering in its place the operations in
// replies (by name after "TrentService."): GetKeyPolicy, which kmslocal
// lacks, and DescribeKey shapes kmslocal cannot make (KeyManager AWS).
type kmsFront struct {
	replies map[string]reply
	next    http.Handler
}

func (f *kmsFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rep, ok := f.replies[strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")]; ok {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
		return
	}
	f.next.ServeHTTP(w, r)
}

// keyPolicy is a GetKeyPolicy reply carrying doc.
func keyPolicy(doc string) reply {
	return ctJSON(map[string]any{"Policy": doc, "PolicyName": "default"})
}

// goodKeyPolicy is the default key policy of a key, plus a use statement
// with an encryption context condition.
const goodKeyPolicy = `{"Version":"2012-10-17","Id":"key-default-1","Statement":[
 {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"Use","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/enc"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"phi"}}}]}`

// kmsEnv is a kmslocal with a symmetric key (rotation on) behind a
// kmsFront.
type kmsEnv struct {
	client *kms.Client
	url    string
	keyARN string
	front  *kmsFront
}

func serveKMS(t *testing.T, replies map[string]reply) *kmsEnv {
	s, err := kmslocal.New(kmslocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateKey(t.Context(), kmslocal.KeyOptions{Aliases: []string{"alias/phi"}})
	if err != nil {
		t.Fatal(err)
	}
	f := &kmsFront{replies: replies}
	ts := httptest.NewUnstartedServer(nil)
	f.next = s.Handler(kmslocal.ListenHosts(ts.Listener.Addr())...)
	ts.Config.Handler = f
	ts.Start()
	t.Cleanup(ts.Close)
	c := kms.New(kms.Options{Region: s.Region(), Credentials: creds, BaseEndpoint: aws.String(ts.URL)})
	if _, err := c.EnableKeyRotation(t.Context(), &kms.EnableKeyRotationInput{KeyId: aws.String(k.ARN)}); err != nil {
		t.Fatal(err)
	}
	return &kmsEnv{client: c, url: ts.URL, keyARN: k.ARN, front: f}
}

// kmsProcess is a client of the kmslocal process at
// $PHICRYPT_KMS_ENDPOINT, or skips.
func kmsProcess(t *testing.T) *kms.Client { return kmstest.Process(t).Client }
