#!/usr/bin/env bash
# CLI benchmark: s3crypt local->local encrypt of (a) 1,000 files of 100 KiB
# and (b) one 2 GiB file (512 MiB when /tmp has under 10 GiB free), timed
# against `cp -r` of the same files in the same run, inputs warm in the page
# cache for both. s3crypt fsyncs every output before it reports it done,
# which cp does not: so cp is timed twice, alone (data left in the page
# cache) and followed by `sync` (data on disk, as s3crypt leaves it). Every
# timing starts after a `sync`, so earlier writes are not flushed on its
# clock.
#
# The small files are timed ROUNDS times, cp -r + sync, the ceiling, this
# tree's s3crypt and (OLD) an older binary in turns, the order rotating
# each round; every
# run writes a directory of its own, kept until the end: deleting outputs
# between runs makes ext4 reuse the inodes just freed, which slows whoever
# comes next (cp -r, in older versions of this script). Each line gives the
# ratio (cp -r + sync seconds) / (s3crypt seconds) of its round, x-ceil,
# (ceiling seconds) / (s3crypt seconds), and x-ceil-cpu, the same of the
# CPU seconds each used (steadier than wall time on a VM whose disk
# drifts: s3crypt's own cost beside the least work); the last lines the medians
# of the rounds and, with OLD, the median of the rounds' new/old seconds,
# which a shared machine's load disturbs least.
#
# The ceiling is bench/cmd/cliceiling: the same files read, sealed with raw
# AES-256-GCM (and, for a signing suite, a P-384 key pair, SHA-384 and a
# signature per file, a large file's hash beside its sealing) and written
# through unnamed files linked into place, 4 files per CPU at once, one
# syncfs at the end; no message format beyond its cryptography. What
# s3crypt takes beyond it is s3crypt's; up to it, the machine's (its ratio
# to cp -r + sync is printed too). The big file is timed with it once.
#
# Inputs and outputs are never deleted before the end: ext4 skips inodes
# freed in the last minutes when it allocates new ones, at a cost in CPU
# to whoever creates files next. For the same reason, wait a few minutes
# after deleting many files (or a previous run of this script) before
# timing.
#
# Usage: bash scripts/bench-cli.sh
# env: OLD=path of another s3crypt binary (built from an older revision,
#      say: git worktree add /tmp/old REV && (cd /tmp/old && go build -o
#      /tmp/s3crypt-old ./cmd/s3crypt)) to time in turns with this tree's;
#      ROUNDS=n rounds of the small files (default 1, 5 with OLD);
#      SUITES="0x0478 0x0578" the suites timed;
#      DECRYPT=1 also times, each round, decrypting the round's encrypted
#      small files (each binary its own outputs), against the same cp -r + sync,
#      and decrypting the big file; with OLD the big file is timed with both;
#      BIG_MIB=n forces the big file size; BIG_MIB=0 times the small files only.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/s3crypt-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

avail_kib=$(df -Pk /tmp | awk 'NR==2 {print $4}')
big_mib=${BIG_MIB:-$(( avail_kib > 10 * 1024 * 1024 ? 2048 : 512 ))}
old=${OLD:-}
rounds=${ROUNDS:-$([ -n "$old" ] && echo 5 || echo 1)}
suites=${SUITES:-0x0478 0x0578}

go build -o "$work/s3crypt" ./cmd/s3crypt
go build -o "$work/cliceiling" ./bench/cmd/cliceiling
new="$work/s3crypt"
if [ -n "$old" ]; then
	cp "$old" "$work/s3crypt-old"
	old="$work/s3crypt-old"
fi
"$new" keygen "$work/k.key" 2>/dev/null

