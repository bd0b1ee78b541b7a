#!/usr/bin/env bash
# Starts the local CDN in the background: nats-server (JetStream), the purge API, a sample origin
# (unless ORIGIN is set), two origin shields and two edges, all on loopback. Waits until every node is ready, then prints the
# endpoints. Node data lives in deploy/local/data/ (kept by down.sh); logs and pids in run/.
#
#   deploy/local/up.sh                       # sample origin on :8000
#   ORIGIN=http://127.0.0.1:3000 deploy/local/up.sh   # every Host goes to that origin (dev catch-all)
#   SAMPLE_PUBLISHER=1 deploy/local/up.sh    # also the sample publisher app (two instances, :8060 and :8061, with
#                                            # Garnet as their HybridCache L2 on :6380), served as shop.example.com
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
run="$here/run"
data="$here/data"
mkdir -p "$run" "$data"

origin="${ORIGIN:-}"
sample="${SAMPLE_PUBLISHER:-}"
ports=(4222 8070 8081 8082 8091 8092 9081 9082 9091 9092)
[ -z "$origin" ] && ports+=(8000)
[ "$sample" = 1 ] && ports+=(6380 8060 8061)

# Refuse to start on a taken port, naming who holds it.
for p in "${ports[@]}"; do
  holder="$(ss -H -ltnp "sport = :$p" 2>/dev/null | head -n1 || true)"
  if [ -n "$holder" ]; then
    who="$(echo "$holder" | sed -n 's/.*users:((\(.*\))).*/\1/p')"
    echo "up.sh: port $p is already in use by ${who:-another process}." >&2
    echo "up.sh: stop it (or run deploy/local/down.sh if it is an earlier local CDN) and try again." >&2
    exit 1
  fi
done

