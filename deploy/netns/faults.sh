#!/usr/bin/env bash
# The fault suite on the namespaces cluster (run as root; CI runs it). Each test asserts on what
# clients and the origin see (bodies, versions, purge results, origin request counts), polls with
# deadlines, and the suite exits non-zero on the first failure. The cluster is torn down on exit,
# failed or not (NETNS_KEEP=1 leaves it up for a look).
#   deploy/netns/faults.sh              # every test: nats-kill cut-host cut-leader stale-disk shield-kill latency
#   deploy/netns/faults.sh cut-host     # some of them, in the order given
# Results (JSON summaries, the latency table) go to $NETNS_STATE/results.
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$here/nodes.sh"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(nats-kill cut-host cut-leader stale-disk shield-kill latency)
for t in "${tests[@]}"; do
  [[ "$t" =~ ^(nats-kill|cut-host|cut-leader|stale-disk|shield-kill|latency)$ ]] || { echo "faults.sh: unknown test '$t' (nats-kill cut-host cut-leader stale-disk shield-kill latency)" >&2; exit 2; }
done
results="$state/results"
# On any exit (a failed test, an error, SIGTERM or SIGINT from a CI timeout): the background clients
# and their children, then the cluster (processes, namespaces and with them every nftables and iptables
# rule the tests made, the bridge). Not errexit here: one step failing must not skip the rest (a kill of
# a client already gone used to end the trap before down.sh, leaving the cluster up).
cleanup() {
  local status=$? f pid
  set +e
  trap - EXIT
  trap '' INT TERM HUP   # a second signal (a CI timeout's, sent to the whole group) must not cut the clean-up short
  for f in "$state"/bg-*.pid; do
    [ -e "$f" ] || continue
    pid="$(cat "$f")"
    pkill -TERM -P "$pid" 2>/dev/null   # the client it runs (ip netns exec, then dotnet)
    kill -TERM "$pid" 2>/dev/null
    rm -f "$f"
  done
  if [ "${NETNS_KEEP:-0}" = 1 ]; then echo "faults.sh: NETNS_KEEP=1: the cluster stays up (deploy/netns/down.sh)"; else "$here/down.sh" >/dev/null; fi
  [ $status -eq 0 ] || echo "faults.sh: FAILED (status $status); logs in $state/logs, results in $results" >&2
  exit $status
}

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
  local what="$1" limit="$2" until=$(( $(date +%s) + $2 )); shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$until" ] || { echo "faults.sh: timed out after $limit s waiting for: $what" >&2; return 1; }
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

[ "$(id -u)" = 0 ] || { echo "faults.sh: run as root (it creates network namespaces)" >&2; exit 1; }
# Someone else's cluster under this prefix is not ours to tear down: refuse before the trap is set.
for h in "${hosts[@]}"; do
  if ip netns list | grep -q "^$(ns "$h")\b"; then
    echo "faults.sh: namespace $(ns "$h") exists already: a cluster with prefix '$prefix' is up (deploy/netns/down.sh stops it; NETNS_PREFIX picks another)" >&2
    exit 1
  fi