echo "making inputs: 1000 x 100 KiB, 1 x $big_mib MiB (random bytes)"
mkdir -p "$work/small"
head -c $((1000 * 100 * 1024)) /dev/urandom | split -b $((100 * 1024)) -a 3 -d - "$work/small/f"
mkdir -p "$work/bigdir"
head -c $((big_mib * 1024 * 1024)) /dev/urandom >"$work/bigdir/big.bin"
cat "$work"/small/* "$work/bigdir/big.bin" >/dev/null # warm the page cache
echo "load: $(uptime | sed 's/.*load/load/'), nproc $(nproc)"

now() { date +%s.%N; }
# t CMD... : prints the seconds CMD took, and leaves in $work/cpu the CPU
# seconds it used (user + system, its children's included): on a shared
# VM whose disk drifts, CPU is the steadier measure of a program's own cost
t() {
	local s e TIMEFORMAT='%3U %3S'
	sync
	s=$(now)
	{ time "$@" >/dev/null 2>&1; } 2>"$work/cpu.raw"
	e=$(now)
	awk '{ print $1 + $2 }' "$work/cpu.raw" >"$work/cpu"
	echo "$e - $s" | bc -l
}
cpu() { cat "$work/cpu"; }
cpsync() { cp -r "$1" "$2" && sync; }
enc() { # binary suite src dst
	"$1" encrypt --quiet --suite "$2" --key "aes:$work/k.key" "$3" "$4"
}
ceil() { # suite src dst
	local mode=gcm
	case $1 in 0x0214 | 0x0346 | 0x0378 | 0x0578) mode=signed ;; esac
	"$work/cliceiling" "$mode" "$2" "$3"
}
dec() { # binary src dst
	"$1" decrypt --quiet --key "aes:$work/k.key" "$2" "$3"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

report() { # name bytes cp_seconds cp_sync_seconds s3crypt_seconds [ceiling_seconds s3crypt_cpu ceiling_cpu]
	awk -v n="$1" -v b="$2" -v c="$3" -v cs="$4" -v s="$5" -v x="${6:-}" -v sc="${7:-}" -v xc="${8:-}" 'BEGIN {
		mib = b / 1048576
		printf "%-24s cp -r %6.2fs %6.1f MiB/s | cp -r+sync %6.2fs %6.1f MiB/s | s3crypt %6.2fs %6.1f MiB/s | s3crypt/cp %.2f, s3crypt/(cp+sync) %.2f",
			n, c, mib / c, cs, mib / cs, s, mib / s, c / s, cs / s
		if (x != "")
			printf " | ceiling %5.2fs, x-ceil %.2f", x, x / s
		if (sc != "" && xc != "" && sc > 0)
			printf " | CPU s3crypt %.2fs, ceiling %.2fs, x-ceil-cpu %.2f", sc, xc, xc / sc
		printf "\n" }'
}

small=$((1000 * 100 * 1024))
for suite in $suites; do
	echo "== suite $suite: 1000 x 100 KiB files, $rounds round(s)"
	for f in new old dnew dold newold dnewold ceil xceil xceilcpu; do : >"$work/ratios.$f"; done
	for r in $(seq 1 "$rounds"); do
		c=$(t cp -r "$work/small" "$work/cp.$suite.$r")
		declare -A s=()
		# The order rotates: cp -r + sync first, then s3crypt(s), and back.
		runs=(cs ceil new)
		[ -n "$old" ] && runs=(cs ceil new old)
		n=${#runs[@]}
		for i in $(seq 0 $((n - 1))); do
			k=${runs[$(((i + r) % n))]}
			case $k in
			cs) s[cs]=$(t cpsync "$work/small" "$work/cs.$suite.$r") ;;
			ceil)
				s[ceil]=$(t ceil "$suite" "$work/small" "$work/ceil.$suite.$r")
				s[ceilcpu]=$(cpu)
				;;
			new)
				s[new]=$(t enc "$new" "$suite" "$work/small" "$work/new.$suite.$r")
				s[newcpu]=$(cpu)
				;;
			old) s[old]=$(t enc "$old" "$suite" "$work/small" "$work/old.$suite.$r") ;;
			esac
		done
		[ "$(ls "$work/new.$suite.$r" | wc -l)" = 1000 ] || { echo "small: wrong output count"; exit 1; }
		[ "$(ls "$work/ceil.$suite.$r" | wc -l)" = 1000 ] || { echo "small: wrong ceiling output count"; exit 1; }
		report "round $r new" "$small" "$c" "${s[cs]}" "${s[new]}" "${s[ceil]}" "${s[newcpu]}" "${s[ceilcpu]}"
		echo "${s[cs]} / ${s[new]}" | bc -l >>"$work/ratios.new"
		echo "${s[cs]} / ${s[ceil]}" | bc -l >>"$work/ratios.ceil"
		echo "${s[ceil]} / ${s[new]}" | bc -l >>"$work/ratios.xceil"
		echo "${s[ceilcpu]} / ${s[newcpu]}" | bc -l >>"$work/ratios.xceilcpu"
		if [ -n "$old" ]; then
			report "round $r old" "$small" "$c" "${s[cs]}" "${s[old]}"
			echo "${s[cs]} / ${s[old]}" | bc -l >>"$work/ratios.old"
			echo "${s[new]} / ${s[old]}" | bc -l >>"$work/ratios.newold"
		fi
		if [ -n "${DECRYPT:-}" ]; then
			d=$(t dec "$new" "$work/new.$suite.$r" "$work/dnew.$suite.$r")
			report "round $r decrypt new" "$small" "$c" "${s[cs]}" "$d"
			echo "${s[cs]} / $d" | bc -l >>"$work/ratios.dnew"
			if [ -n "$old" ]; then
				do=$(t dec "$old" "$work/old.$suite.$r" "$work/dold.$suite.$r")
				report "round $r decrypt old" "$small" "$c" "${s[cs]}" "$do"
				echo "${s[cs]} / $do" | bc -l >>"$work/ratios.dold"
				echo "$d / $do" | bc -l >>"$work/ratios.dnewold"
			fi
		fi
		unset s
	done
	printf "suite %s, median of %d rounds: s3crypt/(cp -r+sync) new %.2f" "$suite" "$rounds" "$(median <"$work/ratios.new")"
	[ -n "$old" ] && printf ", old %.2f; new/old seconds %.2f" "$(median <"$work/ratios.old")" "$(median <"$work/ratios.newold")"
	echo
	printf "suite %s, median of %d rounds: ceiling/(cp -r+sync) %.2f, x-ceil (ceiling/s3crypt seconds) %.2f, x-ceil-cpu (CPU seconds) %.2f\n" "$suite" "$rounds" "$(median <"$work/ratios.ceil")" "$(median <"$work/ratios.xceil")" "$(median <"$work/ratios.xceilcpu")"
	if [ -n "${DECRYPT:-}" ]; then
		printf "suite %s, decrypt, median of %d rounds: s3crypt/(cp -r+sync) new %.2f" "$suite" "$rounds" "$(median <"$work/ratios.dnew")"
		[ -n "$old" ] && printf ", old %.2f; new/old seconds %.2f" "$(median <"$work/ratios.dold")" "$(median <"$work/ratios.dnewold")"
		echo
	fi
	[ "$big_mib" -gt 0 ] || continue
	c=$(t cp -r "$work/bigdir" "$work/cp2")
	rm -rf "$work/cp2"
	cs=$(t cpsync "$work/bigdir" "$work/cp2")
	s=$(t enc "$new" "$suite" "$work/bigdir" "$work/enc2")
	sc=$(cpu)
	[ -s "$work/enc2/big.bin.enc" ] || { echo "big: no output"; exit 1; }
	x=$(t ceil "$suite" "$work/bigdir" "$work/ceil2")
	report "1 x $big_mib MiB file" $((big_mib * 1024 * 1024)) "$c" "$cs" "$s" "$x" "$sc" "$(cpu)"
	if [ -n "${DECRYPT:-}" ]; then
		d=$(t dec "$new" "$work/enc2" "$work/dec2")
		report "1 x $big_mib MiB decrypt" $((big_mib * 1024 * 1024)) "$c" "$cs" "$d"
	fi
	if [ -n "$old" ]; then
		so=$(t enc "$old" "$suite" "$work/bigdir" "$work/enc2old")
		report "1 x $big_mib MiB file old" $((big_mib * 1024 * 1024)) "$c" "$cs" "$so"
		if [ -n "${DECRYPT:-}" ]; then
			do=$(t dec "$old" "$work/enc2old" "$work/dec2old")
			report "1 x $big_mib MiB decrypt old" $((big_mib * 1024 * 1024)) "$c" "$cs" "$do"
		fi
	fi
	rm -rf "$work/cp2" "$work/enc2" "$work/ceil2" "$work/dec2" "$work/enc2old" "$work/dec2old"
done
echo "load at the end: $(uptime | sed 's/.*load/load/')"
