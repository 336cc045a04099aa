package auditlog

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// forge recomputes everything in lines that needs no key: every prev (the
// unkeyed chain), and each digest's lines and prev_digest.
func forge(lines []string) []byte {
	prev, prevDigest := ZeroHash, ZeroHash
	hexRe := regexp.MustCompile(`^\{"prev":"[0-9a-f]{64}"`)
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\n")
		l = hexRe.ReplaceAllString(l, `{"prev":"`+prev+`"`)
		if strings.Contains(l, `"type":"digest"`) {
			l = regexp.MustCompile(`"lines":\d+`).ReplaceAllString(l, fmt.Sprintf(`"lines":%d`, i))
			l = regexp.MustCompile(`"prev_digest":"[0-9a-f]{64}"`).ReplaceAllString(l, `"prev_digest":"`+prevDigest+`"`)
			prevDigest = lineHash([]byte(l))
		}
		prev = lineHash([]byte(l))
		lines[i] = l + "\n"
	}
	return join(lines)
}

func wantDigestError(t *testing.T, err error, line, from int) {
	t.Helper()
	var de *DigestError
	if !errors.As(err, &de) || !errors.Is(err, ErrBadDigest) || de.Line != line || de.From != from {
		t.Fatalf("Verify error = %v; want a DigestError at line %d covering lines from %d", err, line, from)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("line %d:", line)) {
		t.Fatalf("error %q does not name line %d", err, line)
	}
}

// TestHostileDeleteLineRecomputeChain: an attacker deletes a record and
// recomputes the unkeyed chain and digest links.
func TestHostileDeleteLineRecomputeChain(t *testing.T) {
	s := hmacKey(t, 1)
	lines := split(signedLog(t, s, nil, 7))                                    // digests at lines 4, 8 and 10
	forged := forge(append(append([]string(nil), lines[:5]...), lines[6:]...)) // line 6 gone
	_, err := Verify(ctx, bytes.NewReader(forged), VerifyOptions{Signer: s})
	wantDigestError(t, err, 7, 5) // D8, now line 7, over lines 5-6
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("want the signature to fail: %v", err)
	}
}

// TestHostileEditLastLine: an attacker edits the last record of a run (the
// line before its final digest) and recomputes the chain.
func TestHostileEditLastLine(t *testing.T) {
	s := hmacKey(t, 1)
	lines := split(signedLog(t, s, nil, 7))
	lines[8] = strings.Replace(lines[8], `"r7"`, `"rX"`, 1)
	_, err := Verify(ctx, bytes.NewReader(forge(lines)), VerifyOptions{Signer: s})
	wantDigestError(t, err, 10, 9)
}

// TestHostileReorderAndDropDigest: an attacker swaps two records, or drops a
// digest line, and recomputes the chain and links.
func TestHostileReorderAndDropDigest(t *testing.T) {
	s := hmacKey(t, 1)
	lines := split(signedLog(t, s, nil, 7))
	swapped := append([]string(nil), lines...)
	swapped[4], swapped[5] = swapped[5], swapped[4]
	_, err := Verify(ctx, bytes.NewReader(forge(swapped)), VerifyOptions{Signer: s})
	wantDigestError(t, err, 8, 5)

	dropped := append(append([]string(nil), lines[:3]...), lines[4:]...) // the digest at line 4 gone
	_, err = Verify(ctx, bytes.NewReader(forge(dropped)), VerifyOptions{Signer: s})
	wantDigestError(t, err, 7, 1)
}

