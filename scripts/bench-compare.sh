#!/usr/bin/env bash
# Compares the bench/ benchmarks of two revisions on this machine: builds
# the bench test binary at OLD and at the working tree, runs them in turns
# (old, new, old, new, ...) so that a shared machine's drifting load weighs
# on both alike, and prints benchstat of the ratio units (x-raw, x-plain)
# and of time and allocations.
# Usage: bash scripts/bench-compare.sh OLD [BENCH_REGEXP] [COUNT]
#   e.g. bash scripts/bench-compare.sh v0.3.0 'Feeds|OneShotPaired' 6
# Env: BENCHTIME (default 10x). Needs benchstat:
#   go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: bench-compare.sh OLD [BENCH_REGEXP] [COUNT]}
re=${2:-Feeds|OneShotPaired}
count=${3:-6}
bt=${BENCHTIME:-10x}
work=$(mktemp -d /tmp/phicrypt-cmp.XXXXXX)
trap 'git worktree remove --force "$work/old-src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git worktree add -q --detach "$work/old-src" "$old"
(cd "$work/old-src/bench" && go test -c -o "$work/old.test" .)
(cd bench && go test -c -o "$work/new.test" .)
for i in $(seq "$count"); do
	for v in old new; do
		echo "round $i/$count: $v" >&2
		(cd bench && "$work/$v.test" -test.run '^$' -test.bench "$re" -test.benchtime "$bt" -test.count 1 -test.benchmem) >>"$work/$v.txt"
	done
done
bs=$(command -v benchstat || echo "$HOME/go/bin/benchstat")
for u in x-raw x-plain sec/op allocs/op; do
	raw=$u
	[ "$u" = sec/op ] && raw=ns/op # benchstat reads ns/op and reports sec/op
	grep -q " $raw" "$work/new.txt" || continue
	echo "== $u"
	"$bs" -filter ".unit:$u" old="$work/old.txt" new="$work/new.txt" || true
done
cp "$work/old.txt" "$work/new.txt" "${OUT:-/tmp}/" 2>/dev/null && echo "raw output: ${OUT:-/tmp}/old.txt ${OUT:-/tmp}/new.txt" >&2
