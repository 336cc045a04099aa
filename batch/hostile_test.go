package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileUnsafeNames: object keys and names that, joined to the
// destination, would leave it or alias another output.
func TestHostileUnsafeNames(t *testing.T) {
	for _, rel := range []string{"", ".", "..", "../x", "a/../../x", "a/..", "/etc/passwd", "a//b", "a/./b", "./a", "a/", "a\x00b"} {
		if err := checkRel(rel); !errors.Is(err, ErrUnsafeName) {
			t.Errorf("checkRel(%q) = %v, want ErrUnsafeName", rel, err)
		} else if strings.ContainsRune(err.Error(), 0) {
			t.Errorf("checkRel(%q): unquoted name in %q", rel, err)
		}
	}
	for _, rel := range []string{"a", "a/b.enc", ".hidden", "a/..b", "...", "x y/ü"} {
		if err := checkRel(rel); err != nil {
			t.Errorf("checkRel(%q) = %v", rel, err)
		}
	}
}

// TestHostileQuote: untrusted strings printed raw inject control
// characters into the terminal, or flood it.
func TestHostileQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.enc":  "plain name.enc",
		`say "hi"`:        `say "hi"`,
		"a\nb":            `"a\nb"`,
		"\x1b[2Kx":        `"\x1b[2Kx"`,
		"\u009b2K":        `"\u009b2K"`,
		"bad\xffutf8":     `"bad\xffutf8"`,
		"line\u2028break": `"line\u2028break"`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %s, want %s", in, got, want)
		}
	}
	long := strings.Repeat("é", 1000) // 2000 bytes
	if got := Quote(long); len(got) > maxQuoted+5 || !strings.HasSuffix(got, `"...`) || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("Quote of 2000 bytes: %d bytes, %q...", len(got), got[:20])
	}
}

// TestHostileAuditControls: a file name carrying DEL or C1 controls
// (U+009B is CSI to a terminal) must not reach the audit log raw, where
// encoding/json leaves them, nor change what the line says.
func TestHostileAuditControls(t *testing.T) {
	var buf bytes.Buffer
	l := NewAuditLog(&buf)
	name := "a\u009b2Kb\x7fc\u0085d"
	if err := l.Append(Record{Op: "encrypt", Input: name, Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if bytes.ContainsFunc(line, func(r rune) bool { return r == 0x7f || r >= 0x80 && r <= 0x9f }) {
		t.Fatalf("raw control characters in the audit line %q", line)
	}
	var got Record
	if err := json.Unmarshal(line, &got); err != nil || got.Input != name {
		t.Fatalf("line %q decodes to input %q, %v; want %q", line, got.Input, err, name)
	}
	if _, err := VerifyLog(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// FuzzTargetName: whatever name a listing or an object key gives, the
// local output either is refused as ErrUnsafeName, with the name quoted,
// or lies strictly below the destination directory.
func FuzzTargetName(f *testing.F) {
	for _, s := range []string{"a/b.enc", "../x", "a//b", "/etc/passwd", "a/./b", "a\x00b", "a/..", "x\n\x1b[2K", "C:\\x", "a\\..\\..\\b"} {
		f.Add(s)
	}
	dst := f.TempDir()
	f.Fuzz(func(t *testing.T, rel string) {
		s := &localSink{path: dst, dir: dst, isDir: true}
		name, below, err := s.target(rel, false)
		if err != nil {
			if !errors.Is(err, ErrUnsafeName) {
				t.Fatalf("target(%q): %v, want ErrUnsafeName", rel, err)
			}
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("target(%q): control character in %q", rel, err)
			}
			return
		}
		if !filepath.IsLocal(below) || name != filepath.Join(dst, below) {
			t.Fatalf("target(%q) = %q, %q: not below %q", rel, name, below, dst)
		}
		if r, err := filepath.Rel(dst, name); err != nil || r == "." || !filepath.IsLocal(r) {
			t.Fatalf("target(%q) = %q: outside %q (%q, %v)", rel, name, dst, r, err)
		}
	})
}
