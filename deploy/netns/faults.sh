#!/usr/bin/env bash
# The fault suite on the namespaces cluster (run as root; CI runs it). Each test asserts on what
# clients and the origin see (bodies, versions, purge results, origin request counts), polls with
# deadlines, and the suite exits non-zero on the first failure. The cluster is torn down on exit,
# failed or not (NETNS_KEEP=1 leaves it up for a look).
#   deploy/netns/faults.sh              # every test: nats-kill cut-host stale-disk shield-kill latency
#   deploy/netns/faults.sh cut-host     # some of them, in the order given
# Results (JSON summaries, the latency table) go to $NETNS_STATE/results.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$here/nodes.sh"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(nats-kill cut-host stale-disk shield-kill latency)
for t in "${tests[@]}"; do
  [[ "$t" =~ ^(nats-kill|cut-host|stale-disk|shield-kill|latency)$ ]] || { echo "faults.sh: unknown test '$t' (nats-kill cut-host stale-disk shield-kill latency)" >&2; exit 2; }
done
results="$state/results"
cleanup() {
  local status=$?
  for f in "$state"/bg-*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
  if [ "${NETNS_KEEP:-0}" = 1 ]; then echo "faults.sh: NETNS_KEEP=1: the cluster stays up (deploy/netns/down.sh)"; else "$here/down.sh" >/dev/null; fi
  [ $status -eq 0 ] || echo "faults.sh: FAILED (status $status); logs in $state/logs, results in $results" >&2
}
trap cleanup EXIT

edge() { echo "http://$(addr "h$1"):$edge_port"; }
edges="$(edge 1),$(edge 2),$(edge 3)"
api="http://$(addr api):$api_port"
origin="http://$(addr origin):$origin_port"
tool_run() { inns client dotnet "$tool" "$@"; }
bg() { # name cmd...: a background client in the client host; its exit status is kept in $results/name.rc
  local name="$1"; shift
  ( set +e; inns client dotnet "$tool" "$@" >"$results/$name.out" 2>&1; echo $? >"$results/$name.rc" ) &
  echo $! >"$state/bg-$name.pid"
}
bg_wait() { # name seconds: waits for a background client to end; fails if it failed or overran
  local name="$1" until=$(( $(date +%s) + $2 ))
  while [ ! -e "$results/$name.rc" ]; do
    if [ "$(date +%s)" -ge "$until" ]; then echo "faults.sh: $name did not finish within $2 s" >&2; tail -n 20 "$results/$name.out" >&2; return 1; fi
    sleep 0.2
  done
  rm -f "$state/bg-$name.pid"
  if [ "$(cat "$results/$name.rc")" != 0 ]; then echo "faults.sh: $name failed:" >&2; tail -n 40 "$results/$name.out" >&2; return 1; fi
}
wait_for() { # description seconds command...: polls the command until it succeeds
  local what="$1" until=$(( $(date +%s) + $2 )); shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$until" ] || { echo "faults.sh: timed out after ${2:-?} s waiting for: $what" >&2; return 1; }
    sleep 0.2
  done
}
all_six='edge-1,edge-2,edge-3,shield-1,shield-2,shield-3'
acked_by() { # nodes: a purge with wait is complete and acknowledged by exactly these nodes
  local answer; answer="$(purge '{"urls":["http://www.example.com/netns-probe"],"wait":true,"timeoutMs":1000}')"
  [ "$(echo "$answer" | jq -r '.complete')" = true ] && [ "$(echo "$answer" | jq -r '[.acked[].node] | sort | join(",")')" = "$1" ]
}
progress_at_least() { [ "$(cat "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
stream_leader() { inns client curl -fsS "http://$(addr h1):$nats_monitor/jsz?streams=true" | jq -r '.account_details[].stream_detail[] | select(.name=="EDGECACHE_INVALIDATION") | .cluster.leader'; }
host_of_nats() { echo "h${1##*-}"; }   # ecn-nats-2 -> h2
up() { "$here/up.sh" | tail -n 7; }

mkdir -p "$results"
rm -f "$results"/* "$state"/*.stop "$state"/*.ready "$state"/*.progress
NETNS_NO_BUILD="${NETNS_NO_BUILD:-0}" up
export NETNS_NO_BUILD=1
suite_started=$(date +%s)

# (a) The NATS server leading the invalidation stream is killed (SIGKILL) during a stream of purges,
# then restarted. Every purge is accepted (a refused publication is retried with its
# Idempotency-Key), becomes complete while two servers keep quorum, and no edge serves a version
# it removed; readers over all three edges never fail.
test_nats_kill() {
  echo "== nats-kill: the stream leader's NATS server killed during 60 purges, then restarted"
  bg a-reads reads --edges "$edges" --origin "$origin" --objects 300 --name ra --concurrency 8 \
    --stop-file "$state/a.stop" --ready-file "$state/a.ready" --summary "$results/a-reads.json"
  wait_for "the readers to cache their objects" 90 test -e "$state/a.ready"
  bg a-purges purges --api "$api" --origin "$origin" --edges "$edges" --count 60 --interval-ms 100 --name pa \
    --timeout-ms 3000 --deadline-s 60 --progress "$state/a.progress" --summary "$results/a-purges.json"
  wait_for "10 purges" 90 progress_at_least "$state/a.progress" 10
  local leader h; leader="$(stream_leader)"; h="$(host_of_nats "$leader")"
  echo "   killing $leader (the stream leader, on $h) after $(cat "$state/a.progress") purges"
  stop_proc "nats-$h" KILL
  wait_for "10 more purges with $leader down" 90 progress_at_least "$state/a.progress" 20
  echo "   restarting $leader after $(cat "$state/a.progress") purges"
  start_nats "$h"
  wait_url "nats-$h" "http://$(addr "$h"):$nats_monitor/healthz"
  bg_wait a-purges 120
  wait_for "every node to acknowledge purges again" 30 acked_by "$all_six"
  touch "$state/a.stop"
  bg_wait a-reads 60
  jq -c '{purges, retriedPublications, answeredWithNoNodeAcked, firstAnswerMs, completeMs}' "$results/a-purges.json"
  jq -c '{seconds, originRequestsDuringLoad, edges: (.edges | map_values({ok, notOk, failedBeforeHead, failedMidBody, wrongBytes}))}' "$results/a-reads.json"
  echo "   nats-kill: passed"
}

for t in "${tests[@]}"; do
  case "$t" in
    nats-kill) test_nats_kill ;;
  esac
done
echo "faults: ${tests[*]}: passed in $(( $(date +%s) - suite_started )) s (plus start-up)"
