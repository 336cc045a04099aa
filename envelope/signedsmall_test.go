package envelope_test

import (
	"context"
	"runtime/metrics"
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// goroutinesCreated returns how many goroutines the process has started.
func goroutinesCreated(t *testing.T) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Skip("this Go has no /sched/goroutines-created metric")
	}
	return s[0].Value.Uint64()
}

// TestSignedDecryptSmallInline: a one-shot Decrypt of a small signed
// message hashes it on the caller's goroutine (starting one cost ~40 µs of
// a ~550 µs 1 KiB 0x0578 message); a large one still hashes beside the
// opening of its frames.
func TestSignedDecryptSmallInline(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, aesKeyring(t), envelope.AES256GCMHKDFSHA512CommitP384, envelope.WithFrameWorkers(1))
	for _, tc := range []struct {
		size  int
		aside bool
	}{{1 << 10, false}, {100 << 10, false}, {1 << 20, true}} {
		pt := testPlaintext(tc.size)
		ct := mustEncrypt(t, c, pt, nil)
		const n = 20
		before := goroutinesCreated(t)
		for range n {
			if _, _, err := c.Decrypt(ctx, ct); err != nil {
				t.Fatal(err)
			}
		}
		started := goroutinesCreated(t) - before
		if aside := started >= n; aside != tc.aside {
			t.Errorf("%d bytes: %d goroutines started by %d Decrypts, want hashed aside %v", tc.size, started, n, tc.aside)
		}
	}
}