done
mkdir -p "$results"
rm -f "$results"/* "$state"/*.stop "$state"/*.ready "$state"/*.progress "$state"/bg-*.pid
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
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


# Purges of a summary answered incomplete (a host down) become complete once the host is back. One
# published while the API could not read membership waits on "(membership unavailable)" and stays
# incomplete (which nodes had to apply it is unknown); the clients checked its objects on every edge.
partials_complete() { # summary
  local id answer
  for id in $(jq -r '.records[] | select(.complete == false) | select((.missingAtFirst | index("(membership unavailable)")) | not) | .id' "$1"); do
    answer="$(inns client curl -fsS -H "Authorization: Bearer $purge_key" "$api/purge/$id")" || return 1
    [ "$(echo "$answer" | jq -r .complete)" = true ] || return 1
  done
}

# (b) A whole host (edge, shield, NATS server) cut off from the others under a read load; only the
# client host still reaches it. The other edges keep serving; purges issued meanwhile complete for
# the live nodes (those published before the cut host's membership expired are answered incomplete,
# naming only its nodes); the cut edge, its lease lapsed, serves no pre-purge copy; healed, it serves
# every purged object's new version and the incomplete purges complete.
# cut-host cuts h2 unless its NATS server leads the invalidation stream (then h3); cut-leader cuts the
# host whose NATS server leads it. That is a harder fault: every node's lease lapses during the
# election (no leader confirms the stream's end), so every edge revalidates its hits with the shields,
# and those sent to the cut shield get no answer until the edge's health checks mark it down and they
# are retried on the next shield. Which server leads is chance, so each test picks its host by it.
test_cut_host() { # [leader]
  local c=2 o lead others=() strict="" name=cut-host b=b
  lead="$(host_of_nats "$(stream_leader)")"
  if [ "${1:-}" = leader ]; then c="${lead#h}"; name=cut-leader; b=f; else [ "$lead" != h2 ] || c=3; fi
  for o in 1 2 3; do [ "$o" = "$c" ] || others+=("$o"); done
  strict="$(edge "${others[0]}"),$(edge "${others[1]}")"
  echo "== $name: h$c cut off under load (the stream leader is on $lead), 10 purges meanwhile, then healed"
  bg $b-reads reads --edges "$edges" --strict "$strict" --origin "$origin" --objects 300 --name r$b --concurrency 8 \
    --stop-file "$state/$b.stop" --ready-file "$state/$b.ready" --summary "$results/$b-reads.json"
  wait_for "the readers to cache their objects" 90 test -e "$state/$b.ready"
  tool_run warm --edges "$edges" --count 10 --name p$b >/dev/null
  "$here/cut.sh" "h$c"
  tool_run purges --api "$api" --origin "$origin" --edges "$strict" --no-warm --count 10 --interval-ms 500 --name p$b \
    --timeout-ms 2000 --deadline-s 30 --allow-missing "edge-$c,shield-$c,(membership unavailable)" --summary "$results/$b-purges.json" >"$results/$b-purges.out" \
    || { echo "faults.sh: purges during the cut failed:" >&2; jq -c .problems "$results/$b-purges.json" >&2; return 1; }
  jq -c '{purges, retriedPublications, partialForDownNodes, firstAnswerMs}' "$results/$b-purges.json"
  echo "   the cut edge, its lease lapsed, must serve no purged object's old version:"
  tool_run verify --summary "$results/$b-purges.json" --edges "$(edge "$c")" | sed 's/^/   /'
  "$here/heal.sh" "h$c"
  echo "   healed: edge-$c must serve every purged object's new version, and the purges it missed complete:"
  tool_run verify --summary "$results/$b-purges.json" --edges "$(edge "$c")" --require-ok --deadline-s 30 | sed 's/^/   /'
  # 60 s: once, the healed host's NATS server (Debian's 2.9.10) saw no JetStream metadata leader for over
  # 10 s after its routes were back, and its edge and shield could not make their consumers meanwhile.
  wait_for "the purges answered incomplete during the cut to complete" 60 partials_complete "$results/$b-purges.json"
  wait_for "every node to acknowledge purges again" 60 acked_by "$all_six"
  touch "$state/$b.stop"
  bg_wait $b-reads 60
  jq -c '{seconds, edges: (.edges | map_values({ok, notOk, failedBeforeHead, failedMidBody, wrongBytes}))}' "$results/$b-reads.json"
  # What the live edges did about the cut shield: requests given up there once it was marked down, and retried.
  local e
  for e in "${others[@]}"; do
    echo "   edge-$e: $(inns client curl -fsS "http://$(addr "h$e"):$edge_admin/metrics" | grep -E '^edgecache_upstream_(abandoned|retries)' | tr '\n' ' ')"
  done
  echo "   $name: passed"
}

# (c) A host goes down (edge and shield stopped, so their disks hold every object and the last
# sequence they applied; its NATS server killed) and 10 purges are issued while it is down; it comes
# back with those disks. From its first ready moment no edge serves a purged object's old version,
# while the objects not purged are still served from its disk (the disk really was kept).
test_stale_disk() {
  echo "== stale-disk: h2 down, 10 purges, h2 back on its disks from before them"
  tool_run warm --edges "$edges" --count 12 --name pc >/dev/null
  stop_proc edge-2; stop_proc shield-2; stop_proc nats-h2 KILL
  tool_run purges --api "$api" --origin "$origin" --edges "$(edge 1),$(edge 3)" --no-warm --count 10 --interval-ms 300 --name pc \
    --timeout-ms 2000 --deadline-s 30 --allow-missing "edge-2,shield-2,(membership unavailable)" --summary "$results/c-purges.json" >"$results/c-purges.out" \
    || { echo "faults.sh: purges while h2 was down failed:" >&2; jq -c .problems "$results/c-purges.json" >&2; return 1; }
  jq -c '{purges, partialForDownNodes, firstAnswerMs}' "$results/c-purges.json"
  start_nats h2; start_node shield h2; start_node edge h2
  wait_url edge-2 "http://$(addr h2):$edge_admin/readyz"
  echo "   edge-2 ready on its old disk: every edge must serve every purged object's new version:"
  tool_run verify --summary "$results/c-purges.json" --edges "$edges" --require-ok --deadline-s 30 | sed 's/^/   /'
  local i status
  for i in 10 11; do
    status="$(inns client curl -fsS -D - -o /dev/null -H 'Host: www.example.com' "$(edge 2)/obj/1k/pc$i" | grep -i '^Cache-Status: EdgeCache-Edge' || true)"
    echo "$status" | grep -q 'hit;.*detail=disk' \
      || { echo "faults.sh: edge-2 did not serve the unpurged /obj/1k/pc$i from its kept disk ($status)" >&2; return 1; }
  done
  echo "   the two objects not purged were disk hits on edge-2"
  wait_url shield-2 "http://$(addr h2):$shield_admin/readyz"
  wait_for "the purges answered incomplete while h2 was down to complete" 30 partials_complete "$results/c-purges.json"
  wait_for "every node to acknowledge purges again" 30 acked_by "$all_six"
  echo "   stale-disk: passed"
}

# (d) A shield killed (SIGKILL) under a read load over 10,000 cached objects. The objects are read
# through edge-1 first (stored there and at their owning shield), then each once through edge-2 and
# edge-3 in a shuffled order: every read is an edge miss that a shield answers, so every read of
# shield-2's objects after the kill fails over to the next shield in the rendezvous order. Passes when no
# request fails before its response body started (mid-body cuts at the kill are counted apart), none is
# answered with an error or other bytes than the origin's, and none started a second after the kill is
# served by the dead shield. Reported: the switch (kill to the first of shield-2's objects served by
# another shield, and latencies) and the origin's extra requests (cold fills at the shields taking over:
# no replication yet, so about one per shield-2 object read after the kill).
test_shield_kill() {
  echo "== shield-kill: shield-2 killed (SIGKILL) under a read load over 10,000 cached objects"
  rm -f "$state/d.progress" "$state/d.kill" "$state/d.ready"
  # With replication (the default; NETNS_REPLICATION=0 runs without) the load starts once every object is replicated,
  # and the origin must see no request during it.
  local replicas=""
  [ "${NETNS_REPLICATION:-1}" = 1 ] && replicas="http://$(addr h1):$shield_admin,http://$(addr h2):$shield_admin,http://$(addr h3):$shield_admin"
  bg d-failover failover --warm-edge "$(edge 1)" --edges "$(edge 2),$(edge 3)" --origin "$origin" --killed shield-2 \
    --objects 10000 --size 16k --name fd --concurrency 16 --progress "$state/d.progress" --kill-file "$state/d.kill" \
    --ready-file "$state/d.ready" --summary "$results/d-failover.json" \
    ${replicas:+--replicas "$replicas"}
  wait_for "10,000 objects cached through edge-1" 240 test -e "$state/d.ready"
  wait_for "a third of the 20,000 reads" 120 progress_at_least "$state/d.progress" 6500
  date +%s%3N >"$state/d.kill.tmp"
  stop_proc shield-2 KILL
  mv "$state/d.kill.tmp" "$state/d.kill"
  echo "   killed shield-2 after $(cat "$state/d.progress") reads"
  bg_wait d-failover 180
  jq -c '{objects, size, ownedByKilled, reads, loadSeconds, ok, failedBeforeHead, failedMidBody, notOk, wrongBytes, inFlightAtKill}' "$results/d-failover.json"
  jq -c '.switch + {originRequestsDuringLoad, itsObjectsFirstReadAfterKill}' "$results/d-failover.json"
  jq -c '{replication}' "$results/d-failover.json"
  echo "   extra origin requests: $(jq -r '.originRequestsDuringLoad' "$results/d-failover.json") (for $(jq -r '.itsObjectsFirstReadAfterKill' "$results/d-failover.json") of shield-2's objects first read after the kill; with replication it must be 0)"
  start_node shield h2
  wait_url shield-2 "http://$(addr h2):$shield_admin/readyz"
  echo "   shield-kill: passed"
}

# (e) 10 ms one way between every two hosts (delay relays; the client host is not delayed): the purge
# round trip (client to API, with wait) and propagation (publication to the slowest node's
# acknowledgement) over 200 purges, with 3 JetStream replicas.
test_latency() {
  echo "== latency: the cluster again with 10 ms one way between hosts; 200 purges with wait"
  "$here/down.sh" >/dev/null
  NETNS_DELAY_MS=10 up
  inns client dotnet "$(bin loadtest/EdgeCache.PurgeBench EdgeCache.PurgeBench)" latency --count 200 \
    --edge "$(edge 1)" --purge "$api" --key "$purge_key" | tee "$results/e-latency.txt" | sed 's/^/   /'
  local relayed; relayed="$(inns h1 nft -j list table ip "${prefix}_delay" | jq '[.nftables[].rule? | select(.) | .expr[] | .counter? | select(.) | .packets] | add')"
  [ "${relayed:-0}" -gt 0 ] || { echo "faults.sh: h1's delay rule redirected no connections: the delay was not in place" >&2; return 1; }
  echo "   h1's connections to other hosts went through its relay ($relayed connections redirected: the nat chain sees first packets only)"
  echo "   latency: passed"
}

for t in "${tests[@]}"; do
  case "$t" in
    nats-kill) test_nats_kill ;;
    cut-host) test_cut_host ;;
    cut-leader) test_cut_host leader ;;
    stale-disk) test_stale_disk ;;
    shield-kill) test_shield_kill ;;
    latency) test_latency ;;
  esac
done
echo "faults: ${tests[*]}: passed in $(( $(date +%s) - suite_started )) s (plus start-up)"
