#!/usr/bin/env bash
# Disk-tier (L2) figures for the closing notes, measured side by side in one run:
#   1. L2-hit throughput of one edge for 100 KiB objects when the working set is 10x its memory
#      tier, next to its memory-hit throughput (one hot object), A B A B;
#   2. the edge's peak RSS during those runs;
#   3. recovery time of a store of at least 1 GiB (down.sh, up.sh, the store's "opened" log line).
# Usage: loadtest/l2-bench.sh   (env: MEMORY_MIB=16 OBJECTS=1600 DURATION=10s FILL_OBJECTS=11000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
memory_mib="${MEMORY_MIB:-16}"
objects="${OBJECTS:-1600}"
duration="${DURATION:-10s}"
fill="${FILL_OBJECTS:-11000}"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

deploy/local/down.sh --wipe >/dev/null 2>&1 || true
export EdgeCache__MemoryBudgetBytes=$((memory_mib * 1024 * 1024))
deploy/local/up.sh >/dev/null
trap 'deploy/local/down.sh >/dev/null 2>&1 || true' EXIT
edge_pid="$(cat deploy/local/run/edge-1.pid)"
H='Host: www.example.com'

echo "warming $objects x 100 KiB objects ($((objects / 10)) MiB) through edge-1, memory tier ${memory_mib} MiB"
seq 1 "$objects" | xargs -P 4 -I{} curl -fsS -o /dev/null -H "$H" "http://127.0.0.1:8081/obj/100k/o{}"
curl -fsS -o /dev/null -H "$H" http://127.0.0.1:8081/obj/100k/hot
sleep 2 # let background disk writes drain
status="$(curl -fsS -D - -o /dev/null -H "$H" http://127.0.0.1:8081/obj/100k/o1 | grep -i cache-status | tail -1)"
echo "check: o1 -> $status"

lua="$(mktemp --suffix .lua)"
cat >"$lua" <<LUA
math.randomseed(42)
request = function() return wrk.format("GET", "/obj/100k/o" .. math.random(1, $objects)) end
LUA

declare -A rps
for round in 1 2; do
  for kind in l2 memory; do
    if [ "$kind" = l2 ]; then out="$(wrk -t1 -c64 -d"$duration" --latency -H "$H" -s "$lua" http://127.0.0.1:8081)";
    else out="$(wrk -t1 -c64 -d"$duration" --latency -H "$H" http://127.0.0.1:8081/obj/100k/hot)"; fi
    r="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    p50="$(echo "$out" | awk '$1=="50%" {print $2}')"; p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
    errs="$(echo "$out" | grep -E 'Non-2xx|Socket errors' || true)"
    echo "round $round $kind: $r req/s  p50 $p50  p99 $p99 $errs"
    rps[$kind]="${rps[$kind]:-} $r"
  done
done
hits="$(curl -fsS http://127.0.0.1:8000/__origin/stats | sed -E 's/.*"requests":([0-9]+).*/\1/')"
echo "origin requests after the runs: $hits (warm-up was $((objects + 1)))"
echo "edge-1 peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/"$edge_pid"/status)"

echo "filling edge-1's store with $fill x 100 KiB objects for the recovery measurement"
seq 1 "$fill" | xargs -P 4 -I{} curl -fsS -o /dev/null -H "$H" "http://127.0.0.1:8081/obj/100k/f{}"
sleep 3
deploy/local/down.sh >/dev/null
du -sh deploy/local/data/edge-1/store
deploy/local/up.sh >/dev/null
grep -h "edge-1/store opened" deploy/local/run/edge-1.log | tail -1
