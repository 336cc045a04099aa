package keyring_test

import (
	"testing"

	"github.com/phicrypt/phicrypt/envelope"
)

// newClient returns a client of the default suite (0x0578) over kr.
func newClient(t testing.TB, kr envelope.Keyring) *envelope.Client {
	t.Helper()
	c, err := envelope.New(kr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
