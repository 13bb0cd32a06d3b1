#!/usr/bin/env bash
# Dirty-page tracking benchmark: builds the engine (native/) and trk_bench, then measures collect,
# freeze, delta-stop and pre-copy-stop times for uffd and digest tracking at 64 MiB and 1 GiB with
# 1 % and 10 % of the pages dirtied between collects. Prints a markdown table.
#   benchmarks/tracking/run.sh                      # defaults: -s 64 -s 1024 -r 30, uffd and digest
#   benchmarks/tracking/run.sh -s 64 -r 100 -m uffd # one size, more rounds, one mechanism
# Needs root (ptrace, pidfd_getfd). Run on a quiet machine: the numbers are wall-clock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
native=$(cd "$here/../../native" && pwd)
make -C "$native" -j2 all >/dev/null
bin=$(mktemp -d)/trk_bench
trap 'rm -rf "$(dirname "$bin")"' EXIT
gcc -O2 -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -I"$native/include" -I"$native/src" \
    -o "$bin" "$here/trk_bench.c" -L"$native/build" -lslsnative -Wl,-rpath,"$native/build"
"$bin" "$native/build/tests/prog/trk_target" "$@"
