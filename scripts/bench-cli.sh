#!/usr/bin/env bash
# CLI benchmark: s3crypt local->local encrypt of (a) 1,000 files of 100 KiB
# and (b) one 2 GiB file (512 MiB when /tmp has under 10 GiB free), timed
# against `cp -r` of the same files in the same run, inputs warm in the page
# cache for both. s3crypt fsyncs every output before it renames it, which
# cp does not: so cp is timed twice, alone (data left in the page cache)
# and followed by `sync` (data on disk, as s3crypt leaves it). Every timing
# starts after a `sync`, so earlier writes are not flushed on its clock.
# Usage: bash scripts/bench-cli.sh   (env: BIG_MIB to force the big file size;
# BIG_MIB=0 times the small files only)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/s3crypt-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

avail_kib=$(df -Pk /tmp | awk 'NR==2 {print $4}')
big_mib=${BIG_MIB:-$(( avail_kib > 10 * 1024 * 1024 ? 2048 : 512 ))}

go build -o "$work/s3crypt" ./cmd/s3crypt
s3c="$work/s3crypt"
"$s3c" keygen "$work/k.key" 2>/dev/null

echo "making inputs: 1000 x 100 KiB, 1 x $big_mib MiB (random bytes)"
mkdir -p "$work/small"
head -c $((1000 * 100 * 1024)) /dev/urandom | split -b $((100 * 1024)) -a 3 -d - "$work/small/f"
mkdir -p "$work/bigdir"
head -c $((big_mib * 1024 * 1024)) /dev/urandom >"$work/bigdir/big.bin"
cat "$work"/small/* "$work/bigdir/big.bin" >/dev/null # warm the page cache

now() { date +%s.%N; }
# t CMD... : prints the seconds CMD took
t() { local s e; sync; s=$(now); "$@" >/dev/null 2>&1; e=$(now); echo "$e - $s" | bc -l; }
cpsync() { cp -r "$1" "$2" && sync; }

report() { # name bytes cp_seconds cp_sync_seconds s3crypt_seconds
	awk -v n="$1" -v b="$2" -v c="$3" -v cs="$4" -v s="$5" 'BEGIN {
		mib = b / 1048576
		printf "%-22s cp -r %6.2fs %6.1f MiB/s | cp -r+sync %6.2fs %6.1f MiB/s | s3crypt %6.2fs %6.1f MiB/s | s3crypt/cp %.2f, s3crypt/(cp+sync) %.2f\n",
			n, c, mib / c, cs, mib / cs, s, mib / s, c / s, cs / s }'
}

for suite in 0x0478 0x0578; do
	echo "== suite $suite, nproc $(nproc)"
	rm -rf "$work/cp1" "$work/enc1" "$work/cp2" "$work/enc2"
	c=$(t cp -r "$work/small" "$work/cp1")
	rm -rf "$work/cp1"
	cs=$(t cpsync "$work/small" "$work/cp1")
	s=$(t "$s3c" encrypt --quiet --suite "$suite" --key "aes:$work/k.key" "$work/small" "$work/enc1")
	[ "$(ls "$work/enc1" | wc -l)" = 1000 ] || { echo "small: wrong output count"; exit 1; }
	report "1000 x 100 KiB files" $((1000 * 100 * 1024)) "$c" "$cs" "$s"
	rm -rf "$work/cp1" "$work/enc1"
	[ "$big_mib" -gt 0 ] || continue
	c=$(t cp -r "$work/bigdir" "$work/cp2")
	rm -rf "$work/cp2"
	cs=$(t cpsync "$work/bigdir" "$work/cp2")
	s=$(t "$s3c" encrypt --quiet --suite "$suite" --key "aes:$work/k.key" "$work/bigdir" "$work/enc2")
	[ -s "$work/enc2/big.bin.enc" ] || { echo "big: no output"; exit 1; }
	report "1 x $big_mib MiB file" $((big_mib * 1024 * 1024)) "$c" "$cs" "$s"
	rm -rf "$work/cp2" "$work/enc2"
done
