package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/phicrypt/phicrypt/batch"
)

// Demo is s3crypt's main job on an embedded default, with no AWS account:
// in dir it makes a key file (first run only) and a tree of synthetic lab
// results, encrypts the tree, decrypts it into another, checks that the two
// plaintext trees are equal, appends to a hash-chained audit log and
// verifies it, and prints the equivalent commands.
func Demo(ctx context.Context, dir string, w io.Writer) error {
	key := filepath.Join(dir, "demo.key")
	records := filepath.Join(dir, "lab-results")
	encrypted := filepath.Join(dir, "encrypted")
	decrypted := filepath.Join(dir, "decrypted")
	audit := filepath.Join(dir, "audit.jsonl")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(key); errors.Is(err, fs.ErrNotExist) {
		if err := batch.Keygen(key); err != nil {
			return err
		}
		fmt.Fprintf(w, "made key file %s (AES-256, mode 0600)\n", key)
	}
	n, err := sampleLabResults(records)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "sample records: %d synthetic lab results in %s\n", n, records)

	log, err := batch.OpenAuditLog(audit)
	if err != nil {
		return err
	}
	defer log.Close()
	ec := map[string]string{"purpose": "demo", "data-class": "phi"}
	base := batch.Options{Keys: batch.KeyOptions{Specs: []string{"aes:" + key}}, Overwrite: true, Audit: log}
	enc := base
	enc.Context = ec
	s, err := batch.Run(ctx, batch.Encrypt, records, encrypted, enc)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "encrypted %d files (%s) into %s in %.3fs\n", s.OK, FormatBytes(s.BytesIn), encrypted, s.Seconds)
	dec := base
	dec.ExpectContext = ec
	if s, err = batch.Run(ctx, batch.Decrypt, encrypted, decrypted, dec); err != nil {
		return err
	}
	fmt.Fprintf(w, "decrypted %d files into %s in %.3fs\n", s.OK, decrypted, s.Seconds)
	if err := sameTrees(records, decrypted); err != nil {
		return err
	}
	fmt.Fprintf(w, "checked: %s and %s hold the same bytes\n", records, decrypted)
	if err := log.Close(); err != nil {
		return err
	}
	f, err := os.Open(audit)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := batch.VerifyLog(f)
	if err != nil {
		return fmt.Errorf("%s: %w", audit, err)
	}
	fmt.Fprintf(w, "audit log %s: chain verified, %d lines, head %s\n", audit, res.Lines, res.Head)
	fmt.Fprintf(w, `
The same with the CLI:
  s3crypt keygen %[1]s
  s3crypt encrypt --key aes:%[1]s --context purpose=demo --context data-class=phi --metadata-output %[4]s %[2]s %[3]s
  s3crypt decrypt --key aes:%[1]s --expect-context purpose=demo --expect-context data-class=phi --metadata-output %[4]s %[3]s %[5]s
  s3crypt inspect %[3]s/clinic-1/patient-0001.json.enc
  s3crypt verify-log %[4]s
`, key, records, encrypted, audit, decrypted)
	return nil
}

// sampleLabResults writes synthetic (not real) lab results to dir, leaving
// existing files alone, and returns how many there are.
func sampleLabResults(dir string) (int, error) {
	tests := []struct {
		name, unit string
		base       float64
	}{{"HbA1c", "%", 5.4}, {"LDL", "mg/dL", 110}, {"TSH", "mIU/L", 2.1}, {"Creatinine", "mg/dL", 0.9}}
	n := 0
	for c := 1; c <= 3; c++ {
		sub := filepath.Join(dir, fmt.Sprintf("clinic-%d", c))
		if err := os.MkdirAll(sub, 0o700); err != nil {
			return n, err
		}
		for p := 1; p <= 4; p++ {
			id := (c-1)*4 + p
			path := filepath.Join(sub, fmt.Sprintf("patient-%04d.json", id))
			n++
			if _, err := os.Stat(path); err == nil {
				continue
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "{\"mrn\":\"SYN-%06d\",\"name\":\"Synthetic Patient %d\",\"clinic\":\"clinic-%d\",\"results\":[", id*7919, id, c)
			for i, t := range tests {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "{\"test\":%q,\"value\":%.1f,\"unit\":%q,\"date\":\"2026-0%d-1%d\"}", t.name, t.base*(1+float64((id*(i+3))%7)/20), t.unit, 1+id%9, id%10)
			}
			b.WriteString("]}\n")
			if err := os.WriteFile(path, bytes.Repeat(b.Bytes(), 20*id), 0o600); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// sameTrees reports the first file of a that b lacks or holds differently.
func sameTrees(a, b string) error {
	return filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(a, p)
		if err != nil {
			return err
		}
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("%s differs after the round trip", rel)
		}
		return nil
	})
}
