#!/usr/bin/env bash
# benchmarks/libsls/run.sh KARAF_HOME [ROUNDS] — sls_checkpoint round-trip latency against a running
# SLS distribution, for the memory and the slos backend (partitions 9101/9102 are created and deleted).
set -euo pipefail
cd "$(dirname "$0")"
K=${1:?usage: run.sh KARAF_HOME [ROUNDS]}; R=${2:-50}
N=../../native
cc -O2 -Wall -Wextra -I$N/libsls -o bench_sls_checkpoint bench_sls_checkpoint.c -L$N/build -lsls -Wl,-rpath,$(cd $N/build && pwd)
export SLS_CONTROL_SOCKET=$K/data/sls/control.sock
for b in memory slos; do
  oid=$([ $b = memory ] && echo 9101 || echo 9102)
  "$K/bin/client" "sls:partadd -o $oid -b $b" >/dev/null
  echo -n "$b: "; ./bench_sls_checkpoint $oid "$R" || true
  "$K/bin/client" "sls:partdel -o $oid" >/dev/null
done
