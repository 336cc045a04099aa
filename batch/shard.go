package batch

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// ShardEnv is the variable --shard auto/N takes the shard index from: a
// Kubernetes Indexed Job sets it in each pod.
const ShardEnv = "JOB_COMPLETION_INDEX"

// Shard selects the inputs of one of Count processes that together cover
// every input once; the zero Shard selects all.
type Shard struct {
	Index, Count int
}

// ParseShard parses "I/N" (0 ≤ I < N) or "auto/N", which takes I from
// getenv(ShardEnv); "" is the zero Shard.
func ParseShard(spec string, getenv func(string) string) (Shard, error) {
	if spec == "" {
		return Shard{}, nil
	}
	bad := func(why string) (Shard, error) {
		return Shard{}, fmt.Errorf("%w: --shard %s: %s", ErrUsage, Quote(spec), why)
	}
	is, ns, ok := strings.Cut(spec, "/")
	if !ok {
		return bad("want I/N or auto/N")
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return bad("N must be a whole number of at least 1")
	}
	if is == "auto" {
		if is = getenv(ShardEnv); is == "" {
			return bad(ShardEnv + " is not set (it is in a Kubernetes Indexed Job's pods)")
		}
	}
	i, err := strconv.Atoi(is)
	if err != nil || i < 0 || i >= n {
		return bad(fmt.Sprintf("the index %s is not a whole number from 0 to %d", Quote(is), n-1))
	}
	return Shard{Index: i, Count: n}, nil
}

// check refuses a Shard ParseShard would not return: an index outside
// 0..Count-1, or a negative Count. (Such a Shard selected every input, or
// none, without a word.)
func (s Shard) check() error {
	if s == (Shard{}) {
		return nil
	}
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("%w: shard %d of %d: want an index from 0 to the count less 1", ErrUsage, s.Index, s.Count)
	}
	return nil
}

// has reports whether rel, an input's name below its source, is the
// shard's: FNV-1a 64 of rel, mod Count, is Index. The hash depends on the
// name alone, so every process given the same inputs and Count agrees.
func (s Shard) has(rel string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(rel))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}
