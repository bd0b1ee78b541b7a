#!/usr/bin/env bash
# Soak: the local CDN (two edges, two shields, NATS, the purge API) in front of the load origin,
# under mixed load for DURATION seconds: hot-set hits, new-URL misses, and a purge every 500 ms of
# an object whose version the origin has just changed. Half way through, shield-a is killed
# (SIGKILL) and started again. It records errors, each node's RSS over time, whether the memory
# bound holds, and whether any purged version was served after its purge returned; it prints a
# verdict and exits non-zero on FAIL.
#
#   loadtest/soak.sh                      # 10 minutes
#   DURATION=120 CONCURRENCY=16 loadtest/soak.sh
#
# Outputs in loadtest/results/: soak-rss.csv (t, node, rss_kib), soak-summary.json, soak-verdict.txt.
# Needs the ports of the local CDN free (it runs deploy/local/up.sh and down.sh).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
results="$root/loadtest/results"
run="$root/deploy/local/run"
mkdir -p "$results"

duration="${DURATION:-600}"
concurrency="${CONCURRENCY:-32}"
sample="${RSS_INTERVAL:-5}"
# The memory bound per node: the memory tier's budget (256 MiB in edge/ and origin-shield/ appsettings)
# plus FASTER's log memory (64 MiB) plus an allowance for the runtime, Kestrel and buffers in flight.
budget_mib="${MEMORY_BUDGET_MIB:-256}"
allowance_mib="${RSS_ALLOWANCE_MIB:-448}"
bound_mib=$((budget_mib + 64 + allowance_mib))

for v in duration concurrency sample; do
  [[ "${!v}" =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || { echo "soak.sh: ${v^^} must be a positive integer" >&2; exit 2; }
done

echo "Building (Release)..."
for p in loadtest/EdgeCache.LoadOrigin loadtest/EdgeCache.PurgeBench; do
  dotnet build "$root/$p" -c Release -v quiet -nologo >"$results/soak-build.log" 2>&1 || { cat "$results/soak-build.log" >&2; exit 1; }
done

origin_pid=""
sampler_pid=""
gc_sampler_pid=""
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  [ -n "$gc_sampler_pid" ] && kill "$gc_sampler_pid" 2>/dev/null || true
  "$root/deploy/local/down.sh" >/dev/null 2>&1 || true
  [ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null || true
}
trap cleanup EXIT

dotnet "$root/loadtest/EdgeCache.LoadOrigin/bin/Release/net10.0/EdgeCache.LoadOrigin.dll" --urls http://127.0.0.1:8000 >"$results/soak-origin.log" 2>&1 &
origin_pid=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:8000/__origin/healthz 2>/dev/null && break; sleep 0.1; done
ORIGIN=http://127.0.0.1:8000 "$root/deploy/local/up.sh" >/dev/null

nodes=(edge-1 edge-2 shield-a shield-b)
echo "t,node,rss_kib" >"$results/soak-rss.csv"
(
  start=$(date +%s)
  while true; do
    t=$(( $(date +%s) - start ))
    for n in "${nodes[@]}"; do
      pid="$(cat "$run/$n.pid" 2>/dev/null || true)"
      rss="$( [ -n "$pid" ] && ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ' || true)"
      echo "$t,$n,${rss:-0}" >>"$results/soak-rss.csv"
    done
    sleep "$sample"
  done
) &
sampler_pid=$!

# Each node's last garbage collections of each kind (status.json), every GC_SAMPLE_MS: the pauses a
# late purge acknowledgement or a slow read may sit behind (the runtime keeps the last of each kind).
python3 - "$results/soak-gc.csv" "${GC_SAMPLE_MS:-500}" edge-1=9081 edge-2=9082 shield-a=9091 shield-b=9092 <<'PY' &
# One process for the whole run (not a curl and a python per sample, which would load the machine).
import json, sys, time, urllib.request
out, period = open(sys.argv[1], "w", buffering=1), int(sys.argv[2]) / 1000
nodes = [a.split("=") for a in sys.argv[3:]]
out.write("t_ms,node,kind,index,generation,pause_ms,heap_bytes,compacted\n")
while True:
    for node, port in nodes:
        try:
            g = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=1))["gc"]
        except Exception:
            continue
        for kind in ("lastEphemeral", "lastBackground", "lastFullBlocking"):
            c = g.get(kind)
            if c:
                out.write(f'{int(time.time() * 1000)},{node},{kind},{c["index"]},{c["generation"]},{c["pauseMs"]},{c["heapBytes"]},{c["compacted"]}\n')
    time.sleep(period)
PY
gc_sampler_pid=$!

restart_file="$results/soak-restart.txt"
rm -f "$restart_file"
(
  sleep $((duration / 2))
  pid="$(cat "$run/shield-a.pid")"
  date +%s%3N >"$restart_file"
  kill -KILL "$pid" 2>/dev/null || true
  EDGECACHE_CONFIG_FILE="$run/shield-a.json" nohup dotnet "$root/origin-shield/EdgeCache.Shield/bin/Release/net10.0/EdgeCache.Shield.dll" >>"$run/shield-a.log" 2>&1 &
  echo $! >"$run/shield-a.pid"
  echo "  shield-a killed (SIGKILL) and started again at $((duration / 2)) s" >&2
) &
restarter=$!

