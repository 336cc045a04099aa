package doctor

import (
	"crypto/fips140"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ItemFIPS is the name of the Client item on FIPS 140-3.
const ItemFIPS = "FIPS 140-3 mode and FIPS endpoints"

// fips reports (INFO) whether this process runs the Go FIPS 140-3 module
// in FIPS mode, and whether each client resolves AWS FIPS endpoints.
func (r *run) fips() {
	mode := "off (GODEBUG=fips140=on turns it on)"
	if fips140.Enabled() {
		mode = "on"
		if fips140.Enforced() {
			mode = "on and enforced (fips140=only)"
		}
	}
	state := func(s aws.FIPSEndpointState, ok bool) string {
		switch {
		case !ok:
			return "no client"
		case s == aws.FIPSEndpointStateEnabled:
			return "FIPS"
		}
		return "standard"
	}
	var s3s, kmss, cts aws.FIPSEndpointState
	if r.c.S3 != nil {
		s3s = r.c.S3.Options().EndpointOptions.UseFIPSEndpoint
	}
	if r.c.KMS != nil {
		kmss = r.c.KMS.Options().EndpointOptions.UseFIPSEndpoint
	}
	if r.c.CloudTrail != nil {
		cts = r.c.CloudTrail.Options().EndpointOptions.UseFIPSEndpoint
	}
	r.add(Client, ItemFIPS, Info, fmt.Sprintf("Go FIPS 140-3 module %s, mode %s; endpoints: S3 %s, KMS %s, CloudTrail %s (AWS_USE_FIPS_ENDPOINT=true selects FIPS endpoints)",
		fips140.Version(), mode, state(s3s, r.c.S3 != nil), state(kmss, r.c.KMS != nil), state(cts, r.c.CloudTrail != nil)), "")
}
