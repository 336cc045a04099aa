package batch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestParseShard(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == ShardEnv {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		spec, env string
		want      Shard
	}{{"", "", Shard{}}, {"0/1", "", Shard{0, 1}}, {"2/3", "", Shard{2, 3}}, {"auto/4", "3", Shard{3, 4}}} {
		if got, err := ParseShard(c.spec, env(c.env)); err != nil || got != c.want {
			t.Errorf("ParseShard(%q) with %s=%q: %v, %v; want %v", c.spec, ShardEnv, c.env, got, err, c.want)
		}
	}
	for _, c := range []struct{ spec, env string }{
		{"3/3", ""}, {"-1/2", ""}, {"x/y", ""}, {"1", ""}, {"0/0", ""}, {"1/-2", ""},
		{"auto/2", ""}, {"auto/2", "2"}, {"auto/2", "x"}, {"0/2/3", ""},
	} {
		if _, err := ParseShard(c.spec, env(c.env)); !errors.Is(err, ErrUsage) {
			t.Errorf("ParseShard(%q) with %s=%q: %v, want ErrUsage", c.spec, ShardEnv, c.env, err)
		}
	}
}

// TestShardPartition: N shards hold every name exactly once, and no shard
// of a few thousand names is empty or far from its share.
func TestShardPartition(t *testing.T) {
	const names, n = 3000, 7
	counts := make([]int, n)
	for k := range names {
		rel := fmt.Sprintf("dir%d/file-%d.csv", k%13, k)
		held := 0
		for i := range n {
			if (Shard{i, n}).has(rel) {
				held++
				counts[i]++
			}
		}
		if held != 1 {
			t.Fatalf("%s is in %d shards", rel, held)
		}
	}
	for i, c := range counts {
		if c < names/n/2 || c > names/n*2 {
			t.Errorf("shard %d/%d holds %d of %d names", i, n, c, names)
		}
	}
	if !(Shard{}).has("x") || !(Shard{0, 1}).has("x") {
		t.Error("no shard, or one of one, must hold every name")
	}
}

// TestRunRefusesBadShard: Options.Shard set by a program, not parsed from
// --shard, with an index outside its count selected no input (or, with a
// count of 0 or 1, every input) and the run reported success; it is a
// usage error before anything is listed.
func TestRunRefusesBadShard(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.csv"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := testKey(t)
	for _, s := range []Shard{{Index: 3, Count: 3}, {Index: -1, Count: 2}, {Index: 2, Count: 1}, {Index: 1, Count: 0}, {Index: 0, Count: -4}} {
		_, err := Run(t.Context(), Encrypt, src, dst, Options{Keys: keys, Shard: s})
		if !errors.Is(err, ErrUsage) {
			t.Errorf("shard %+v: %v, want ErrUsage", s, err)
		}
	}
	if _, err := Run(t.Context(), Encrypt, src, dst, Options{Keys: keys, Shard: Shard{Index: 0, Count: 1}}); err != nil {
		t.Fatalf("shard 0 of 1: %v", err)
	}
}
