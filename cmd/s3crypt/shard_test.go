package main_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// TestShard: three shards into one destination write every output exactly
// once, their counts summing to the inputs; bad --shard values are usage
// errors.
func TestShard(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "k.key")
	var want []string
	for i := range 50 {
		name := fmt.Sprintf("d%d/r%02d.csv", i%4, i)
		writeFile(t, filepath.Join(dir, "src", name), []byte(name))
		want = append(want, name+".enc")
	}
	slices.Sort(want)
	total := 0
	for i := range 3 {
		// Outputs of another shard would make a shard fail with "output
		// exists": none of them overlap.
		r := mustRun(t, dir, nil, nil, "encrypt", "--json", "--shard", fmt.Sprintf("%d/3", i), "--key", key, "src", "enc")
		s := summaryOf(t, r)
		if s.OK == 0 || s.Failed != 0 || s.Skipped != 0 || s.Files != s.OK {
			t.Errorf("shard %d/3: %+v", i, s)
		}
		total += s.OK
	}
	if got := files(t, filepath.Join(dir, "enc")); total != 50 || !slices.Equal(got, want) {
		t.Fatalf("%d written; outputs %v", total, got)
	}
	// auto/N takes the index from the Indexed Job's variable.
	r := mustRun(t, dir, nil, []string{"JOB_COMPLETION_INDEX=1"}, "encrypt", "--json", "--shard", "auto/3", "--skip-existing", "--key", key, "src", "enc")
	if s := summaryOf(t, r); s.OK != 0 || s.Skipped == 0 || s.Skipped == 50 {
		t.Errorf("auto/3 rerun: %+v", s)
	}
	for _, bad := range []string{"3/3", "-1/2", "x/y", "auto/2", "2", "0/0"} {
		if r := run(t, dir, nil, nil, "encrypt", "--shard", bad, "--key", key, "src", "enc2"); r.code != 2 {
			t.Errorf("--shard %s: exit %d, want 2\n%s", bad, r.code, r.stderr)
		}
	}
}
