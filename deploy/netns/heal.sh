#!/usr/bin/env bash
# Undoes deploy/netns/cut.sh: the host reaches the others again.
#   deploy/netns/heal.sh h2
set -euo pipefail
source "$(dirname "$0")/env.sh"
h="${1:-}"
[[ "$h" =~ ^(h1|h2|h3|api|origin)$ ]] || { echo "heal.sh: name a host: h1, h2, h3, api or origin (got '${h}')" >&2; exit 2; }
inns "$h" nft delete table inet "${prefix}_cut" 2>/dev/null || true
echo "healed $h ($(addr "$h"))"
