#!/usr/bin/env bash
# Runs every C test binary in the given directory. A binary exits 0 when all its cases passed;
# it prints its own "PASS name"/"FAIL name: why" lines. The last line is the summary CI reads.
set -u
dir=${1:?usage: run-unit.sh DIR}
passed=0; failed=0
for t in "$dir"/*; do
  [ -x "$t" ] || continue
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | sed "s|^|[$(basename "$t")] |"
  p=$(printf '%s\n' "$out" | grep -c '^PASS' || true)
  f=$(printf '%s\n' "$out" | grep -c '^FAIL' || true)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "[$(basename "$t")] FAIL exit status $rc"; fi
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
