package main

import (
	"crypto/fips140"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/phicrypt/phicrypt/batch"
)

// fipsFlag adds --fips, bound to p, to a command that reaches AWS.
func fipsFlag(cmd *cobra.Command, p *bool) {
	cmd.Flags().BoolVar(p, "fips", false, "FIPS 140-3: AWS FIPS endpoints for KMS and S3 (an --endpoint-url or --kms-endpoint-url must be one, or loopback); needs GODEBUG=fips140=on")
}

// checkFIPS, run before every command, refuses --fips in a process whose
// Go cryptographic module is not in FIPS 140-3 mode: FIPS endpoints with
// non-FIPS cryptography would be FIPS in name only.
func checkFIPS(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags().Lookup("fips")
	if f == nil || f.Value.String() != "true" || fips140.Enabled() {
		return nil
	}
	return fmt.Errorf("%w: --fips needs Go's FIPS 140-3 module on: run with GODEBUG=fips140=on (see README, FIPS 140-3)", batch.ErrUsage)
}
