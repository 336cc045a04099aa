package keyring

import (
	"errors"
	"fmt"

	"github.com/phicrypt/phicrypt/envelope"
)

// errNotWrappedHere marks a data key another keyring wrapped: skipped
// without a reason.
var errNotWrappedHere = errors.New("not wrapped by this keyring")

// unwrapFirst sets m.DataKey to the first of edks that unwrap opens. A
// data key unwrap does not claim (errNotWrappedHere) is skipped; every
// other failure is a reason in the NoDecryptionKeyError returned when none
// opens.
func unwrapFirst(k fmt.Stringer, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey, unwrap func(envelope.EncryptedDataKey) ([]byte, error)) error {
	var errs []error
	for i, e := range edks {
		dk, err := unwrap(e)
		if errors.Is(err, errNotWrappedHere) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: data key %d: %w", k, i, err))
			continue
		}
		m.DataKey = dk
		return nil
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no data key wrapped by this key", k))
	}
	return &envelope.NoDecryptionKeyError{EncryptedDataKeys: len(edks), Errs: errs}
}
