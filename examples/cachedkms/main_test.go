package main

import (
	"context"
	"testing"
)

// TestOneKMSCallPerThousandRecords checks the example's headline against
// an in-process kmslocal: 8,000 records of 4 tenants, encrypted on 4
// goroutines, cost KMS one GenerateDataKey per 1,000 records (at most one
// more per tenant, for a key retired while others were in use).
func TestOneKMSCallPerThousandRecords(t *testing.T) {
	const records, tenants = 8000, 4
	r, err := run(context.Background(), "", "", records, 4)
	if err != nil {
		t.Fatal(err)
	}
	gdk := r.KMSCalls["GenerateDataKey"]
	if gdk < records/1000 || gdk > records/1000+tenants {
		t.Errorf("%d GenerateDataKey calls for %d records, want %d (≤ %d)", gdk, records, records/1000, records/1000+tenants)
	}
	if d := r.KMSCalls["Decrypt"]; d > records/5000+1 {
		t.Errorf("%d Decrypt calls, want at most %d (the spot checks, one per 5,000 records)", d, records/5000+1)
	}
	if r.Stats.UnderlyingCalls != gdk+r.KMSCalls["Decrypt"] {
		t.Errorf("%d keyring calls, %d KMS calls", r.Stats.UnderlyingCalls, gdk+r.KMSCalls["Decrypt"])
	}
}
