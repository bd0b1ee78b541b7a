#!/usr/bin/env bash
# Tears down what up.sh made: every process started in the cluster's namespaces, the namespaces,
# the bridge and its links. Safe after a failed or partial up.sh, and when nothing is up.
#   deploy/netns/down.sh          # stop, keep node data (disks) in $NETNS_STATE/data
#   deploy/netns/down.sh --wipe   # and delete the state directory
set -uo pipefail
source "$(dirname "$0")/env.sh"
wipe=false
for a in "$@"; do
  case "$a" in
    --wipe) wipe=true ;;
    *) echo "down.sh: unknown argument '$a' (only --wipe is accepted)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "down.sh: run as root (it deletes network namespaces)" >&2; exit 1; }
# Not interrupted half-way: a CI timeout signals the whole process group, and a down.sh cut short left
# the namespaces and some processes up. It ends by itself (at most 10 s of waiting, then SIGKILL).
trap '' TERM INT HUP

# Every process in one of our namespaces, whoever started it: TERM, then KILL after 10 s.
for h in "${hosts[@]}"; do
  n="$(ns "$h")"
  ip netns list 2>/dev/null | grep -qx "$n\( (id: [0-9]*)\)\?" || continue
  pids="$(ip netns pids "$n" 2>/dev/null)"
  [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
done
for _ in $(seq 1 100); do
  left=""
  for h in "${hosts[@]}"; do left+="$(ip netns pids "$(ns "$h")" 2>/dev/null)"; done
  [ -z "$left" ] && break
  sleep 0.1
done
for h in "${hosts[@]}"; do
  pids="$(ip netns pids "$(ns "$h")" 2>/dev/null)"
  if [ -n "$pids" ]; then
    echo "down.sh: processes in $(ns "$h") did not stop within 10 s; killing them" >&2
    kill -KILL $pids 2>/dev/null
  fi
done
for h in "${hosts[@]}"; do
  ip netns del "$(ns "$h")" 2>/dev/null && echo "deleted namespace $(ns "$h")"
  ip link del "${prefix}-$h" 2>/dev/null   # the root end of its veth (gone with the namespace, normally)
done
ip link del "$bridge" 2>/dev/null && echo "deleted bridge $bridge"
rm -f "$state"/*.pid
if $wipe; then rm -rf "$state"; echo "wiped $state"; fi
exit 0
