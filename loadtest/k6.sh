#!/usr/bin/env bash
# Runs every k6 script in loadtest/k6/ for real: starts the load origin on :8000 and the local CDN
# in front of it (deploy/local/up.sh with ORIGIN=, so the local CDN's ports must be free), runs the
# scripts one after the other, then stops everything it started (down.sh --wipe).
#
#   loadtest/k6.sh                 # short forms, correctness thresholds only (what CI runs, ~1 min)
#   FORM=long loadtest/k6.sh       # the scripts' own defaults, latency thresholds included
#   SCRIPTS="hot-set cold-miss-storm" loadtest/k6.sh
#
# k6 (v1.3.0 or later: the scripts use object spread, which v0.49 cannot parse) is looked up in
# this order, and the script stops with a message if none is there: $K6; ../shared/tools/k6/k6
# beside the repository (where CI's checkout has it); /work/shared/tools/k6/k6 (the development
# machines' shared folder, for a clone elsewhere); k6 on PATH.
# Exit status: 0 when every script passed its thresholds, else 1 (each failure is named).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

form="${FORM:-short}"
scripts="${SCRIPTS:-hot-set cold-miss-storm purge-under-load origin-failure}"
purge_key="${PURGE_KEY:-${EDGECACHE_DEV_PURGE_KEY:-dev-purge-key-change-me}}"
[ "$form" = short ] || [ "$form" = long ] || { echo "k6.sh: FORM must be short or long (got '$form')" >&2; exit 2; }

k6=""
for candidate in "${K6:-}" "$root/../shared/tools/k6/k6" /work/shared/tools/k6/k6 "$(command -v k6 || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then k6="$candidate"; break; fi
done
if [ -z "$k6" ]; then
  echo "k6.sh: no k6 found (tried \$K6, $root/../shared/tools/k6/k6, /work/shared/tools/k6/k6, k6 on PATH)." >&2
  echo "k6.sh: set K6=/path/to/k6 (v1.3.0 or later)." >&2
  exit 2
fi
"$k6" version

# Short forms: a few seconds each, small object sets. Each line: script, then its -e settings.
short_settings() {
  case "$1" in
    hot-set) echo "OBJECTS=200 VUS=8 DURATION=5s RUN_ID=ci-$run" ;;
    cold-miss-storm) echo "GROUPS=25 FANOUT=4 URLS_PER_GROUP=8 MAX_DURATION=60s" ;;
    purge-under-load) echo "PURGE_OBJECTS=10 READ_VUS=4 DURATION=8s PURGE_EVERY=0.5" ;;
    origin-failure) echo "FAIL_OBJECTS=20 READ_VUS=4 DURATION=12s FAIL_AT=3 FAIL_FOR=5" ;;
    *) echo "k6.sh: unknown script '$1'" >&2; return 1 ;;
  esac
}

mkdir -p loadtest/results
run="$(date -u +%Y%m%dT%H%M%S)"
origin_pid=""
cleanup() {
  deploy/local/down.sh --wipe >/dev/null 2>&1 || true
  if [ -n "$origin_pid" ]; then kill "$origin_pid" 2>/dev/null || true; wait "$origin_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

dotnet build loadtest/EdgeCache.LoadOrigin -c Release -v quiet -nologo >loadtest/results/k6-origin-build.log 2>&1 \
  || { cat loadtest/results/k6-origin-build.log >&2; echo "k6.sh: building the load origin failed" >&2; exit 1; }
dotnet loadtest/EdgeCache.LoadOrigin/bin/Release/net10.0/EdgeCache.LoadOrigin.dll --urls http://127.0.0.1:8000 >loadtest/results/k6-origin.log 2>&1 &
origin_pid=$!
for _ in $(seq 1 150); do
  curl -fsS -o /dev/null http://127.0.0.1:8000/__origin/stats 2>/dev/null && break
  kill -0 "$origin_pid" 2>/dev/null || { cat loadtest/results/k6-origin.log >&2; echo "k6.sh: the load origin exited" >&2; exit 1; }
  sleep 0.2
done
ORIGIN=http://127.0.0.1:8000 deploy/local/up.sh >/dev/null

failed=()
for script in $scripts; do
  args=(-e "PURGE_KEY=$purge_key")
  if [ "$form" = short ]; then
    args+=(-e PERF_THRESHOLDS=0)
    for kv in $(short_settings "$script"); do args+=(-e "$kv"); done
  fi
  echo "== k6 run $script ($form form)"
  if ! K6_NO_USAGE_REPORT=true "$k6" run -q "${args[@]}" "loadtest/k6/$script.js"; then
    failed+=("$script")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "k6.sh: failed their thresholds: ${failed[*]}" >&2
  exit 1
fi
echo "k6.sh: every script passed ($form form): $scripts"
