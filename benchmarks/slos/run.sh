#!/bin/sh
# SLOS write/read throughput next to dd on the same filesystem.
# Usage: benchmarks/slos/run.sh [store-dir] [MiB...]   (default: /var/tmp/slos-bench, 64 1024)
# Needs: mvn -q install -pl bundles/sls-backend-slos (for target/classes) and root for drop_caches.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${1:-/var/tmp/slos-bench}
shift 2>/dev/null || true
sizes=${*:-64 1024}
mkdir -p "$dir"
cp="$root/bundles/sls-backend-slos/target/classes:$HOME/.m2/repository/org/sls/sls-api/0.1.0-SNAPSHOT/sls-api-0.1.0-SNAPSHOT.jar:$HOME/.m2/repository/org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.jar"
out=$(mktemp -d)
javac -d "$out" -cp "$cp" "$here/SlosBench.java"
echo "machine: $(nproc) cores, $(uname -r), store dir $dir on $(df -T "$dir" | awk 'NR==2 {print $1" ("$2")"}')"
for n in $sizes; do
  printf 'dd %5d MiB: ' "$n"
  dd if=/dev/zero of="$dir/dd.test" bs=1M count="$n" conv=fdatasync 2>&1 | tail -1
  rm -f "$dir/dd.test"
done
java -Xmx512m -cp "$out:$cp" org.sls.backend.slos.internal.SlosBench "$dir" $sizes 2>/dev/null
rm -rf "$out"
