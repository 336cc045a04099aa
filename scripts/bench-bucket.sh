#!/usr/bin/env bash
# Bucket-scale measurement (issue 13): N objects (default 100000) of
# OBJECT_SIZE bytes (default 4096, random) in a local versitygw over TLS
# (scripts/s3-server.sh) with kmslocal as KMS, all in one run:
#   a) aws s3 cp --recursive s3://src/ s3://plain-copy/, the baseline (a
#      server-side CopyObject per object: no data passes through the client)
#   b) s3crypt encrypt s3://src/ s3://enc/ under a KMS key, default flags
#      (the data key cache is on), and b') again with --cache-max-age 0 (one
#      data key per object); KMS GenerateDataKey calls of each
#   c) --shard 0/2 and 1/2 as two processes at once: the union of their
#      outputs is every input exactly once
#   d) kill -9 at about half way, rerun with --skip-existing: the output set
#      is complete and no object written before the kill was written again
#      (versitygw posix: the object file keeps its inode and mtime)
# and decrypts s3://enc/p000/ back to compare it with the plaintext.
# Each run's wall time is measured around it, its peak RSS and CPU time by
# /usr/bin/time -v, and the CPU time versitygw and kmslocal spent meanwhile
# from /proc (the machine's load moves wall times; CPU times less so).
# Sources are written straight into versitygw's posix data directory (it
# serves the files of a bucket directory as objects: no ETag, as nothing
# reads one) and checked by an S3 listing. Every check prints PASS or FAIL;
# the exit status is 1 when one failed.
#
# Usage: bash scripts/bench-bucket.sh [N]
# Environment: STAGES (default "a b b2 c d rt": which of a), b), b'), c),
# d) and the round trip run); OBJECT_SIZE (bytes, default 4096); KEEP=1 keeps the work
# directory (logs, listings, audit logs) and prints its path.
# Needs go, openssl, curl, the aws CLI and /usr/bin/time (GNU time);
# scripts/s3-server.sh installs versitygw with go install when missing.
# Space in /tmp: about 65 KiB per object at 4 KiB (six buckets), 6.5 GB for
# N=100000. N=20000 took 17 minutes on 2 busy CPUs; a) alone 3.5 of them.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-100000}
SIZE=${OBJECT_SIZE:-4096}
PER_DIR=1000 # objects per prefix p000/, p001/, …
case $N$SIZE in *[!0-9]*) echo "usage: $0 [N]; N and OBJECT_SIZE are positive integers" >&2; exit 2 ;; esac
[ "$N" -gt 1 ] && [ "$SIZE" -gt 0 ] || { echo "N must be at least 2, OBJECT_SIZE at least 1" >&2; exit 2; }
for c in go openssl curl aws; do
	command -v "$c" >/dev/null || { echo "$c not found: install it first" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) not found: install it first" >&2; exit 1; }

