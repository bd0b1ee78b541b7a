#!/usr/bin/env bash
# A cluster on one machine as separate hosts: network namespaces joined by one bridge, each host its
# own address in 198.18.0.0/15 (RFC 2544's benchmarking range), no default route anywhere and no
# forwarding or NAT in the root namespace, so no packet leaves the bridge.
#   h1 h2 h3   an edge, a shield and a NATS server each (a three-server NATS cluster; the stream and
#              the membership bucket with 3 JetStream replicas)
#   api        the purge API        origin   the load origin        client   test clients only
# Builds the binaries (Release; NETNS_NO_BUILD=1 uses those built), starts everything on fresh disks, waits until a
# purge is acknowledged by all six nodes, prints the endpoints. A failed start tears down what it made.
#   deploy/netns/up.sh
#   NETNS_DELAY_MS=10 deploy/netns/up.sh     # 10 ms one way between hosts (delay relays, see delay notes)
#   NETNS_REPLICATION=0 deploy/netns/up.sh   # shields without replication (each object on its owner only)
#   NETNS_LOCAL_NATS=0 deploy/netns/up.sh    # nodes on a random NATS server, not their own host's first
# Settings: NETNS_PREFIX, NETNS_SUBNET, NETNS_STATE (env.sh); NETNS_LEASE, NETNS_ANNOUNCE,
# NETNS_MEMBERSHIP_TTL (the nodes' Invalidation timings, default 00:00:02, 00:00:01, 00:00:04).
set -euo pipefail
source "$(dirname "$0")/env.sh"
source "$here/nodes.sh"
delay_ms="${NETNS_DELAY_MS:-0}"
[[ "$delay_ms" =~ ^[0-9]{1,4}$ ]] || { echo "up.sh: NETNS_DELAY_MS must be a number of milliseconds (got '$delay_ms')" >&2; exit 2; }
prefer_local_nats="${NETNS_LOCAL_NATS:-1}"   # 0: nodes connect to a random server of the three, as NATS clients do by default
replication="${NETNS_REPLICATION:-1}"
[[ "$replication" =~ ^[01]$ ]] || { echo "up.sh: NETNS_REPLICATION must be 0 or 1 (got '$replication')" >&2; exit 2; }
lease="${NETNS_LEASE:-00:00:02}"; announce="${NETNS_ANNOUNCE:-00:00:01}"; ttl="${NETNS_MEMBERSHIP_TTL:-00:00:04}"

[ "$(id -u)" = 0 ] || { echo "up.sh: run as root (it creates network namespaces and a bridge)" >&2; exit 1; }
need=()
command -v nats-server >/dev/null || need+=(nats-server)
command -v nft >/dev/null || need+=(nftables)
command -v iptables >/dev/null || need+=(iptables)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing ${need[*]} (Debian packages)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/tmp/netns-apt.log 2>&1 \
    || { cat /tmp/netns-apt.log >&2; echo "up.sh: could not install ${need[*]}" >&2; exit 1; }
fi
for h in "${hosts[@]}"; do
  if ip netns list | grep -q "^$(ns "$h")\b"; then
    echo "up.sh: namespace $(ns "$h") exists already: a cluster with prefix '$prefix' is up (deploy/netns/down.sh stops it; NETNS_PREFIX picks another)" >&2
    exit 1
  fi
done
if ip link show "$bridge" >/dev/null 2>&1; then
  echo "up.sh: a link named $bridge exists already (deploy/netns/down.sh removes a leftover one; NETNS_PREFIX picks another)" >&2
  exit 1
fi

if [ "${NETNS_NO_BUILD:-0}" != 1 ]; then
  echo "Building (Release)..."
  mkdir -p "$state"
  : >"$state/build.log"
  for project in edge/EdgeCache.Edge origin-shield/EdgeCache.Shield invalidation/EdgeCache.Invalidation loadtest/EdgeCache.LoadOrigin loadtest/EdgeCache.ClusterTool loadtest/EdgeCache.PurgeBench; do
    dotnet build "$root/$project" -c Release -v quiet -nologo >>"$state/build.log" 2>&1 \
      || { cat "$state/build.log" >&2; echo "up.sh: building $project failed" >&2; exit 1; }
  done
fi

trap 'status=$?; if [ $status -ne 0 ]; then echo "up.sh: start failed; tearing down" >&2; "$here/down.sh" >/dev/null 2>&1; fi' EXIT
# Fresh disks at every start: the load origin's bodies differ from one origin process to the next, so
# copies kept from an earlier cluster would not be the new origin's (faults.sh's stale-disk test keeps a
# host's disk across a restart within one run instead).
rm -rf "$state/data" "$state/logs"
mkdir -p "$state/conf" "$state/logs" "$state/data"

