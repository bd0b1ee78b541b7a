#!/usr/bin/env bash
# Cuts a host off from every other host of the cluster (a partition: packets are dropped, not
# refused), leaving only the client host able to reach it, as a PoP cut off from the core still
# has its users. deploy/netns/heal.sh brings it back.
#   deploy/netns/cut.sh h2
set -euo pipefail
source "$(dirname "$0")/env.sh"
h="${1:-}"
[[ "$h" =~ ^(h1|h2|h3|api|origin)$ ]] || { echo "cut.sh: name a host: h1, h2, h3, api or origin (got '${h}')" >&2; exit 2; }
inns "$h" nft delete table inet "${prefix}_cut" 2>/dev/null || true
inns "$h" nft -f - <<NFT
table inet ${prefix}_cut {
  chain in { type filter hook input priority -10; ip saddr $subnet.0/24 ip saddr != { $(addr "$h"), $(addr client) } drop; }
  chain out { type filter hook output priority -10; ip daddr $subnet.0/24 ip daddr != { $(addr "$h"), $(addr client) } drop; }
}
NFT
echo "cut $h ($(addr "$h")) off from the other hosts"