work=$(mktemp -d /tmp/s3crypt-bucket.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${KEEP:-}" ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
STAGES=${STAGES:-a b b2 c d rt}
has() { [[ " $STAGES " == *" $1 "* ]]; }
now() { date +%s.%N; }

step "build"
go build -o "$work/s3crypt" ./cmd/s3crypt
go build -o "$work/kmslocal" ./cmd/kmslocal
s3c=$work/s3crypt

step "kmslocal"
keyid=00000000-0000-4000-8000-0000000000b1
printf '{"region":"us-east-1","account":"111122223333","keys":[{"id":"%s","material":"%s"}]}\n' \
	"$keyid" "$(openssl rand -base64 32)" >"$work/seed.json"
"$work/kmslocal" --addr 127.0.0.1:0 --seed "$work/seed.json" >"$work/kmslocal.out" 2>"$work/kmslocal.log" &
kmspid=$!
pids+=($kmspid)
for _ in $(seq 50); do grep -qs listening "$work/kmslocal.out" && break; sleep 0.1; done
kms=$(sed -n 's/^kmslocal listening on //p' "$work/kmslocal.out")
[ -n "$kms" ] || { cat "$work/kmslocal.log" >&2; exit 1; }
arn=arn:aws:kms:us-east-1:111122223333:key/$keyid
echo "kmslocal at $kms, key $arn"
# kmscount [OP]: the server's count of OP calls (of all calls without OP).
kmscount() {
	curl -sf "$kms/_kmslocal/counts" | tr -d '{}\n' | tr ',' '\n' |
		awk -F: -v op="${1:-}" '{ if (op == "" || $1 == "\"" op "\"") n += $2 } END { print n + 0 }'
}

step "versitygw"
bash scripts/s3-server.sh "$work/s3" >/dev/null
source "$work/s3/env"
pids+=("$PHICRYPT_S3_PID")
data=$work/s3/data
s3=$PHICRYPT_S3_ENDPOINT
echo "versitygw at $s3"
# This server's credentials and CA only, for the aws CLI and s3crypt alike.
export AWS_ACCESS_KEY_ID=$PHICRYPT_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$PHICRYPT_S3_SECRET_KEY
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=$PHICRYPT_S3_CA
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_KMS
awss3() { aws --endpoint-url "$s3" "$@"; }
for b in src plain-copy enc enc-cache shard resume; do awss3 s3 mb "s3://$b" >/dev/null; done
# lskeys BUCKET: the bucket's keys, sorted, one a line (an S3 listing).
lskeys() { awss3 s3 ls --recursive "s3://$1/" | awk '{ print $4 }' | LC_ALL=C sort; }
# fscount BUCKET: object files in versitygw's directory of BUCKET.
fscount() { find "$data/$1" -path "$data/$1/.sgwtmp" -prune -o -type f -print | wc -l; }

step "making $N objects of $SIZE bytes in s3://src/"
s=$(now)
left=$N
for ((d = 0; left > 0; d++)); do
	n=$((left < PER_DIR ? left : PER_DIR))
	dir=$(printf '%s/src/p%03d' "$data" "$d")
	mkdir -p "$dir"
	head -c $((n * SIZE)) /dev/urandom | split -b "$SIZE" -d -a 4 - "$dir/o"
	left=$((left - n))
done
lskeys src >"$work/src.keys"
sed 's/$/.enc/' "$work/src.keys" >"$work/want.keys"
echo "$(wc -l <"$work/src.keys") objects listed in $(awk -v s="$s" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }')s"
[ "$(wc -l <"$work/src.keys")" -eq "$N" ] || { echo "s3://src/ lists $(wc -l <"$work/src.keys") objects, want $N" >&2; exit 1; }
find "$data/src" -type f -exec cat {} + >/dev/null # the same warm page cache for every run

# timed NAME CMD...: runs CMD with stdout, stderr to $work/NAME.{out,err};
# writes its wall seconds to NAME.secs and /usr/bin/time -v's report to
# NAME.time. Returns CMD's status.
timed() {
	local name=$1 s rc=0
	shift
	s=$(now)
	/usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
	awk -v s="$s" -v e="$(now)" 'BEGIN { printf "%.2f\n", e - s }' >"$work/$name.secs"
	return $rc
}
secs() { cat "$work/$1.secs"; }
rss_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/$1.time"; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
# cpu NAME: user + system CPU seconds of the run (its process and children).
cpu() { awk -F': ' '/(User|System) time/ { t += $2 } END { printf "%.1f", t }' "$work/$1.time"; }
# srvticks: CPU clock ticks used so far by versitygw and kmslocal together.
srvticks() { cat "/proc/$PHICRYPT_S3_PID/stat" "/proc/$kmspid/stat" | awk '{ t += $14 + $15 } END { print t }'; }
# srvcpu NAME T0: the servers' CPU seconds since srvticks printed T0, to NAME.srv.
srvcpu() { awk -v a="$2" -v b="$(srvticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / hz }' >"$work/$1.srv"; }
# field NAME KEY: integer KEY of the --json summary in NAME.out.
field() { { grep -o "\"$2\":[0-9]*" "$work/$1.out" || true; } | head -1 | cut -d: -f2; }

fails=0
checks=()
check() { # NAME OK(0|1) DETAIL
	if [ "$2" = 1 ]; then checks+=("$(printf '%-34s PASS  %s' "$1" "$3")"); else
		checks+=("$(printf '%-34s FAIL  %s' "$1" "$3")"); fails=$((fails + 1)); fi
	echo "${checks[-1]}"
}
# sameset NAME BUCKET WANTFILE: the bucket lists exactly the keys of WANTFILE.
sameset() {
	lskeys "$2" >"$work/$2.keys"
	local miss extra
	miss=$(LC_ALL=C comm -23 "$3" "$work/$2.keys" | wc -l)
	extra=$(LC_ALL=C comm -13 "$3" "$work/$2.keys" | wc -l)
	check "$1" "$([ "$miss" = 0 ] && [ "$extra" = 0 ] && echo 1 || echo 0)" "$(wc -l <"$work/$2.keys") listed, $miss missing, $extra extra"
}

if has a; then
step "a) aws s3 cp --recursive (baseline)"
t0=$(srvticks)
timed cp aws --endpoint-url "$s3" --only-show-errors s3 cp --recursive s3://src/ s3://plain-copy/ || { cat "$work/cp.err" >&2; exit 1; }
srvcpu cp "$t0"
echo "$(secs cp)s, peak RSS $(rss_mib cp) MiB, CPU $(cpu cp)s, servers' CPU $(cat "$work/cp.srv")s"
sameset "a) plain copy complete" plain-copy "$work/src.keys"
fi

enc=("$s3c" encrypt --key "$arn" --kms-endpoint-url "$kms" --endpoint-url "$s3" --json)

if has b; then
step "b) s3crypt encrypt s3://src/ s3://enc/ (defaults)"
k0=$(kmscount GenerateDataKey) a0=$(kmscount) t0=$(srvticks)
timed enc "${enc[@]}" --progress lines s3://src/ s3://enc/ || { tail "$work/enc.err" >&2; exit 1; }
srvcpu enc "$t0"
gdk=$(($(kmscount GenerateDataKey) - k0)) allk=$(($(kmscount) - a0))
grep progress: "$work/enc.err" | tail -3 || true
echo "$(secs enc)s, peak RSS $(rss_mib enc) MiB, CPU $(cpu enc)s, servers' CPU $(cat "$work/enc.srv")s, $gdk GenerateDataKey calls ($allk KMS calls in all); summary $(cat "$work/enc.out")"
check "b) ok = N, none failed" "$([ "$(field enc ok)" = "$N" ] && [ "$(field enc failed)" = 0 ] && echo 1 || echo 0)" "ok $(field enc ok), failed $(field enc failed)"
sameset "b) encrypted set complete" enc "$work/want.keys"
fi

if has b2; then
step "b') s3crypt encrypt s3://src/ s3://enc-cache/ --cache-max-age 0"
k0=$(kmscount GenerateDataKey) a0=$(kmscount) t0=$(srvticks)
timed encc "${enc[@]}" --progress lines --cache-max-age 0 s3://src/ s3://enc-cache/ || { tail "$work/encc.err" >&2; exit 1; }
srvcpu encc "$t0"
gdkc=$(($(kmscount GenerateDataKey) - k0)) allkc=$(($(kmscount) - a0))
echo "$(secs encc)s, peak RSS $(rss_mib encc) MiB, CPU $(cpu encc)s, servers' CPU $(cat "$work/encc.srv")s, $gdkc GenerateDataKey calls ($allkc KMS calls in all); summary $(cat "$work/encc.out")"
check "b') ok = N, none failed" "$([ "$(field encc ok)" = "$N" ] && [ "$(field encc failed)" = 0 ] && echo 1 || echo 0)" "ok $(field encc ok), failed $(field encc failed)"
fi

if has c; then
step "c) two shards at once to s3://shard/"
s=$(now) t0=$(srvticks)
timed shard0 "${enc[@]}" --progress none --shard 0/2 --metadata-output "$work/shard0.audit" s3://src/ s3://shard/ &
p0=$!
pids+=($p0)
timed shard1 "${enc[@]}" --progress none --shard 1/2 --metadata-output "$work/shard1.audit" s3://src/ s3://shard/ &
p1=$!
pids+=($p1)
r0=0 r1=0
wait $p0 || r0=$?
wait $p1 || r1=$?
srvcpu shards "$t0"
shardsecs=$(awk -v s="$s" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }')
echo "shard 0: exit $r0, $(secs shard0)s, RSS $(rss_mib shard0) MiB, $(cat "$work/shard0.out")"
echo "shard 1: exit $r1, $(secs shard1)s, RSS $(rss_mib shard1) MiB, $(cat "$work/shard1.out")"
o0=$(field shard0 ok) o1=$(field shard1 ok)
check "c) shards: ok0 + ok1 = N" "$([ "$r0$r1" = 00 ] && [ $((o0 + o1)) = "$N" ] && [ "$o0" -gt 0 ] && [ "$o1" -gt 0 ] && echo 1 || echo 0)" "$o0 + $o1, failed $(field shard0 failed) + $(field shard1 failed)"
for i in 0 1; do grep -o '"input":"[^"]*"' "$work/shard$i.audit" | LC_ALL=C sort >"$work/shard$i.inputs"; done
both=$(LC_ALL=C comm -12 "$work/shard0.inputs" "$work/shard1.inputs" | wc -l)
twice=$(cat "$work/shard0.inputs" "$work/shard1.inputs" | LC_ALL=C sort | uniq -d | wc -l)
check "c) shards disjoint (audit logs)" "$([ "$both" = 0 ] && [ "$twice" = 0 ] && echo 1 || echo 0)" "$both inputs in both shards' logs, $twice logged twice"
sameset "c) union = every input" shard "$work/want.keys"
fi

if has d; then
step "d) kill -9 at half way, rerun with --skip-existing"
"${enc[@]}" --progress lines --progress-interval 100ms --metadata-output "$work/resume1.audit" s3://src/ s3://resume/ \
	>"$work/resume1.out" 2>"$work/resume1.err" &
rp=$!
pids+=($rp)
killed=0
while kill -0 "$rp" 2>/dev/null; do
	done_=$(sed -n 's/.*progress: \([0-9]*\)\/.*/\1/p' "$work/resume1.err" | tail -1)
	if [ "${done_:-0}" -ge $((N / 2)) ]; then
		kill -9 "$rp" && killed=1
		break
	fi
	sleep 0.05
done
wait "$rp" 2>/dev/null || true
k=$(fscount resume)
echo "killed: $killed, at $k objects written"
check "d) killed part way" "$([ "$killed" = 1 ] && [ "$k" -gt 0 ] && [ "$k" -lt "$N" ] && echo 1 || echo 0)" "$k of $N written when killed"
# Each object file as it was before the rerun: name, inode, mtime.
snap() { (cd "$data/resume" && find . -path ./.sgwtmp -prune -o -type f -printf '%P %i %T@\n' | LC_ALL=C sort); }
snap >"$work/resume.before"
timed resume2 "${enc[@]}" --progress none --skip-existing --metadata-output "$work/resume2.audit" s3://src/ s3://resume/ || true
echo "rerun: $(secs resume2)s, $(cat "$work/resume2.out")"
snap >"$work/resume.after"
sameset "d) resumed set complete" resume "$work/want.keys"
changed=$(LC_ALL=C comm -23 "$work/resume.before" "$work/resume.after" | wc -l)
ok2=$(field resume2 ok) sk2=$(field resume2 skipped) f2=$(field resume2 failed)
check "d) nothing written twice" "$([ "$changed" = 0 ] && [ "$ok2" = $((N - k)) ] && [ "$sk2" = "$k" ] && [ "$f2" = 0 ] && echo 1 || echo 0)" \
	"$changed pre-kill objects rewritten; rerun ok $ok2 (want $((N - k))), skipped $sk2 (want $k), failed $f2"
dup=$(cat "$work/resume1.audit" "$work/resume2.audit" | grep '"result":"ok"' | grep -o '"output":"[^"]*"' | LC_ALL=C sort | uniq -d | wc -l)
check "d) audit logs: each output once" "$([ "$dup" = 0 ] && echo 1 || echo 0)" "$dup outputs logged ok in both runs"
fi

if has rt; then
step "round trip: decrypt s3://enc/p000/ and compare"
"$s3c" decrypt --key "$arn" --kms-endpoint-url "$kms" --endpoint-url "$s3" --quiet s3://enc/p000/ "$work/dec" &&
	diff -r "$data/src/p000" "$work/dec" >/dev/null && rt=1 || rt=0
check "round trip p000/" "$rt" "$(find "$work/dec" -type f 2>/dev/null | wc -l) objects decrypted and compared"
fi

step "results: N=$N objects of $SIZE bytes, $(nproc) CPUs, versitygw over TLS + kmslocal"
row() { printf '%-44s %8s %9s %10s %8s %11s %8s\n' "$@"; }
row run seconds objects/s "peak RSS" "CPU s" "servers CPU" "KMS GDK"
ra=0
if has a; then
	ra=$(rate "$N" "$(secs cp)")
	row "a) aws s3 cp --recursive (server-side copy)" "$(secs cp)" "$ra" "$(rss_mib cp) MiB" "$(cpu cp)" "$(cat "$work/cp.srv")" -
fi
if has b; then
	rb=$(rate "$N" "$(secs enc)")
	row "b) s3crypt encrypt (defaults: cache on)" "$(secs enc)" "$rb" "$(rss_mib enc) MiB" "$(cpu enc)" "$(cat "$work/enc.srv")" "$gdk"
	awk -v a="$ra" -v b="$rb" 'BEGIN { if (a > 0) printf "ratio b/a %.2f (objects/s)\n", b / a }'
	echo "KMS calls in all, b): $allk"
fi
if has b2; then
	rc=$(rate "$N" "$(secs encc)")
	row "b') s3crypt encrypt --cache-max-age 0" "$(secs encc)" "$rc" "$(rss_mib encc) MiB" "$(cpu encc)" "$(cat "$work/encc.srv")" "$gdkc"
	awk -v a="$ra" -v c="$rc" 'BEGIN { if (a > 0) printf "ratio b'"'"'/a %.2f (objects/s)\n", c / a }'
	echo "KMS calls in all, b'): $allkc"
fi
if has c; then
	row "c) 2 shards at once (wall; each's RSS)" "$shardsecs" "$(rate "$N" "$shardsecs")" "$(rss_mib shard0)/$(rss_mib shard1) MiB" \
		"$(awk -v a="$(cpu shard0)" -v b="$(cpu shard1)" 'BEGIN { printf "%.1f", a + b }')" "$(cat "$work/shards.srv")" -
fi
printf '%s\n' "${checks[@]}"
[ "$fails" = 0 ] || { echo "$fails checks FAILED"; exit 1; }
echo "all checks passed"
