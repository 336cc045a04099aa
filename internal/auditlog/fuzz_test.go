package auditlog

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzVerify: no input makes Verify panic; every failure is typed and
// names a line; a log it accepts with a signer is extended by Resume into
// one that verifies fully signed.
func FuzzVerify(f *testing.F) {
	s := hmacKey(f, 1)
	log := signedLog(f, s, nil, 4)
	f.Add(log, false)
	f.Add(log[:len(log)/2], true)
	f.Add([]byte("{\"prev\":\""+ZeroHash+"\",\"type\":\"digest\"}\n"), false)
	f.Fuzz(func(t *testing.T, log []byte, withExpect bool) {
		o := VerifyOptions{Signer: s}
		if withExpect {
			o.Expect = []byte(split(signedLog(t, s, nil, 1))[1])
		}
		res, err := Verify(ctx, bytes.NewReader(log), o)
		if err != nil {
			var ce *ChainError
			var de *DigestError
			switch {
			case errors.As(err, &ce):
				if ce.Line != res.Lines+1 {
					t.Fatalf("ChainError at line %d after %d good lines", ce.Line, res.Lines)
				}
			case errors.As(err, &de):
				if de.Line != res.Lines+1 || de.From < 1 || de.From > de.Line {
					t.Fatalf("DigestError %+v after %d good lines", de, res.Lines)
				}
			case errors.Is(err, ErrNotExpected):
			default:
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if res.Signed > res.Lines || (res.Signed < res.Lines && CheckSigned(res) == nil) {
			t.Fatalf("result %+v", res)
		}
		if CheckSigned(res) != nil {
			return
		}
		var more bytes.Buffer
		w, err := Resume(ctx, bytes.NewReader(log), &more, Options{Signer: s})
		if err != nil {
			t.Fatalf("Resume of a verified log: %v", err)
		}
		w.Append(ctx, record("more"))
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		all := append(bytes.Clone(log), more.Bytes()...)
		res2, err := Verify(ctx, bytes.NewReader(all), VerifyOptions{Signer: s})
		if err != nil || res2.Lines != res.Lines+2 || CheckSigned(res2) != nil {
			t.Fatalf("after append: %+v, %v", res2, err)
		}
	})
}
