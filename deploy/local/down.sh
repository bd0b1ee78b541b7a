#!/usr/bin/env bash
# Stops everything up.sh started (SIGTERM, so nodes finish requests in flight), keeps the data.
#   deploy/local/down.sh          # stop
#   deploy/local/down.sh --wipe   # stop and delete deploy/local/data
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
run="$here/run"
wipe=false
for a in "$@"; do
  case "$a" in
    --wipe) wipe=true ;;
    *) echo "down.sh: unknown argument '$a' (only --wipe is accepted)" >&2; exit 2 ;;
  esac
done

shopt -s nullglob
# NATS last: nodes leave membership as they stop.
pids=("$run"/*.pid)
ordered=()
for f in "${pids[@]}"; do [ "$(basename "$f")" = nats.pid ] || ordered+=("$f"); done
for f in "${pids[@]}"; do [ "$(basename "$f")" = nats.pid ] && ordered+=("$f"); done
for f in "${ordered[@]}"; do
  pid="$(cat "$f")"
  name="$(basename "$f" .pid)"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "down.sh: $name did not stop within 10 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "stopped $name"
  fi
  rm -f "$f"
done

if $wipe; then
  rm -rf "$here/data"
  echo "wiped $here/data"
fi
