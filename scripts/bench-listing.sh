#!/usr/bin/env bash
# Measures the peak RSS of s3crypt while it lists a large S3 prefix: N
# empty objects (default 1,000,000) on a local versitygw (scripts/s3-server.sh),
# encrypted with --shard 0/100000, so that the run lists every object and
# processes almost none. The listing streams into the workers, so the RSS
# should not grow with N (but for the set of 8-byte output hashes kept for
# a local destination, about 16 MB per million; see package batch).
#
# Usage: bash scripts/bench-listing.sh [N] [WORKDIR]
# The objects are created as files straight in versitygw's posix data
# directory (1,000 a directory), not uploaded; on a tmpfs WORKDIR
# (/dev/shm/…) that takes seconds, on ext4 here about 1.5 ms a file.
# WORKDIR (default a new temporary directory) is removed at the end unless
# KEEP=1. S3CRYPT=BINARY measures that build instead of this tree's (to
# compare with an older one).
set -euo pipefail
n=${1:-1000000}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)

cleanup() {
	if [ -n "${PHICRYPT_S3_PID:-}" ]; then kill "$PHICRYPT_S3_PID" 2>/dev/null || true; fi
	if [ "${KEEP:-}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -n "${S3CRYPT:-}" ]; then
	cp "$S3CRYPT" "$work/s3crypt"
else
	(cd "$repo" && go build -o "$work/s3crypt" ./cmd/s3crypt)
fi
eval "$(bash "$repo/scripts/s3-server.sh" "$work/s3")"
export AWS_ACCESS_KEY_ID=$PHICRYPT_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$PHICRYPT_S3_SECRET_KEY
export AWS_REGION=us-east-1 AWS_CA_BUNDLE=$PHICRYPT_S3_CA

curl -sSf --cacert "$PHICRYPT_S3_CA" --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
	--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -X PUT "$PHICRYPT_S3_ENDPOINT/bench" >/dev/null

echo "creating $n empty objects in $work/s3/data/bench" >&2
t0=$(date +%s)
(
	cd "$work/s3/data/bench"
	dirs=$(((n + 999) / 1000))
	seq -f 'd%05g' 0 $((dirs - 1)) | xargs mkdir -p
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "d%05d/f%07d\n", int(i / 1000), i }' | xargs touch
)
echo "created in $(($(date +%s) - t0)) s" >&2

"$work/s3crypt" keygen "$work/k.key" 2>/dev/null
# measure NAME ARGS...: one s3crypt encrypt over the bucket under /usr/bin/time.
measure() {
	local name=$1
	shift
	echo "== s3crypt encrypt $* over $n objects" >&2
	/usr/bin/time -v "$work/s3crypt" encrypt --key "aes:$work/k.key" --endpoint-url "$PHICRYPT_S3_ENDPOINT" \
		--json "$@" s3://bench/ "$work/out-$name" 2>"$work/time-$name.txt" >"$work/summary-$name.json" || true
	cat "$work/summary-$name.json"
	grep -E "Maximum resident set size|Elapsed \(wall clock\)|User time|System time|Exit status" "$work/time-$name.txt"
}
# The shard lists every object and keeps about n/100,000 of them.
measure shard --shard 0/100000
# An --include no name matches: every object listed and counted as skipped,
# which checks that all n were listed.
measure none --include 'no-such-name'
grep -q "\"skipped\":$n," "$work/summary-none.json" || { echo "not all $n objects were listed" >&2; exit 1; }
