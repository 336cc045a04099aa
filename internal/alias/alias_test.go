package alias

import "testing"

func TestSpareOverlaps(t *testing.T) {
	buf := make([]byte, 100)
	for _, c := range []struct {
		name    string
		dst, in []byte
		want    bool
	}{
		{"in place", buf[:0], buf[:50], true},
		{"input inside the spare capacity", buf[:10], buf[40:60], true},
		{"input straddles the spare capacity's start", buf[:30], buf[20:40], true},
		{"input ends where the spare capacity starts", buf[:40], buf[20:40], false},
		{"spare capacity ends where the input starts", buf[:0:20], buf[20:40], false},
		{"spare capacity ends one byte into the input", buf[:0:21], buf[20:40], true},
		{"no spare capacity", buf[:50:50], buf[:50], false},
		{"empty input", buf[:0], buf[10:10], false},
		{"separate arrays", make([]byte, 0, 100), buf, false},
		{"nil dst", nil, buf, false},
	} {
		if got := SpareOverlaps(c.dst, c.in); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
