package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/phicrypt/phicrypt/batch"
	"github.com/phicrypt/phicrypt/s3crypt"
)

// ItemSample is the name of the Client item.
const ItemSample = "objects under the prefix are encrypted (header sample)"

// sample reads the header of at most Options.Sample objects under
// s3://Bucket/Prefix with batch.Scan and fails when any is not encrypted.
func (r *run) sample(ctx context.Context) {
	src := "s3://" + r.o.Bucket + "/" + r.o.Prefix
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var seen, esdk, s3ec, malformed, unreadable int
	var plain []string
	_, err := batch.Scan(sctx, src, batch.ScanOptions{S3: r.o.ScanS3, MaxEDKs: s3crypt.DefaultMaxEncryptedDataKeys}, func(res *batch.ScanResult) {
		if seen >= r.o.Sample {
			return
		}
		seen++
		switch res.Kind {
		case batch.KindESDK:
			esdk++
		case batch.KindS3EC:
			s3ec++
		case batch.KindPlaintext:
			plain = append(plain, res.Input)
		case batch.KindMalformed:
			malformed++
		default:
			unreadable++
		}
		if seen == r.o.Sample {
			stop() // the sample is full: stop listing and reading
		}
	})
	full := errors.Is(err, batch.ErrInterrupted) && ctx.Err() == nil // stopped by the sample limit
	if err != nil && !errors.Is(err, batch.ErrFlagged) && !full && seen == 0 {
		r.add(Client, ItemSample, Unknown, fmt.Sprintf("sampling %s: %s", q(src), q(err.Error())), "")
		return
	}
	ev := fmt.Sprintf("%d objects sampled under %s: %d AWS Encryption SDK messages, %d S3 Encryption Client objects, %d not encrypted, %d malformed, %d unreadable",
		seen, q(src), esdk, s3ec, len(plain), malformed, unreadable)
	if seen == r.o.Sample {
		ev += fmt.Sprintf(" (stopped at --sample %d)", r.o.Sample)
	} else if err != nil && !errors.Is(err, batch.ErrFlagged) && !full {
		ev += "; the scan stopped: " + q(err.Error())
	}
	switch {
	case len(plain) > 0:
		r.add(Client, ItemSample, Fail, ev+"; not encrypted: "+qlist(plain),
			fmt.Sprintf("s3crypt encrypt the objects named (s3crypt scan %s lists them all), then remove the plaintext and its old versions", src))
	case seen == 0:
		r.add(Client, ItemSample, Unknown, fmt.Sprintf("nothing to sample under %s", q(src)), "")
	case esdk+s3ec == 0:
		r.add(Client, ItemSample, Unknown, ev, "")
	default:
		r.add(Client, ItemSample, Pass, ev, "")
	}
}
