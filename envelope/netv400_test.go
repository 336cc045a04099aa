package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/phicrypt/phicrypt/stream"
)

// netV400Message writes a message as ESDK-NET 4.0.0 did: for v1 HKDF
// suites the key derived with info = suite ID alone, and an empty required
// context authenticated as a zero pair count.
func netV400Message(t *testing.T, kr Keyring, id SuiteID, pt []byte) []byte {
	t.Helper()
	cmm := NewDefaultMaterialsManager(kr)
	policy := ForbidEncryptAllowDecrypt
	if id.Committing() {
		policy = RequireEncryptAllowDecrypt
	}
	m, err := cmm.GetEncryptionMaterials(context.Background(), &EncryptionRequest{
		EncryptionContext: map[string]string{"k": "v"}, Suite: id, CommitmentPolicy: policy, PlaintextLength: -1})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := lookupSuite(id)
	h := &Header{Version: s.version, Suite: id, MessageID: make([]byte, 16*int(s.version)), EncryptionContext: m.EncryptionContext,
		EncryptedDataKeys: m.EncryptedDataKeys, FrameLength: 100}
	if s.version == 1 {
		h.iv = make([]byte, ivLen)
	}
	rand.Read(h.MessageID)
	aead, commit, err := deriveKey(s, m.DataKey, h.MessageID, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.committing {
		h.commitKey = commit[:]
	}
	if err := h.marshalBody(nil, nil); err != nil {
		t.Fatal(err)
	}
	aad, _ := headerAAD(h.body, nil, true)
	h.authTag = aead.Seal(nil, make([]byte, ivLen), nil, aad)
	out, err := stream.Seal(h.appendTo(nil), pt, stream.Config{AEAD: aead, MessageID: h.MessageID, FrameLength: 100})
	if err != nil {
		t.Fatal(err)
	}
	if m.signingKey != nil {
		dig := s.signHash()()
		dig.Write(out)
		if out, err = appendFooter(out, m.signingKey, dig); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestNetV400Retry: messages with the ESDK-NET 4.0.0 header bug decrypt by
// default, through the official SDKs' one retry, and fail without it.
func TestNetV400Retry(t *testing.T) {
	kr := clearKeyring{}
	pt := bytes.Repeat([]byte("net 4.0.0 "), 30)
	for _, id := range []SuiteID{aes256GCM, aes128GCMHKDFSHA256, aes256GCMHKDFSHA256, aes256GCMHKDFSHA384ECDSAP384, AES256GCMHKDFSHA512Commit} {
		ct := netV400Message(t, kr, id, pt)
		c, _ := New(kr, WithCommitmentPolicy(RequireEncryptAllowDecrypt))
		got, _, err := c.Decrypt(context.Background(), ct)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s: decrypt with retry: %v", id, err)
		}
		r, err := c.NewDecryptReader(context.Background(), bytes.NewReader(ct))
		if err != nil {
			t.Fatalf("%s: reader with retry: %v", id, err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r); err != nil || !bytes.Equal(buf.Bytes(), pt) {
			t.Fatalf("%s: streaming decrypt with retry: %v", id, err)
		}
		if _, _, err := c.Decrypt(context.Background(), ct, withoutNetV400Retry()); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("%s: without retry: %v, want ErrAuthentication", id, err)
		}
	}
}

// clearKeyring is a test keyring for this package's internal tests, which
// cannot import package keyring: its data key travels in the clear as the
// ciphertext of its one encrypted data key.
type clearKeyring struct{}

func (clearKeyring) OnEncrypt(_ context.Context, m *EncryptionMaterials) error {
	if m.DataKey == nil {
		m.DataKey = make([]byte, m.Suite.DataKeyLength())
		rand.Read(m.DataKey)
	}
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, EncryptedDataKey{ProviderID: "clear", Ciphertext: bytes.Clone(m.DataKey)})
	return nil
}

func (clearKeyring) OnDecrypt(_ context.Context, m *DecryptionMaterials, edks []EncryptedDataKey) error {
	for _, e := range edks {
		if e.ProviderID == "clear" && len(e.Ciphertext) == m.Suite.DataKeyLength() {
			m.DataKey = bytes.Clone(e.Ciphertext)
			return nil
		}
	}
	return &NoDecryptionKeyError{EncryptedDataKeys: len(edks)}
}
