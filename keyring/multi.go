package keyring

import (
	"context"
	"errors"

	"github.com/phicrypt/phicrypt/envelope"
)

// Multi combines keyrings: the generator makes the data key and
// every child wraps it too; on decrypt the first keyring that can decrypt
// a data key wins.
type Multi struct {
	generator envelope.Keyring
	children  []envelope.Keyring
}

// NewMulti returns a multi-keyring. generator may be nil for a
// keyring that only decrypts, or encrypts data keys generated elsewhere.
func NewMulti(generator envelope.Keyring, children ...envelope.Keyring) (*Multi, error) {
	if generator == nil && len(children) == 0 {
		return nil, errors.New("keyring: a multi-keyring needs a generator or children")
	}
	return &Multi{generator, children}, nil
}

// OnEncrypt implements envelope.Keyring. If a keyring fails, a data key
// generated here is zeroed and m is left as it was.
func (k *Multi) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	generated, n := m.DataKey == nil, len(m.EncryptedDataKeys)
	fail := func(err error) error {
		if generated {
			clear(m.DataKey)
			m.DataKey = nil
		}
		if len(m.EncryptedDataKeys) >= n {
			m.EncryptedDataKeys = m.EncryptedDataKeys[:n]
		}
		return err
	}
	if k.generator != nil {
		if err := k.generator.OnEncrypt(ctx, m); err != nil {
			return fail(err)
		}
	} else if m.DataKey == nil {
		return errors.New("keyring: multi-keyring without a generator has no data key to wrap")
	}
	for _, c := range k.children {
		if err := c.OnEncrypt(ctx, m); err != nil {
			return fail(err)
		}
	}
	return nil
}

// OnDecrypt implements envelope.Keyring.
func (k *Multi) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	all := &envelope.NoDecryptionKeyError{EncryptedDataKeys: len(edks)}
	for _, kr := range append([]envelope.Keyring{k.generator}, k.children...) {
		if kr == nil {
			continue
		}
		err := kr.OnDecrypt(ctx, m, edks)
		if err == nil {
			return nil
		}
		var nk *envelope.NoDecryptionKeyError
		if errors.As(err, &nk) {
			all.Errs = append(all.Errs, nk.Errs...)
		} else {
			all.Errs = append(all.Errs, err)
		}
	}
	return all
}