// TestHostileCutTail: an attacker cuts lines from the end, the final digest
// included; the second-place copy of the latest digest detects it.
func TestHostileCutTail(t *testing.T) {
	s := hmacKey(t, 1)
	head := FileHead(filepath.Join(t.TempDir(), "head"))
	lines := split(signedLog(t, s, head, 7))
	exp, err := head.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []int{8, 9} { // cut lines 9-10, or line 10 only
		cut := join(lines[:keep])
		_, err := Verify(ctx, bytes.NewReader(cut), VerifyOptions{Signer: s, Expect: exp})
		if !errors.Is(err, ErrNotExpected) || !strings.Contains(err.Error(), "cut") {
			t.Fatalf("cut to %d lines: Verify = %v, want ErrNotExpected", keep, err)
		}
		if _, err := Resume(ctx, bytes.NewReader(cut), &bytes.Buffer{}, Options{Signer: s, Head: head}); !errors.Is(err, ErrNotExpected) {
			t.Fatalf("cut to %d lines: Resume = %v, want ErrNotExpected", keep, err)
		}
	}
	// A head copy the attacker wrote without the key is refused.
	fake := strings.Replace(lines[7], `"sig":"`, `"sig":"AAAA`, 1)
	if _, err := Verify(ctx, bytes.NewReader(join(lines[:8])), VerifyOptions{Signer: s, Expect: []byte(fake)}); !errors.Is(err, ErrNotExpected) || !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged head copy: %v", err)
	}
	// The whole log rewritten from line 5 on: the expected line differs.
	rewritten := forge(append(append([]string(nil), lines[:4]...), `{"prev":"`+ZeroHash+`","input":"x"}`+"\n"))
	if _, err := Verify(ctx, bytes.NewReader(rewritten), VerifyOptions{Signer: s, Expect: exp}); !errors.Is(err, ErrNotExpected) {
		t.Fatalf("rewritten log: %v", err)
	}
}

// TestHostileWrongKey: a log signed (or re-signed) with another key.
func TestHostileWrongKey(t *testing.T) {
	log := signedLog(t, hmacKey(t, 1), nil, 7)
	_, err := Verify(ctx, bytes.NewReader(log), VerifyOptions{Signer: hmacKey(t, 2)})
	wantDigestError(t, err, 4, 1)
	if !strings.Contains(err.Error(), "signed by key") {
		t.Fatalf("error does not name the keys: %v", err)
	}
	_, err = Verify(ctx, bytes.NewReader(log), VerifyOptions{Signer: ed25519Key(t, 1)})
	wantDigestError(t, err, 4, 1)
}

// TestHostileLinesAfterLastDigest: an attacker appends a record with a
// valid chain link after the last digest; it is reported unverified, and
// a signing writer does not extend (vouch for) it.
func TestHostileLinesAfterLastDigest(t *testing.T) {
	s := hmacKey(t, 1)
	lines := split(signedLog(t, s, nil, 7))
	added := forge(append(lines, `{"prev":"`+ZeroHash+`","input":"forged"}`+"\n"))
	res, err := Verify(ctx, bytes.NewReader(added), VerifyOptions{Signer: s})
	if err != nil || res.Lines != 11 || res.Signed != 10 || res.Unverified() != 1 {
		t.Fatalf("Verify = %+v, %v; want 11 lines, 10 signed", res, err)
	}
	var ue *UnverifiedError
	if err := CheckSigned(res); !errors.As(err, &ue) || ue.From != 11 || ue.To != 11 {
		t.Fatalf("CheckSigned = %v, want lines 11-11 unverified", err)
	}
	if _, err := Resume(ctx, bytes.NewReader(added), &bytes.Buffer{}, Options{Signer: s}); !errors.Is(err, ErrUnverified) {
		t.Fatalf("Resume = %v, want ErrUnverified", err)
	}
	// A log from before digests: every line unverified, none signed.
	var old bytes.Buffer
	w := NewWriter(&old, Result{}, Options{})
	w.Append(ctx, record("a"))
	w.Append(ctx, record("b"))
	res, err = Verify(ctx, bytes.NewReader(old.Bytes()), VerifyOptions{Signer: s})
	if err != nil || res.Signed != 0 || !errors.As(CheckSigned(res), &ue) || ue.From != 1 || ue.To != 2 {
		t.Fatalf("old log: %+v, %v, %v", res, err, CheckSigned(res))
	}
}
