#!/usr/bin/env bash
# Random packet loss on a host's traffic to and from the other hosts, with iptables' statistic
# match (the kernel has no netem). 0 removes it.
#   deploy/netns/loss.sh h2 5     # drop 5% of the packets each way
#   deploy/netns/loss.sh h2 0
set -euo pipefail
source "$(dirname "$0")/env.sh"
h="${1:-}" pct="${2:-}"
[[ "$h" =~ ^(h1|h2|h3|api|origin)$ ]] || { echo "loss.sh: name a host: h1, h2, h3, api or origin (got '${h}')" >&2; exit 2; }
[[ "$pct" =~ ^([0-9]|[1-9][0-9]|100)$ ]] || { echo "loss.sh: the loss is a whole percentage, 0-100 (got '${pct}')" >&2; exit 2; }
chain="${prefix^^}_LOSS"
inns "$h" iptables -D INPUT -j "$chain" 2>/dev/null || true
inns "$h" iptables -D OUTPUT -j "$chain" 2>/dev/null || true
inns "$h" iptables -F "$chain" 2>/dev/null || true
inns "$h" iptables -X "$chain" 2>/dev/null || true
if [ "$pct" -gt 0 ]; then
  p="$(awk "BEGIN { printf \"%.2f\", $pct / 100 }")"
  inns "$h" iptables -N "$chain"
  inns "$h" iptables -A "$chain" -s "$(addr client)" -j RETURN
  inns "$h" iptables -A "$chain" -d "$(addr client)" -j RETURN
  inns "$h" iptables -A "$chain" -s "$(addr "$h")" -d "$(addr "$h")" -j RETURN
  inns "$h" iptables -A "$chain" -s "$subnet.0/24" -m statistic --mode random --probability "$p" -j DROP
  inns "$h" iptables -I INPUT -j "$chain"
  inns "$h" iptables -I OUTPUT -j "$chain"
  echo "$h: dropping $pct% of packets to and from the other hosts"
else
  echo "$h: no loss"
fi
