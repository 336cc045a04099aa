package envelope

import (
	"testing"
	"unsafe"
)

// TestProviderIDInterned: the "aws-kms" provider ID of a parsed header
// costs no allocation; any other is copied out of the header's bytes.
func TestProviderIDInterned(t *testing.T) {
	b := []byte("aws-kms")
	if got := providerID(b); got != kmsProviderID || unsafe.StringData(got) != unsafe.StringData(kmsProviderID) {
		t.Fatal("aws-kms not interned")
	}
	if a := testing.AllocsPerRun(20, func() { _ = providerID(b) }); a != 0 {
		t.Fatalf("%v allocations for aws-kms", a)
	}
	raw := []byte("my-namespace")
	got := providerID(raw)
	raw[0] = 'X'
	if got != "my-namespace" {
		t.Fatalf("provider ID %q shares the header's bytes", got)
	}
}