# The network: a bridge in the root namespace without an address (the root namespace cannot reach
# the hosts, and routes nothing for them), one veth per host, each host's own /24 route only.
ip link add "$bridge" type bridge
ip link set "$bridge" up
for h in "${hosts[@]}"; do
  ip netns add "$(ns "$h")"
  ip link add "${prefix}-$h" type veth peer name eth0 netns "$(ns "$h")"
  ip link set "${prefix}-$h" master "$bridge" up
  inns "$h" ip link set lo up
  inns "$h" ip addr add "$(addr "$h")/24" dev eth0
  inns "$h" ip link set eth0 up
done

# Delay between hosts: each host (not the client) sends its connections to other hosts through its
# own relay on 127.0.0.1, which forwards every byte $delay_ms ms late, both ways.
if [ "$delay_ms" -gt 0 ]; then
  for h in h1 h2 h3 api origin; do
    start_relay "$h"
    inns "$h" nft -f - <<NFT
table ip ${prefix}_delay {
  chain out {
    type nat hook output priority -100;
    ip daddr $subnet.0/24 ip daddr != { $(addr "$h"), $(addr client) } meta l4proto tcp meta mark != $relay_mark counter redirect to :$relay_port
  }
}
NFT
  done
fi

# Configuration. Nodes know every NATS server; the stream and the bucket have 3 replicas.
nats_urls="nats://$(addr h1):$nats_port,nats://$(addr h2):$nats_port,nats://$(addr h3):$nats_port"
tier_secret="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
key_hash="$(printf '%s' "$purge_key" | sha256sum | cut -d' ' -f1)"
invalidation_settings() { # NatsUrl [more fields]
  echo "\"NatsUrl\": \"$1\"${2:-}, \"Replicas\": 3, \"Lease\": \"$lease\", \"AnnounceInterval\": \"$announce\", \"MembershipTtl\": \"$ttl\", \"PingInterval\": \"00:00:01\""
}
invalidation="$(invalidation_settings "$nats_urls")"
for n in 1 2 3; do
  h="h$n"
  # Each host's nodes connect to its own NATS server first (Invalidation:PreferFirstServer), the others after it.
  local_first="nats://$(addr "$h"):$nats_port"
  for m in 1 2 3; do [ "$m" = "$n" ] || local_first+=",nats://$(addr "h$m"):$nats_port"; done
  node_invalidation="$invalidation"
  [ "$prefer_local_nats" = 1 ] && node_invalidation="$(invalidation_settings "$local_first" ', "PreferFirstServer": true')"
  routes=""
  for m in 1 2 3; do [ "$m" = "$n" ] || routes+="${routes:+, }\"nats://$(addr "h$m"):$nats_cluster\""; done
  cat >"$state/conf/nats-$h.conf" <<CONF
