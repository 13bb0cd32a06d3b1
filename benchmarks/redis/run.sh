#!/usr/bin/env bash
# benchmarks/redis/run.sh — SLS against Redis' own persistence, on the same data in the same run.
#
#   benchmarks/redis/run.sh [KEYS...]        (default: 100000 1000000; needs root, redis-server,
#                                             redis-cli and native/build/sls-engine: cd native && make)
#
# For each key count: a redis-server (persistence off) on a loopback port is loaded with KEYS keys
# (16-byte values), then
#   - Redis BGSAVE: its own pause (INFO latest_fork_usec: the fork that stops the server) and the
#     time until the RDB file is written; the RDB file size; RDB load time (a second server started
#     on the dump, command -> first PONG with loading:0);
#   - SLS full capture (sls-engine capture, the engine under sls:checkpoint without Karaf): stop time
#     (freeze -> thaw, median of 5) and image size; then kill -9 and restore: command -> first PONG,
#     and DBSIZE checked afterwards.
# Then, for delta partitions (what `sls:partadd -d -t 100` does; `sls-engine deltas`: one complete
# capture, then delta captures 100 ms apart in one engine process that keeps the dirty trackers):
#   - idle server: stop time median / p99 and epoch size over 20 deltas;
#   - under load: redis-benchmark SETs random keys of the data set (4 clients) while deltas run every
#     100 ms: stop median / p99, epoch size, and the SET rate next to the same run without captures.
# Prints Markdown tables. Wall-clock figures: run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
ENGINE=native/build/sls-engine
[ -x "$ENGINE" ] || { echo "build the engine first: (cd native && make)" >&2; exit 1; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "needs redis-server and redis-cli" >&2; exit 1; }
KEYS_LIST=("$@")
[ $# -gt 0 ] || KEYS_LIST=(100000 1000000)
WORK=$(mktemp -d /var/tmp/sls-redis-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

ms() { date +%s%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_pong() { # port deadline_s
    local end=$(( $(date +%s) + $2 ))
    until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && \
          redis-cli -p "$1" info persistence 2>/dev/null | grep -q '^loading:0'; do
        [ "$(date +%s)" -lt "$end" ] || { echo "redis on port $1 did not answer" >&2; return 1; }
        sleep 0.002
    done
}
start_redis() { # port dir [dbfilename] -> prints pid (detached: not our child)
    local port=$1 dir=$2 db=${3:-dump.rdb}
    setsid sh -c "echo \$\$ > $dir/pid.$port; exec redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no \
        --dir $dir --dbfilename $db --daemonize no >$dir/log.$port 2>&1" </dev/null &
    for _ in $(seq 200); do [ -s "$dir/pid.$port" ] && break; sleep 0.01; done
    cat "$dir/pid.$port"
}
wait_gone() { while [ -e "/proc/$1" ]; do sleep 0.05; done; }

printf 'machine: %s, %s cores, kernel %s, %s; load average %s\n\n' \
    "$(uname -m)" "$(nproc)" "$(uname -r)" "$(date -u +%FT%TZ)" "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "| keys | RSS | Redis fork pause (BGSAVE) | BGSAVE total | RDB size | RDB load (start -> PONG) | SLS stop time (median of 5) | SLS image | SLS restore (command -> PONG) | DBSIZE after restore |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for KEYS in "${KEYS_LIST[@]}"; do
    port=$(free_port)
    pid=$(start_redis "$port" "$WORK"); PIDS+=("$pid")
    wait_pong "$port" 10
    awk -v n="$KEYS" 'BEGIN { for (i = 0; i < n; i++) { k = "key:" i; v = sprintf("%016d", i);
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n", length(k), k, v } }' | redis-cli -p "$port" --pipe >/dev/null
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    # Redis' own persistence
    t0=$(ms); redis-cli -p "$port" bgsave >/dev/null
    until redis-cli -p "$port" info persistence | grep -q '^rdb_bgsave_in_progress:0'; do sleep 0.002; done
    t1=$(ms)
    fork_us=$(redis-cli -p "$port" info stats | awk -F: '/^latest_fork_usec/ {print $2+0}')
    rdb_size=$(stat -c %s "$WORK/dump.rdb")
    port2=$(free_port)
    t2=$(ms); pid2=$(start_redis "$port2" "$WORK"); PIDS+=("$pid2"); wait_pong "$port2" 60; t3=$(ms)
    kill -9 "$pid2"
    # SLS
    stops=()
    for i in 1 2 3 4 5; do
        rm -rf "$WORK/img"
        out=$("$ENGINE" capture -o "$WORK/img" "$pid")
        stops+=("$(awk '/^stop/ {print $2}' <<<"$out")")
    done
    stop_med=$(printf '%s\n' "${stops[@]}" | sort -n | sed -n 3p)
    img=$(du -sb "$WORK/img" | cut -f1)
    kill -9 "$pid"; wait_gone "$pid"
    t4=$(ms); "$ENGINE" restore -d -i "$WORK/img" >"$WORK/restored"; wait_pong "$port" 60; t5=$(ms)
    newpid=$(awk '{print $4}' "$WORK/restored" | head -1); PIDS+=("$newpid")
    dbsize=$(redis-cli -p "$port" dbsize)
    kill -9 "$newpid" 2>/dev/null || true
    printf '| %s | %s MiB | %.2f ms | %.0f ms | %.1f MiB | %.0f ms | %s ms | %.1f MiB | %.0f ms | %s |\n' \
        "$KEYS" "$((rss / 1024))" "$(bc -l <<<"$fork_us/1000")" "$(bc -l <<<"($t1-$t0)/1000000")" \
        "$(bc -l <<<"$rdb_size/1048576")" "$(bc -l <<<"($t3-$t2)/1000000")" "$stop_med" \
        "$(bc -l <<<"$img/1048576")" "$(bc -l <<<"($t5-$t4)/1000000")" "$dbsize"
    rm -rf "$WORK"/img "$WORK"/dump.rdb
done

pct() { # p file -> the p-th percentile (nearest rank) of the numbers in file
    sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { i = int((p / 100) * NR + 0.999); if (i < 1) i = 1; print v[i] }'
}
deltas_stats() { # out -> "stop_median stop_p99 size_median_KiB n" over the delta epochs of an `sls-engine deltas` output
    awk '$1 == "epoch" && $4 == 1 { print $6 }' "$1" >"$1.stop"
    awk '$1 == "epoch" && $4 == 1 { print $13 / 1024 }' "$1" >"$1.size"
    echo "$(pct 50 "$1.stop") $(pct 99 "$1.stop") $(pct 50 "$1.size") $(wc -l <"$1.stop")"
}
set_rate() { # port keys requests -> requests per second of SETs (4 clients)
    redis-benchmark -p "$1" -t set -r "$2" -d 16 -n "$3" -c 4 -q 2>/dev/null | tr '\r' '\n' |
        awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }'
}

echo
echo "Delta partitions (uffd tracking + pre-copy, a delta every 100 ms):"
echo
echo "| keys | idle: stop median | idle: stop p99 | idle: epoch size | SET load: stop median | SET load: stop p99 | SET load: epoch size | SET rate without captures | SET rate with captures |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for KEYS in "${KEYS_LIST[@]}"; do
    port=$(free_port)
    pid=$(start_redis "$port" "$WORK"); PIDS+=("$pid")
    wait_pong "$port" 10
    # key names as redis-benchmark -r makes them, so its SETs overwrite and DBSIZE stays KEYS
    awk -v n="$KEYS" 'BEGIN { for (i = 0; i < n; i++) { k = sprintf("key:%012d", i); v = sprintf("%016d", i);
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n", length(k), k, v } }' | redis-cli -p "$port" --pipe >/dev/null
    "$ENGINE" deltas -n 20 -p 100 -o "$WORK/img" "$pid" >"$WORK/idle"
    read -r i50 i99 isz _ < <(deltas_stats "$WORK/idle")
    # the same number of SETs without and with captures; ~5 s each
    t0=$(ms); base=$(set_rate "$port" "$KEYS" 100000); t1=$(ms)
    req=$(awk -v r="$base" 'BEGIN { printf "%d", r * 5 }')
    base=$(set_rate "$port" "$KEYS" "$req")
    epochs=$(awk -v r="$base" -v q="$req" 'BEGIN { printf "%d", (q / r) * 10 * 0.8 }') # end before the SETs do
    "$ENGINE" deltas -n "$epochs" -p 100 -o "$WORK/img" "$pid" >"$WORK/load" &
    dpid=$!
    loaded=$(set_rate "$port" "$KEYS" "$req")
    wait "$dpid"
    read -r l50 l99 lsz _ < <(deltas_stats "$WORK/load")
    [ "$(redis-cli -p "$port" dbsize)" = "$KEYS" ] || { echo "DBSIZE changed under the captures" >&2; exit 1; }
    printf '| %s | %s ms | %s ms | %.0f KiB | %s ms | %s ms | %.0f KiB | %.0f/s | %.0f/s |\n' \
        "$KEYS" "$i50" "$i99" "$isz" "$l50" "$l99" "$lsz" "$base" "$loaded"
    kill -9 "$pid"; wait_gone "$pid"
    rm -rf "$WORK"/img
done
