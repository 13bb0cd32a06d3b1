#!/usr/bin/env bash
# Continuous delta checkpoints through Karaf, end to end: what `sls:partadd -o OID -b BACKEND -d
# -t PERIOD` keeps up with on this machine.
#
#   benchmarks/karaf/continuous.sh [-b memory|slos] [-t period-ms] [-s seconds] [-w warm-up-s]
#
# Uses the built distribution (karaf-dist/target/assembly; build it with the README's first
# command or `mvn -q package -DskipTests`). Starts it when it is not running (and stops it again
# afterwards), starts native/build/tests/prog/rst_counter (16 MiB array, one CPU-bound thread),
# puts it in a new partition and lets it run for the warm-up. Then it reads the partition's
# Epochs and Skipped columns, waits the measuring time and reads them again: every period of the
# partition's schedule is either a taken epoch or a counted skip, so the two differences give the
# share of periods that got their checkpoint. Finally it verifies the program: SIGUSR2 makes
# rst_counter check its counter and array, and it must print PASS.
#
# Baseline in the same run: `sls-engine deltas -p PERIOD` on the same process without Karaf (one
# delta capture per period in one process, page file on tmpfs): its median stop and whole-call
# time are what the engine itself needs per epoch.
#
# Prints one Markdown table. Root; the machine should otherwise be quiet.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
asm="$root/karaf-dist/target/assembly"
prog="$root/native/build/tests/prog/rst_counter"
engine="$root/native/build/sls-engine"
backend=memory period=10 seconds=60 warmup=5 oid=9907
while getopts "b:t:s:w:" o; do
    case "$o" in
        b) backend="$OPTARG" ;;
        t) period="$OPTARG" ;;
        s) seconds="$OPTARG" ;;
        w) warmup="$OPTARG" ;;
        *) echo "usage: $0 [-b memory|slos] [-t period-ms] [-s seconds] [-w warm-up-s]" >&2; exit 2 ;;
    esac
done
for f in "$asm/bin/client" "$prog" "$engine"; do
    [ -x "$f" ] || { echo "continuous.sh: $f missing: build first (README)" >&2; exit 1; }
done

client() { "$asm/bin/client" "$@"; }
started_karaf=false
pid=""
cleanup() {
    client "sls:partdel -o $oid" >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    if $started_karaf; then "$asm/bin/stop" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if ! client "sls:info" >/dev/null 2>&1; then
    "$asm/bin/start"
    started_karaf=true
    for _ in $(seq 1 120); do client "sls:info" >/dev/null 2>&1 && break; sleep 1; done
    client "sls:info" >/dev/null
fi

out="$(mktemp)"
"$prog" >"$out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q READY "$out" && break; sleep 0.1; done

# Baseline: the engine alone, 200 delta epochs one period apart.
shm="$(mktemp -d /dev/shm/sls-bench.XXXXXX)"
base="$("$engine" deltas -n 200 -p "$period" -o "$shm" "$pid")"
rm -rf "$shm"
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
base_stop="$(echo "$base" | awk '$3 == "delta" && $4 == 1 {print $6}' | median)"
base_call="$(echo "$base" | awk '$3 == "delta" && $4 == 1 {print $9}' | median)"

client "sls:partdel -o $oid" >/dev/null 2>&1 || true
client "sls:partadd -o $oid -b $backend -d -t $period" >/dev/null
client "sls:attach -o $oid -p $pid" >/dev/null
sleep "$warmup"
row() { client "sls:partitions --no-format" | awk -F'\t' -v o="$oid" '$1+0 == o {print $7+0, $8+0}'; }
# The client itself takes a second or so, so the measured span is timed rather than assumed.
read -r t0 s0 < <(row)
start_ns="$(date +%s%N)"
sleep "$seconds"
read -r t1 s1 < <(row)
elapsed="$(( ($(date +%s%N) - start_ns) / 1000000000 ))"
last_stop="$(client "sls:partitions --no-format" | awk -F'\t' -v o="$oid" '$1+0 == o {gsub(/^ +| +$/, "", $9); print $9}')"
client "sls:partdel -o $oid" >/dev/null
kill -USR2 "$pid"
wait "$pid" || true
verdict="$(grep -E '^(PASS|FAIL)' "$out" | head -1)"
pid=""
rm -f "$out"

taken=$((t1 - t0)) skipped=$((s1 - s0))
echo "| backend | period | measured | epochs taken | skipped | periods with a checkpoint | engine alone: median stop / call | last stop | program after |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
awk -v b="$backend" -v p="$period" -v s="$elapsed" -v t="$taken" -v k="$skipped" -v bs="$base_stop" \
    -v bc="$base_call" -v ls="$last_stop" -v v="$verdict" 'BEGIN {
    printf "| %s | %d ms | %d s | %d | %d | %.2f %% | %s / %s ms | %s | %s |\n", b, p, s, t, k,
        100.0 * t / (t + k), bs, bc, ls, v }'