if [ -n "$origin" ] && ! [[ "$origin" =~ ^https?://[^/]+/?$ ]]; then
  echo "up.sh: ORIGIN must look like http://host:port (got '$origin')." >&2
  exit 1
fi

# The invalidation stream needs a real nats-server (Debian package) with JetStream.
if ! command -v nats-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing nats-server (Debian package)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server) >"$run/apt.log" 2>&1 \
      || { cat "$run/apt.log" >&2; echo "up.sh: could not install nats-server" >&2; exit 1; }
  else
    echo "up.sh: nats-server is not installed; run: sudo apt-get install -y nats-server" >&2
    exit 1
  fi
fi

# The development purge key (README): scoped to every host. Only its SHA-256 goes into configuration.
dev_key="${EDGECACHE_DEV_PURGE_KEY:-dev-purge-key-change-me}"
dev_hash="$(printf '%s' "$dev_key" | sha256sum | cut -d' ' -f1)"

# The tiers' shared secret (EdgeCache:TierSecrets): shields keep the client's address, scheme and
# host that an edge forwards only from requests that carry it. A new one each start.
tier_secret="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"

echo "Building (Release)..."
: >"$run/build.log"
projects=(edge/EdgeCache.Edge origin-shield/EdgeCache.Shield invalidation/EdgeCache.Invalidation loadtest/EdgeCache.SampleOrigin)
[ "$sample" = 1 ] && projects+=(samples/EdgeCache.SampleL2 samples/EdgeCache.SamplePublisher)
for project in "${projects[@]}"; do
  dotnet build "$root/$project" -c Release -v quiet -nologo >>"$run/build.log" 2>&1 \
    || { cat "$run/build.log" >&2; echo "up.sh: building $project failed" >&2; exit 1; }
done

bin() { echo "$root/$1/bin/Release/net10.0/$2.dll"; }

hosts='"localhost", "127.0.0.1", "www.example.com", "img.example.com"'
if [ -n "$origin" ]; then
  match='"Path": "{**catch-all}"'
  upstream="${origin%/}"
else
  match="\"Hosts\": [ $hosts ], \"Path\": \"{**catch-all}\""
  upstream="http://127.0.0.1:8000"
fi

# The sample publisher (SAMPLE_PUBLISHER=1): its own route on both tiers, host shop.example.com, ahead of the others.
shield_routes="" shield_clusters="" edge_routes=""
if [ "$sample" = 1 ]; then
  shop='"Match": { "Hosts": [ "shop.example.com" ], "Path": "{**catch-all}" }'
  shield_routes=", \"publisher\": { \"ClusterId\": \"publisher\", \"Order\": -1, $shop }"
  shield_clusters=', "publisher": { "Destinations": { "shop-1": { "Address": "http://127.0.0.1:8060" }, "shop-2": { "Address": "http://127.0.0.1:8061" } } }'
  edge_routes=", \"publisher\": { \"ClusterId\": \"shields\", \"Order\": -1, $shop }"
fi

node_settings() { # id traffic admin [extra settings]: this node's EdgeCache section (img.example.com makes image
  # variants under /_img/ on both tiers: README, "Image variants"; the sample origin serves /images/...)
  cat <<JSON
  "EdgeCache": {
    "NodeId": "$1",${4:-}
    "TierSecrets": [ "$tier_secret" ],
    "Hosts": { "img.example.com": { "Images": { "Enabled": true } } },
    "Listen": { "Traffic": [ "http://127.0.0.1:$2" ], "Admin": "http://127.0.0.1:$3" },
    "Disk": { "Directory": "$data/$1", "BudgetBytes": ${EDGECACHE_DISK_BUDGET:-4294967296}, "CheckpointInterval": "00:00:30" },
    "Invalidation": { "NatsUrl": "nats://127.0.0.1:4222" }
  },
JSON
}

write_shield() { # id traffic admin
  # Each object gets a second home on the other shield (EdgeCache:Replication; README, "Warm failover"): the
  # shields list each other in "peers", taken from NATS membership like the edges' list, these two the fallback.
  cat >"$run/$1.json" <<JSON
{
$(node_settings "$1" "$2" "$3" '
    "Replication": { "Enabled": true, "Cluster": "peers" },
    "ShieldDiscovery": { "Enabled": true, "Cluster": "peers" },')
  "ReverseProxy": {
    "Routes": { "sites": { "ClusterId": "origin", "Match": { $match } }$shield_routes },
    "Clusters": {
      "origin": { "Destinations": { "origin": { "Address": "$upstream" } } }$shield_clusters,
      "peers": {
        "HealthCheck": {
          "AvailableDestinationsPolicy": "HealthyOrPanic",
          "Active": { "Enabled": true, "Interval": "00:00:02", "Timeout": "00:00:01", "Policy": "ConsecutiveFailures", "Path": "/readyz" }
        },
        "Destinations": {
          "shield-a": { "Address": "http://127.0.0.1:8091", "Health": "http://127.0.0.1:9091" },
          "shield-b": { "Address": "http://127.0.0.1:8092", "Health": "http://127.0.0.1:9092" }
        }
      }
    }
  }
}
JSON
}

write_edge() { # id traffic admin
  # Edges take the shields from NATS membership; the two configured below are the fallback.
  cat >"$run/$1.json" <<JSON
{
$(node_settings "$1" "$2" "$3" '
    "ShieldDiscovery": { "Enabled": true },')
  "ReverseProxy": {
    "Routes": { "sites": { "ClusterId": "shields", "Match": { $match } }$edge_routes },
    "Clusters": {
      "shields": {
        "LoadBalancingPolicy": "EdgeCacheConsistentHash",
        "HealthCheck": {
          "AvailableDestinationsPolicy": "HealthyOrPanic",
          "Active": { "Enabled": true, "Interval": "00:00:02", "Timeout": "00:00:01", "Policy": "ConsecutiveFailures", "Path": "/readyz" },
          "Passive": { "Enabled": true, "Policy": "TransportFailureRate", "ReactivationPeriod": "00:00:05" }
        },
        "Destinations": {
          "shield-a": { "Address": "http://127.0.0.1:8091", "Health": "http://127.0.0.1:9091" },
          "shield-b": { "Address": "http://127.0.0.1:8092", "Health": "http://127.0.0.1:9092" }
        }
      }
    }
  }
}
JSON
}

start() { # name dll [args...]
  local name="$1" dll="$2"; shift 2
  mkdir -p "$data/$name"
  EDGECACHE_CONFIG_FILE="$run/$name.json" nohup dotnet "$dll" "$@" >"$run/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
}

mkdir -p "$data/nats"
nohup nats-server -js -a 127.0.0.1 -p 4222 -sd "$data/nats" -n edgecache-local >"$run/nats.log" 2>&1 &
echo $! >"$run/nats.pid"
cat >"$run/purge-api.json" <<JSON
{
  "PurgeApi": {
    "Listen": "http://127.0.0.1:8070",
    "Keys": [ { "Id": "dev", "Sha256": "$dev_hash", "Hosts": [ "*" ] } ],
    "Nats": { "NatsUrl": "nats://127.0.0.1:4222" },
    "Warm": { "TierSecret": "$tier_secret" }
  }
}
JSON
start purge-api "$(bin invalidation/EdgeCache.Invalidation EdgeCache.Invalidation)"

if [ -z "$origin" ]; then
  nohup dotnet "$(bin loadtest/EdgeCache.SampleOrigin EdgeCache.SampleOrigin)" --urls http://127.0.0.1:8000 >"$run/origin.log" 2>&1 &
  echo $! >"$run/origin.pid"
fi
if [ "$sample" = 1 ]; then
  mkdir -p "$data/sample-publisher"
  # Their shared L2 (Garnet, in memory), then two instances of the app: one database, one L2, and the purge
  # API's event feed as their HybridCache backplane.
  nohup dotnet "$(bin samples/EdgeCache.SampleL2 EdgeCache.SampleL2)" >"$run/sample-l2.log" 2>&1 &
  echo $! >"$run/sample-l2.pid"
  for i in 1 2; do
    SamplePublisher__Listen="http://127.0.0.1:806$((i - 1))" SamplePublisher__Database="$data/sample-publisher/catalogue.db" \
    SamplePublisher__L2=127.0.0.1:6380 EdgeCacheClient__ApiKey="$dev_key" EdgeCacheInvalidation__InstanceId="shop-$i" \
      nohup dotnet "$(bin samples/EdgeCache.SamplePublisher EdgeCache.SamplePublisher)" --contentRoot "$root/samples/EdgeCache.SamplePublisher" >"$run/sample-publisher-$i.log" 2>&1 &
    echo $! >"$run/sample-publisher-$i.pid"
  done
fi
write_shield shield-a 8091 9091; start shield-a "$(bin origin-shield/EdgeCache.Shield EdgeCache.Shield)"
write_shield shield-b 8092 9092; start shield-b "$(bin origin-shield/EdgeCache.Shield EdgeCache.Shield)"
write_edge edge-1 8081 9081; start edge-1 "$(bin edge/EdgeCache.Edge EdgeCache.Edge)"
write_edge edge-2 8082 9082; start edge-2 "$(bin edge/EdgeCache.Edge EdgeCache.Edge)"

wait_ready() { # name url
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; then
      echo "up.sh: $1 exited during start-up; its log ($run/$1.log) ends with:" >&2
      tail -n 20 "$run/$1.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "up.sh: $1 was not ready within 60 s (see $run/$1.log)" >&2
  exit 1
}

[ -z "$origin" ] && wait_ready origin http://127.0.0.1:8000/__origin/stats
wait_ready purge-api http://127.0.0.1:8070/readyz
if [ "$sample" = 1 ]; then
  wait_ready sample-publisher-1 http://127.0.0.1:8060/products
  wait_ready sample-publisher-2 http://127.0.0.1:8061/products
fi
wait_ready shield-a http://127.0.0.1:9091/readyz
wait_ready shield-b http://127.0.0.1:9092/readyz
wait_ready edge-1 http://127.0.0.1:9081/readyz
wait_ready edge-2 http://127.0.0.1:9082/readyz

cat <<TXT
EdgeCache local CDN is up.
  edges:   http://127.0.0.1:8081  http://127.0.0.1:8082   (admin :9081 :9082)
  shields: http://127.0.0.1:8091  http://127.0.0.1:8092   (admin :9091 :9092)
  origin:  ${origin:-http://127.0.0.1:8000 (sample origin; request counts at /__origin/stats)}
  purge:   http://127.0.0.1:8070  (key: $dev_key)   NATS: nats://127.0.0.1:4222
  logs:    $run/*.log      data: $data
Try:  curl -si -H 'Host: www.example.com' http://127.0.0.1:8081/hello
      curl -s -o cat.webp -H 'Host: img.example.com' -H 'Accept: image/webp' 'http://127.0.0.1:8081/_img/width=400,format=auto/images/photo.jpg'
      curl -s -H 'Authorization: Bearer $dev_key' -d '{"urls":["http://www.example.com/hello"],"wait":true}' http://127.0.0.1:8070/purge
Stop: deploy/local/down.sh   (add --wipe to delete the data too)
TXT
if [ "$sample" = 1 ]; then
  cat <<TXT
Sample publisher: http://127.0.0.1:8060 and :8061 (L2: Garnet on 127.0.0.1:6380), through the CDN as shop.example.com:
      curl -si -H 'Host: shop.example.com' http://127.0.0.1:8081/products/1
      curl -s -X PUT -H 'Content-Type: application/json' -d '{"name":"Espresso cup","price":11}' http://127.0.0.1:8060/products/1
      curl -si http://127.0.0.1:8061/products/1     # the other instance: its HybridCache was cleared too
TXT
fi
