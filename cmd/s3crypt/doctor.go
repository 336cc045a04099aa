package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/internal/doctor"
)

// errDoctorFailed is doctor's error when an item failed: exit status 1,
// the items already printed.
var errDoctorFailed = errors.New("at least one checklist item FAILED")

func doctorCommand() *cobra.Command {
	var o doctor.Options
	var e doctor.Endpoints
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor [--bucket B] [--key ARN|alias/NAME] [--prefix P] [--json]",
		Short: "Check the account side of the checklist (bucket, key, CloudTrail) and sample a prefix; exit 1 on any FAIL",
		Long: `Check through the AWS APIs what the checklist asks of the account: the bucket's default
encryption, bucket keys, Block Public Access, TLS-only bucket policy, versioning, object lock
and access logging; the KMS key's manager, state, spec, rotation and key policy; a
multi-region CloudTrail trail that is logging, validated, KMS-encrypted and records the
bucket's data events; and a sample of object headers under --prefix. Each item prints
PASS, FAIL (with a fix), UNKNOWN (the API could not say: denied, not supported, or an error)
or INFO. Exit status 1 when any item FAILED, 0 otherwise, 2 for a usage error.
--json prints one JSON object per item, one a line.`,
		Args: usageArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.Bucket == "" && o.Key == "":
				return fmt.Errorf("%w: doctor: give --bucket, --key or both", batch.ErrUsage)
			case o.Prefix != "" && o.Bucket == "":
				return fmt.Errorf("%w: doctor: --prefix needs --bucket", batch.ErrUsage)
			case o.Sample < 0:
				return fmt.Errorf("%w: doctor: --sample %d: want 0 or more", batch.ErrUsage, o.Sample)
			}
			c, err := doctor.Connect(cmd.Context(), e)
			if err != nil {
				return err
			}
			o.ScanS3 = batch.S3Options{EndpointURL: e.S3, Region: e.Region, Profile: e.Profile}
			items, err := doctor.Run(cmd.Context(), c, o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				for _, it := range items {
					b, _ := json.Marshal(it)
					fmt.Fprintf(out, "%s\n", b)
				}
			} else {
				printItems(out, items)
			}
			counts := map[doctor.Status]int{}
			for _, it := range items {
				counts[it.Status]++
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "doctor: %d items: %d PASS, %d FAIL, %d UNKNOWN, %d INFO\n",
				len(items), counts[doctor.Pass], counts[doctor.Fail], counts[doctor.Unknown], counts[doctor.Info])
			if doctor.Failed(items) {
				return errDoctorFailed
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Bucket, "bucket", "", "bucket to check (Storage, Transit, data events, the sample)")
	fl.StringVar(&o.Key, "key", "", "KMS key to check: ARN, key id or alias/NAME (default: the bucket's default encryption key)")
	fl.StringVar(&o.Prefix, "prefix", "", "sample objects under this prefix of --bucket")
	fl.IntVar(&o.Sample, "sample", 1000, "most object headers to read under --prefix (0: no sample)")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object per item, one a line")
	fl.StringVar(&e.S3, "endpoint-url", "", "S3 endpoint URL (https, or http to a loopback address)")
	fl.StringVar(&e.KMS, "kms-endpoint-url", "", "KMS endpoint URL (https, or http to a loopback address)")
	fl.StringVar(&e.CloudTrail, "cloudtrail-endpoint-url", "", "CloudTrail endpoint URL (https, or http to a loopback address)")
	fl.StringVar(&e.Region, "region", "", "AWS region")
	fl.StringVar(&e.Profile, "profile", "", "AWS shared config profile")
	return cmd
}

// printItems prints the items by section: status, name, evidence, and
// the fix under each FAIL.
func printItems(w io.Writer, items []doctor.Item) {
	section := ""
	for _, it := range items {
		if it.Section != section {
			section = it.Section
			fmt.Fprintf(w, "%s\n", section)
		}
		fmt.Fprintf(w, "  %-7s %s: %s\n", it.Status, it.Name, it.Evidence)
		if it.Fix != "" {
			fmt.Fprintf(w, "          fix: %s\n", it.Fix)
		}
	}
}