set +e
dotnet "$root/loadtest/EdgeCache.PurgeBench/bin/Release/net10.0/EdgeCache.PurgeBench.dll" soak \
  --duration "$duration" --concurrency "$concurrency" --restart-file "$restart_file" --summary "$results/soak-summary.json"
load_status=$?
set -e
wait "$restarter" 2>/dev/null || true
kill "$sampler_pid" "$gc_sampler_pid" 2>/dev/null || true
sampler_pid=""
gc_sampler_pid=""

# The memory tier's own size at the end, from each node's status page.
declare -A admin=([edge-1]=9081 [edge-2]=9082 [shield-a]=9091 [shield-b]=9092)
tier_ok=true
tiers=""
for n in "${nodes[@]}"; do
  line="$(curl -fsS "http://127.0.0.1:${admin[$n]}/status.json" | python3 -c 'import json,sys; m=json.load(sys.stdin)["memory"]; print(m["bytes"], m["budget"])' 2>/dev/null || echo "0 0")"
  read -r bytes tier_budget <<<"$line"
  tiers+="$n memory tier: $((bytes / 1048576)) MiB of $((tier_budget / 1048576)) MiB"$'\n'
  [ "$tier_budget" -gt 0 ] && [ "$bytes" -le "$tier_budget" ] || tier_ok=false
done

# RSS: peak per node, and growth from the first third of the run to the last (a leak shows as growth).
rss_report="$(python3 - "$results/soak-rss.csv" "$bound_mib" "$duration" <<'PY'
import csv, sys
path, bound, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [r for r in csv.DictReader(open(path)) if int(r["rss_kib"]) > 0]
ok = True
for node in sorted({r["node"] for r in rows}):
    rs = [(int(r["t"]), int(r["rss_kib"]) / 1024) for r in rows if r["node"] == node]
    peak = max(v for _, v in rs)
    first = [v for t, v in rs if t < duration / 3] or [0]
    last = [v for t, v in rs if t >= 2 * duration / 3] or [0]
    held = peak <= bound
    ok &= held
    print(f"{node:9} RSS peak {peak:7.1f} MiB (bound {bound} MiB: {'holds' if held else 'EXCEEDED'}), "
          f"mean first third {sum(first)/len(first):7.1f} MiB, last third {sum(last)/len(last):7.1f} MiB")
print("RSS_OK" if ok else "RSS_FAIL")
PY
)"

# The longest garbage-collection pauses seen per node (each collection once, by its index).
gc_report="$(python3 - "$results/soak-gc.csv" <<'PY'
import csv, sys
# A restarted node counts its collections from 1 again: a lower index than the last one starts a new epoch.
seen, last, epoch = {}, {}, {}
for r in csv.DictReader(open(sys.argv[1])):
    node, kind, index = r["node"], r["kind"], int(r["index"])
    if index < last.get((node, kind), 0):
        epoch[node] = epoch.get(node, 0) + 1
        last = {k: v for k, v in last.items() if k[0] != node}
    last[(node, kind)] = index
    seen.setdefault((node, epoch.get(node, 0), index, kind), r)
by_node = {}
for (node, _, _, _), r in seen.items():
    by_node.setdefault(node, []).append(r)
t0 = min((int(r["t_ms"]) for r in seen.values()), default=0)
for node in sorted(by_node):
    rs = sorted(by_node[node], key=lambda r: -float(r["pause_ms"]))
    top = ", ".join(f'{float(r["pause_ms"]):.0f} ms (gen{r["generation"]} {r["kind"][4:].lower()}, ~{(int(r["t_ms"]) - t0) / 1000:.0f} s)' for r in rs[:3])
    print(f"{node:9} GC: {len(rs)} collections sampled; longest pauses {top}")
PY
)"

verdict=PASS
[ "$load_status" -eq 0 ] || verdict=FAIL
echo "$rss_report" | grep -q RSS_OK || verdict=FAIL
$tier_ok || verdict=FAIL
{
  echo "Soak: ${duration} s, ${concurrency} readers, shield-a SIGKILLed and restarted half way"
  echo
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("\n".join(f"{k}: {v}" for k,v in s.items() if k not in ("firstErrors","firstStale")))' "$results/soak-summary.json"
  echo
  echo "$rss_report" | grep -v '^RSS_'
  echo -n "$tiers"
  echo "$gc_report"
  echo
  echo "Verdict: $verdict (errors outside the shield restart window: must be 0; stale after purge: must be 0;"
  echo "         incomplete purges: must be 0; RSS within the bound; memory tier within its budget)"
} | tee "$results/soak-verdict.txt"
[ "$verdict" = PASS ]
