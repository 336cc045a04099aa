#!/usr/bin/env bash
# Runs BenchmarkS3 (bench/s3crypt_test.go: s3crypt Put and Get of 256 MiB,
# each paired in its iteration with the plain SDK transfer) against a local
# versitygw over TLS, and prints benchstat of x-plain, x-get, x-sha384,
# x-ceil, x-cpu, cpu-s (CPU time of the benchmark and the server: see
# BenchmarkS3), time and memory per op. With BASE, it also builds the s3crypt of revision
# BASE with this tree's benchmark and S3 test client (bench/s3crypt_test.go,
# bench/files_test.go, internal/s3test) and runs the two binaries in turns (base, new, base,
# new, ...), so that a shared machine's drifting load weighs on both alike.
# Usage: bash scripts/bench-s3.sh [BASE]
# Env: COUNT (default 6), BENCHTIME (default 1x), BENCH (default
#   '^BenchmarkS3$'); PHICRYPT_S3_* of a running server (scripts/s3-server.sh)
#   to use it instead of starting one. Needs benchstat:
#   go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-}
count=${COUNT:-6}
bt=${BENCHTIME:-1x}
re=${BENCH:-'^BenchmarkS3$'}
work=$(mktemp -d /tmp/phicrypt-s3bench.XXXXXX)
cleanup() {
	[ -n "${started:-}" ] && kill "$PHICRYPT_S3_PID" 2>/dev/null || true
	[ -n "$base" ] && git worktree remove --force "$work/base-src" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${PHICRYPT_S3_ENDPOINT:-}" ]; then
	eval "$(bash scripts/s3-server.sh "$work/s3")"
	started=1
fi

vs=new
(cd bench && go test -c -o "$work/new.test" .)
if [ -n "$base" ]; then
	git worktree add -q --detach "$work/base-src" "$base"
	cp bench/s3crypt_test.go bench/files_test.go "$work/base-src/bench/"
	cp internal/s3test/*.go "$work/base-src/internal/s3test/"
	(cd "$work/base-src/bench" && go test -c -o "$work/base.test" .)
	vs="base new"
fi
for i in $(seq "$count"); do
	for v in $vs; do
		echo "round $i/$count: $v (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
		(cd bench && "$work/$v.test" -test.run '^$' -test.bench "$re" -test.benchtime "$bt" \
			-test.count 1 -test.benchmem) >>"$work/$v.txt"
	done
done
bs=$(command -v benchstat || echo "$HOME/go/bin/benchstat")
files=(new="$work/new.txt")
[ -n "$base" ] && files=(base="$work/base.txt" new="$work/new.txt")
for u in x-plain x-get x-sha384 x-ceil x-cpu cpu-s sec/op B/op allocs/op; do
	raw=$u
	[ "$u" = sec/op ] && raw=ns/op # benchstat reads ns/op and reports sec/op
	grep -q " $raw" "$work/new.txt" || continue
	echo "== $u"
	"$bs" -filter ".unit:$u" "${files[@]}" || true
done
for v in $vs; do cp "$work/$v.txt" "${OUT:-/tmp}/s3-$v.txt"; done
echo "raw output: ${OUT:-/tmp}/s3-{$(echo $vs | tr ' ' ,)}.txt" >&2
