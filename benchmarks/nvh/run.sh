#!/usr/bin/env bash
# nvh_checkpoint latency/throughput for 1, 64 and 512 MiB heaps next to
# `dd if=/dev/zero of=DIR/f bs=1M count=N conv=fdatasync` in the same directory, same run.
# Prints a markdown table.
#
#   benchmarks/nvh/run.sh [DIR] [SIZES_MIB...]     (default DIR: ${TMPDIR:-/tmp}/nvh-bench)
#
# Needs native/build/libsls.so (cd native && make). Each nvh figure is the median of REPS
# checkpoints (REPS=10 by default, 5 for 512 MiB) after two warm-up checkpoints, with every
# page of the heap present and dirtied, once back to back and once 50 ms apart; dd is the
# median of 3 runs, as dd itself reports its time (copy + fdatasync).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib="$root/native/build"
[ -f "$lib/libsls.so" ] || { echo "run.sh: $lib/libsls.so is not built (cd native && make)" >&2; exit 1; }
dir=${1:-${TMPDIR:-/tmp}/nvh-bench}
shift || true
sizes=${*:-1 64 512}
mkdir -p "$dir"
bin="$dir/nvh_bench"
gcc -O2 -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -I"$root/native/libsls" -o "$bin" "$here/nvh_bench.c" \
    -L"$lib" -lsls -Wl,-rpath,"$lib" -lpthread

dd_seconds() { # dd's own elapsed time (copy + fdatasync, without starting dd)
  dd if=/dev/zero of="$dir/f" bs=1M count="$1" conv="$2" 2>&1 | sed -n 's/.*copied, \([0-9.e-]*\) s.*/\1/p'
}
dd_median_ms() { # N new|overwrite: median of 3; "new" writes a fresh file each time (what the
  local t=()    # plain dd command does), "overwrite" rewrites the blocks of an existing one (what
  rm -f "$dir/f" # nvh_checkpoint does from its third checkpoint on)
  [ "$2" = overwrite ] && dd_seconds "$1" fdatasync >/dev/null
  for _ in 1 2 3; do
    if [ "$2" = new ]; then rm -f "$dir/f"; t+=("$(dd_seconds "$1" fdatasync)")
    else t+=("$(dd_seconds "$1" notrunc,fdatasync)"); fi
  done
  rm -f "$dir/f"
  printf '%s\n' "${t[@]}" | sort -g | sed -n 2p | awk '{printf "%.2f", $1 * 1000}'
}

fs=$(df -T "$dir" | awk 'NR==2 {print $2 " on " $1}')
echo "Directory: $dir ($fs), kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| heap | nvh_checkpoint back to back, median (min–max) | nvh throughput | nvh_checkpoint 50 ms apart, median | dd conv=fdatasync (new file) | dd throughput | dd conv=notrunc,fdatasync (overwrite) | dd throughput | nvh_open (load + CRC) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $sizes; do
  reps=10; [ "$n" -ge 512 ] && reps=5
  line=$("$bin" "$dir" "$n" "$reps")
  get() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$line"; }
  ddnew=$(dd_median_ms "$n" new)
  ddover=$(dd_median_ms "$n" overwrite)
  tp() { awk -v n="$n" -v ms="$1" 'BEGIN {printf "%.0f", n / (ms / 1000)}'; }
  printf '| %s MiB | %s ms (%s–%s) | %s MiB/s | %s ms | %s ms | %s MiB/s | %s ms | %s MiB/s | %s ms |\n' "$n" \
    "$(get ckpt_median_ms)" "$(get ckpt_min_ms)" "$(get ckpt_max_ms)" "$(get ckpt_mib_s)" "$(get idle_median_ms)" \
    "$ddnew" "$(tp "$ddnew")" "$ddover" "$(tp "$ddover")" "$(get open_ms)"
done
