package kms

import (
	"errors"
	"fmt"

	"github.com/phicrypt/phicrypt/envelope"
	"github.com/phicrypt/phicrypt/keyring"
)

// NewMulti returns a multi-keyring of strict keyrings: generator makes the
// data key and each additional key encrypts it, each through the client
// clientFor returns for the key's region (the region of its ARN; "" for a
// key id or alias name). On decrypt the keyrings are tried in that order.
// Unlike New with WithAdditionalKeys, the keys may be in several regions.
func NewMulti(clientFor func(region string) Client, generator string, additional ...string) (*keyring.Multi, error) {
	if clientFor == nil {
		return nil, errors.New("kms: nil clientFor")
	}
	var krs []envelope.Keyring
	for _, id := range append([]string{generator}, additional...) {
		if err := checkIdentifier(id); err != nil {
			return nil, err
		}
		var region string
		if a, err := ParseARN(id); err == nil {
			region = a.Region
		}
		c := clientFor(region)
		if c == nil {
			return nil, fmt.Errorf("kms: no KMS client for region %q (key %s)", region, id)
		}
		kr, err := New(c, id)
		if err != nil {
			return nil, err
		}
		krs = append(krs, kr)
	}
	return keyring.NewMulti(krs[0], krs[1:]...)
}
