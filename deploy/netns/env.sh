# Shared by the deploy/netns scripts (sourced): names, addresses and ports of the namespaces cluster.
#   NETNS_PREFIX  prefix of every namespace, link and bridge this creates (default ecn; 1-6 of a-z0-9)
#   NETNS_SUBNET  the hosts' /24 as its first three octets, inside 198.18.0.0/15 (default 198.18.21)
#   NETNS_STATE   where data, logs, pids and configuration go (default deploy/netns/run)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prefix="${NETNS_PREFIX:-ecn}"
subnet="${NETNS_SUBNET:-198.18.21}"
state="${NETNS_STATE:-$here/run}"
if ! [[ "$prefix" =~ ^[a-z][a-z0-9]{0,5}$ ]]; then
  echo "netns: NETNS_PREFIX must be 1-6 characters of a-z and 0-9, starting with a letter (got '$prefix')" >&2
  exit 2
fi
if ! [[ "$subnet" =~ ^198\.(18|19)\.([0-9]{1,3})$ ]] || [ "${BASH_REMATCH[2]}" -gt 255 ]; then
  echo "netns: NETNS_SUBNET must be the first three octets of a /24 inside 198.18.0.0/15, e.g. 198.18.21 (got '$subnet')" >&2
  exit 2
fi

bridge="${prefix}-br"
# host name → last octet. h1-h3 each run an edge, a shield and a NATS server; api the purge API;
# origin the load origin; client the load generators and test clients (never delayed or cut).
hosts=(h1 h2 h3 api origin client)
declare -A octet=([h1]=11 [h2]=12 [h3]=13 [api]=20 [origin]=30 [client]=40)
ns() { echo "${prefix}-$1"; }
addr() { echo "$subnet.${octet[$1]}"; }
inns() { local h="$1"; shift; ip netns exec "$(ns "$h")" "$@"; }

# Ports (each host has its own address, so every host uses the same ones).
edge_port=8080; edge_admin=9080; shield_port=8090; shield_admin=9090
nats_port=4222; nats_cluster=6222; nats_monitor=8222
api_port=8070; origin_port=8000
relay_port=15000   # the delay relay, on 127.0.0.1 in each host (deploy/netns/delay.sh)
relay_mark=42

purge_key="${EDGECACHE_DEV_PURGE_KEY:-dev-purge-key-change-me}"
tool="$root/loadtest/EdgeCache.ClusterTool/bin/Release/net10.0/EdgeCache.ClusterTool.dll"
bin() { echo "$root/$1/bin/Release/net10.0/$2.dll"; }
