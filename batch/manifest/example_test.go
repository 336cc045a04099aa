package manifest_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/phicrypt/phicrypt/batch/manifest"
)

func ExampleRead() {
	csv := "amzn-s3-demo-bucket,photos/a+b%2Bc.jpg\n" +
		"amzn-s3-demo-bucket,logs/x.gz,3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY\n"
	err := manifest.Read(context.Background(), strings.NewReader(csv), nil, func(e manifest.Entry) error {
		fmt.Printf("%s %q %q\n", e.Bucket, e.Key, e.VersionID)
		return nil
	})
	fmt.Println(err)
	// Output:
	// amzn-s3-demo-bucket "photos/a b+c.jpg" ""
	// amzn-s3-demo-bucket "logs/x.gz" "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
	// <nil>
}

// An Inventory report synced to a local directory: the manifest.json's
// data file keys are paths under the copy of the destination bucket.
func ExampleRootOpener() {
	root, err := os.OpenRoot("inventory-bucket-copy")
	if err != nil {
		return
	}
	defer root.Close()
	f, err := root.Open("prefix/src-bucket/config-ID/2024-01-01T00-00Z/manifest.json")
	if err != nil {
		return
	}
	defer f.Close()
	err = manifest.Read(context.Background(), f, manifest.RootOpener(root), func(e manifest.Entry) error {
		fmt.Println(e.Bucket, e.Key, e.VersionID, e.Size)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
}