server_name: "$prefix-nats-$n"
host: "$(addr "$h")"
port: $nats_port
http: "$(addr "$h"):$nats_monitor"
ping_interval: "1s"
ping_max: 3
jetstream { store_dir: "$state/data/nats-$n" }
cluster { name: "$prefix", host: "$(addr "$h")", port: $nats_cluster, routes: [ $routes ] }
CONF
  settings() { # role traffic admin
    cat <<JSON
  "EdgeCache": {
    "NodeId": "$1-$n",
    "TierSecrets": [ "$tier_secret" ],
    "Listen": { "Traffic": [ "http://$(addr "$h"):$2" ], "Admin": "http://$(addr "$h"):$3" },
    "Disk": { "Directory": "$state/data/$1-$n", "BudgetBytes": 536870912, "LogMemoryBytes": 33554432, "CheckpointInterval": "00:00:05" },
    "Invalidation": { $node_invalidation },
    "Defaults": { "ConnectTimeout": "00:00:01" }${4:-}
  },
JSON
  }
  destinations=""
  for m in 1 2 3; do
    destinations+="${destinations:+,
          }\"shield-$m\": { \"Address\": \"http://$(addr "h$m"):$shield_port\", \"Health\": \"http://$(addr "h$m"):$shield_admin\" }"
  done
  cat >"$state/conf/edge-$n.json" <<JSON
{
$(settings edge $edge_port $edge_admin ',
    "ShieldDiscovery": { "Enabled": true, "RefreshInterval": "00:00:01" }')
  "ReverseProxy": {
    "Routes": { "sites": { "ClusterId": "shields", "Match": { "Hosts": [ "www.example.com" ], "Path": "{**catch-all}" } } },
    "Clusters": {
      "shields": {
        "LoadBalancingPolicy": "EdgeCacheConsistentHash",
        "HealthCheck": {
          "AvailableDestinationsPolicy": "HealthyOrPanic",
          "Active": { "Enabled": true, "Interval": "00:00:01", "Timeout": "00:00:00.500", "Policy": "ConsecutiveFailures", "Path": "/readyz" },
          "Passive": { "Enabled": true, "Policy": "TransportFailureRate", "ReactivationPeriod": "00:00:05" }
        },
        "Destinations": {
          $destinations
        }
      }
    }
  }
}
JSON
  # Replication (NETNS_REPLICATION=0 turns it off, for a side-by-side run): each shield names all three in its
  # peers cluster, with the edges' health checks.
  if [ "$replication" = 1 ]; then
    rep_settings=',
    "Replication": { "Enabled": true, "Cluster": "peers" }'
    rep_cluster=',
      "peers": {
        "HealthCheck": {
          "AvailableDestinationsPolicy": "HealthyOrPanic",
          "Active": { "Enabled": true, "Interval": "00:00:01", "Timeout": "00:00:00.500", "Policy": "ConsecutiveFailures", "Path": "/readyz" }
        },
        "Destinations": {
          '"$destinations"'
        }
      }'
  else
    rep_settings=""; rep_cluster=""
  fi
  cat >"$state/conf/shield-$n.json" <<JSON
{
$(settings shield $shield_port $shield_admin "$rep_settings")
  "ReverseProxy": {
    "Routes": { "sites": { "ClusterId": "origin", "Match": { "Hosts": [ "www.example.com" ], "Path": "{**catch-all}" } } },
    "Clusters": {
      "origin": { "Destinations": { "origin": { "Address": "http://$(addr origin):$origin_port" } } }$rep_cluster
    }
  }
}
JSON
done
cat >"$state/conf/purge-api.json" <<JSON
{
  "PurgeApi": {
    "Listen": "http://$(addr api):$api_port",
    "RatePerSecond": 1000, "RateBurst": 1000,
    "Keys": [ { "Id": "netns", "Sha256": "$key_hash", "Hosts": [ "*" ] } ],
    "Nats": { $invalidation }
  }
}
JSON

echo "Starting NATS (3 servers), the origin, the purge API, 3 shields, 3 edges..."
for h in h1 h2 h3; do start_nats "$h"; done
start_origin
for h in h1 h2 h3; do wait_url "nats-$h" "http://$(addr "$h"):$nats_monitor/healthz"; done
start_api
for n in 1 2 3; do start_node shield "h$n"; done
for n in 1 2 3; do start_node edge "h$n"; done
wait_url origin "http://$(addr origin):$origin_port/__origin/healthz"
wait_url purge-api "http://$(addr api):$api_port/readyz"
for n in 1 2 3; do wait_url "shield-$n" "http://$(addr "h$n"):$shield_admin/readyz"; done
for n in 1 2 3; do wait_url "edge-$n" "http://$(addr "h$n"):$edge_admin/readyz"; done

# Ready means: a purge is acknowledged by all six nodes (membership and the stream work across hosts).
until=$(( $(date +%s) + 60 ))
while :; do
  answer="$(purge '{"urls":["http://www.example.com/netns-ready"],"wait":true,"timeoutMs":2000}' 2>/dev/null || true)"
  acked="$(echo "$answer" | jq -r '[.acked[]?.node] | sort | join(",")' 2>/dev/null || true)"
  [ "$acked" = "edge-1,edge-2,edge-3,shield-1,shield-2,shield-3" ] && [ "$(echo "$answer" | jq -r .complete)" = true ] && break
  if [ "$(date +%s)" -ge "$until" ]; then
    echo "up.sh: no purge was acknowledged by all six nodes within 60 s; the last answer: $answer" >&2
    exit 1
  fi
  sleep 0.5
done

cat <<TXT
EdgeCache namespaces cluster '$prefix' is up (subnet $subnet.0/24, bridge $bridge, delay ${delay_ms} ms one way).
  h1 $(addr h1)  h2 $(addr h2)  h3 $(addr h3): edge :$edge_port (admin :$edge_admin), shield :$shield_port (admin :$shield_admin), NATS :$nats_port (monitor :$nats_monitor)
  purge API: http://$(addr api):$api_port  (key: $purge_key)     origin: http://$(addr origin):$origin_port (/__origin/stats)
  clients run in the namespace $(ns client): ip netns exec $(ns client) curl -si -H 'Host: www.example.com' http://$(addr h1):$edge_port/obj/1k/a
  faults: deploy/netns/cut.sh h2 | heal.sh h2 | loss.sh h2 5 (percent; 0 removes) | faults.sh (the suite)
  logs: $state/logs/*.log   stop: deploy/netns/down.sh (--wipe deletes the nodes' disks)
TXT
