// Command quickstart is phicrypt's main job on an embedded default: it
// creates a local AES key file (mode 0600) and a sample directory of
// records on first run, encrypts every record to an AWS Encryption SDK
// message, decrypts them again and checks the round trip. No AWS account
// is needed.
//
//	go run ./examples/quickstart [-dir phicrypt-demo]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

func main() {
	dir := flag.String("dir", "phicrypt-demo", "working directory for the key, records and outputs")
	flag.Parse()
	if err := run(context.Background(), *dir); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dir string) error {
	key, err := loadOrCreateKey(filepath.Join(dir, "demo.key"))
	if err != nil {
		return err
	}
	defer clear(key)
	kr, err := keyring.NewRawAES("phicrypt-demo", "demo.key", key)
	if err != nil {
		return err
	}
	client, err := envelope.New(kr)
	if err != nil {
		return err
	}
	records := filepath.Join(dir, "records")
	if err := sampleRecords(records); err != nil {
		return err
	}
	ec := map[string]string{"purpose": "demo", "data-class": "phi"}
	start := time.Now()
	var n, total int
	err = filepath.WalkDir(records, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) == ".enc" {
			return err
		}
		pt, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ct, err := client.Encrypt(ctx, pt, ec)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := os.WriteFile(path+".enc", ct, 0o600); err != nil {
			return err
		}
		back, hdr, err := client.Decrypt(ctx, ct, envelope.WithExpectedContext(ec))
		if err != nil {
			return fmt.Errorf("%s.enc: %w", path, err)
		}
		if !bytes.Equal(back, pt) {
			return fmt.Errorf("%s: round trip differs", path)
		}
		fmt.Printf("%-40s %6d B -> %6d B  suite %s  message %x…\n", path+".enc", len(pt), len(ct), hdr.Suite, hdr.MessageID[:6])
		n++
		total += len(pt)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("encrypted and decrypted %d records (%d bytes) in %v; key file %s\n", n, total, time.Since(start).Round(time.Millisecond), filepath.Join(dir, "demo.key"))
	return nil
}

// loadOrCreateKey reads a 32-byte key file, creating it with mode 0600 if
// it does not exist.
func loadOrCreateKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != 32 {
			return nil, fmt.Errorf("%s: %d bytes, want a 32-byte AES key", path, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// sampleRecords writes a few synthetic (not real) patient records.
func sampleRecords(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for i := 1; i <= 5; i++ {
		path := filepath.Join(dir, fmt.Sprintf("patient-%04d.json", i))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		rec := fmt.Sprintf(`{"mrn":"SYN-%06d","name":"Synthetic Patient %d","dob":"19%02d-0%d-1%d","labs":[{"test":"HbA1c","value":%d.%d}]}`+"\n", i*7919, i, 50+i, i, i, 5+i%3, i)
		if err := os.WriteFile(path, bytes.Repeat([]byte(rec), 40*i), 0o600); err != nil {
			return err
		}
	}
	return nil
}
