#!/usr/bin/env bash
# A large catalogue, in the shape of an image CDN: does every tier keep what it stored, does the
# disk tier stay within its budget, and how fast are the reads afterwards? The steps, the same for
# every peer, one peer at a time:
#   1. warm: OBJECTS objects of SIZE fetched once, CLIENTS clients in parallel (each object once);
#   2. again: the same objects fetched a second time the same way: the origin must see 0 requests
#      and the edge itself must answer (not its shield, not the origin);
#   3. read: ROUNDS rounds of DURATION of uniform random reads over the set (wrk, seeded).
# Peers: EdgeCache (one edge in front of one shield, each with a memory tier of MEMORY_MIB and a disk
# tier of DISK_MIB), nginx proxy_cache (max_size DISK_MIB) and Varnish (file storage of DISK_MIB).
# While the passes run, the EdgeCache stores' files are summed every 0.2 s: the largest total is
# printed next to the budget.
#
#   loadtest/catalogue.sh                                   # 20,000 x 100 KiB, as in issue 23
#   OBJECTS=4000 PEERS=edgecache loadtest/catalogue.sh      # a quick look
#
# Settings (environment): OBJECTS (20000), SIZE (100k), CLIENTS (8), MEMORY_MIB (256),
# DISK_MIB (6144), ROUNDS (3), DURATION (8s), CONNECTIONS (64), PEERS ("edgecache nginx varnish"),
# EDGE_SETTINGS / SHIELD_SETTINGS (extra JSON members of each node's EdgeCache section, starting
# with a comma). Ports 19000-19099. Results in loadtest/results/catalogue-<time>/ (git-ignored).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
OBJECTS="${OBJECTS:-20000}"
SIZE="${SIZE:-100k}"
CLIENTS="${CLIENTS:-8}"
MEMORY_MIB="${MEMORY_MIB:-256}"
DISK_MIB="${DISK_MIB:-6144}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-8s}"
CONNECTIONS="${CONNECTIONS:-64}"
PEERS="${PEERS:-edgecache nginx varnish}"
EDGE_SETTINGS="${EDGE_SETTINGS:-}"
SHIELD_SETTINGS="${SHIELD_SETTINGS:-}"
P_ORIGIN=19000 P_SHIELD=19010 P_SHIELD_ADMIN=19011 P_EDGE=19020 P_EDGE_ADMIN=19021 P_NGINX=19030 P_VARNISH=19040 P_VARNISH_CLI=19041

results="$root/loadtest/results/catalogue-$(date -u +%Y%m%dT%H%M%S)"
work="$(mktemp -d /tmp/edgecache-catalogue.XXXXXX)"
mkdir -p "$results"
say() { echo "$*" | tee -a "$results/summary.txt"; }
die() { echo "catalogue.sh: $*" >&2; exit 1; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
start() { # log command...
  local log="$1"; shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
}
wait_http() { # url
  for _ in $(seq 1 300); do curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0; sleep 0.2; done
  die "$1 did not answer within 60 s (logs in $results)"
}
# What is missing comes from Debian (as bench.sh does), without letting the packages' services start.
need=()
command -v wrk >/dev/null || need+=(wrk)
[[ " $PEERS " == *" nginx "* ]] && ! command -v nginx >/dev/null && need+=(nginx)
[[ " $PEERS " == *" varnish "* ]] && ! command -v varnishd >/dev/null && need+=(varnish)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "needs ${need[*]} (Debian packages); run as root to install them"
  made_policy=0
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1; }
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >"$results/apt.log" 2>&1 || die "could not install ${need[*]} (see $results/apt.log)"
  [ $made_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
fi
for c in wrk curl; do command -v "$c" >/dev/null || die "$c is needed (Debian: $c)"; done
for p in $P_ORIGIN $P_SHIELD $P_SHIELD_ADMIN $P_EDGE $P_EDGE_ADMIN $P_NGINX $P_VARNISH $P_VARNISH_CLI; do
  [ -z "$(ss -H -ltn "sport = :$p" 2>/dev/null)" ] || die "port $p is in use"
done

say "catalogue: $OBJECTS x $SIZE, $CLIENTS clients, memory ${MEMORY_MIB} MiB, disk ${DISK_MIB} MiB, reads ${ROUNDS} x $DURATION (-c$CONNECTIONS), peers: $PEERS"
for project in edge/EdgeCache.Edge origin-shield/EdgeCache.Shield loadtest/EdgeCache.LoadOrigin; do
  dotnet build "$root/$project" -c Release -nologo -v quiet >>"$results/build.log" 2>&1 || die "building $project failed (see $results/build.log)"
  cp -r "$root/$project/bin/Release/net10.0" "$work/bin-$(basename "$project")"
done
dll() { echo "$work/bin-$1/$1.dll"; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

start "$results/origin.log" dotnet "$(dll EdgeCache.LoadOrigin)" --urls "http://127.0.0.1:$P_ORIGIN"
wait_http "http://127.0.0.1:$P_ORIGIN/__origin/healthz"
origin_requests() { curl -fsS "http://127.0.0.1:$P_ORIGIN/__origin/stats?paths=0" | sed -E 's/.*"requests":([0-9]+).*/\1/'; }

# Each client fetches its share of the set with one curl on one kept-alive connection; every
# response is one line: status, bytes, and the header that says whether the cache hit.
for c in $(seq 0 $((CLIENTS - 1))); do : >"$work/urls-$c"; done
seq 1 "$OBJECTS" | awk -v n="$CLIENTS" -v size="$SIZE" -v w="$work" '{ print "/obj/" size "/c" $1 > (w "/urls-" ($1 % n)) }'
pass() { # port header-name -> one line per response in $work/pass.out
  local port="$1" header="$2" clients=()
  for c in $(seq 0 $((CLIENTS - 1))); do
    sed "s|^|url = \"http://127.0.0.1:$port|; s|\$|\"\noutput = \"/dev/null\"|" "$work/urls-$c" >"$work/curl-$c"
    curl -sS --config "$work/curl-$c" -w "%{http_code} %{size_download} %header{$header}\n" >"$work/pass-$c.out" &
    clients+=($!)
  done
  wait "${clients[@]}"
  cat "$work"/pass-*.out >"$work/pass.out"
}
lua="$work/random.lua"
cat >"$lua" <<LUA
math.randomseed(42)
request = function() return wrk.format("GET", "/obj/$SIZE/c" .. math.random(1, $OBJECTS)) end
LUA
bytes_of() { find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
sampler() { # dir... -> the largest total of the files' sizes, in $work/max-<n>
  : >"$work/sampling"
  (
    declare -A max
    while [ -e "$work/sampling" ]; do
      for d in "$@"; do
        b="$(bytes_of "$d")"; n="$(basename "$d")"
        if [ "$b" -gt "${max[$n]:-0}" ]; then max[$n]=$b; echo "$b" >"$work/max-$n"; fi
      done
      sleep 0.2
    done
  ) &
  sampler_pid=$!
}
mib() { awk -v b="$1" 'BEGIN {printf "%.0f MiB", b / 1048576}'; }

run_peer() { # peer port header hit-pattern
  local peer="$1" port="$2" header="$3" hit="$4" before after total misses wrong
  for step in warm again; do
    before="$(origin_requests)"
    pass "$port" "$header"
    after="$(origin_requests)"
    total="$(wc -l <"$work/pass.out")"
    wrong="$(awk '$1 != 200' "$work/pass.out" | wc -l)"
    misses="$(grep -Evc "$hit" "$work/pass.out" || true)"
    say "$peer $step: $total requests, $wrong not 200, origin requests $((after - before)), answered by the edge itself $((total - misses)) ($(awk -v t="$total" -v m="$misses" 'BEGIN {printf "%.2f", 100 * (t - m) / t}')%)"
    cp "$work/pass.out" "$results/$peer-$step.txt"
  done
  for r in $(seq 1 "$ROUNDS"); do
    out="$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$lua" "http://127.0.0.1:$port")"
    echo "$out" >"$results/$peer-read-$r.txt"
    say "$peer read $r: $(echo "$out" | awk '/Requests\/sec/ {print $2}') req/s  p50 $(echo "$out" | awk '$1=="50%" {print $2}')  p99 $(echo "$out" | awk '$1=="99%" {print $2}') $(echo "$out" | grep -E 'Non-2xx|Socket errors' | tr '\n' ' ' || true)"
  done
}

if [[ " $PEERS " == *" edgecache "* ]]; then
  mkdir -p "$work/data/shield" "$work/data/edge"
  node() { # file id traffic admin cluster extra
    cat >"$1" <<JSON
{
  "Logging": { "LogLevel": { "Default": "Warning" } },
  "EdgeCache": {
    "NodeId": "$2",
    "MemoryBudgetBytes": $((MEMORY_MIB * 1048576)),
    "Listen": { "Traffic": [ "http://127.0.0.1:$3" ], "Admin": "http://127.0.0.1:$4" },
    "Disk": { "Directory": "$work/data/$2", "BudgetBytes": $((DISK_MIB * 1048576)) }$6
  },
  "ReverseProxy": {
    "Routes": { "sites": { "ClusterId": "upstream", "Match": { "Path": "{**catch-all}" } } },
    "Clusters": { "upstream": $5 }
  }
}
JSON
  }
  node "$work/shield.json" shield $P_SHIELD $P_SHIELD_ADMIN "{ \"Destinations\": { \"origin\": { \"Address\": \"http://127.0.0.1:$P_ORIGIN\" } } }" "$SHIELD_SETTINGS"
  node "$work/edge.json" edge $P_EDGE $P_EDGE_ADMIN "{ \"LoadBalancingPolicy\": \"EdgeCacheConsistentHash\", \"Destinations\": { \"shield\": { \"Address\": \"http://127.0.0.1:$P_SHIELD\", \"Health\": \"http://127.0.0.1:$P_SHIELD_ADMIN\" } } }" "$EDGE_SETTINGS"
  start "$results/shield.log" env EDGECACHE_CONFIG_FILE="$work/shield.json" dotnet "$(dll EdgeCache.Shield)"
  start "$results/edge.log" env EDGECACHE_CONFIG_FILE="$work/edge.json" dotnet "$(dll EdgeCache.Edge)"
  wait_http "http://127.0.0.1:$P_SHIELD_ADMIN/readyz"
  wait_http "http://127.0.0.1:$P_EDGE_ADMIN/readyz"
  sampler "$work/data/shield" "$work/data/edge"
  run_peer edgecache $P_EDGE cache-status 'EdgeCache-Edge; hit'
  rm -f "$work/sampling"; wait "$sampler_pid" || true
  for n in shield edge; do
    admin=$P_EDGE_ADMIN; [ $n = shield ] && admin=$P_SHIELD_ADMIN
    curl -fsS "http://127.0.0.1:$admin/metrics" >"$results/$n-metrics.txt" || true
    say "edgecache $n: store files at most $(mib "$(cat "$work/max-$n" 2>/dev/null || echo 0)") (now $(mib "$(bytes_of "$work/data/$n")")), budget $(mib $((DISK_MIB * 1048576)));" \
      "$(grep -E '^edgecache_disk_writes_(dropped|delayed)' "$results/$n-metrics.txt" | tr '\n' ' ')"
    pid="$(ss -H -ltnp "sport = :$admin" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1)"
    [ -n "$pid" ] && say "edgecache $n: peak RSS $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/"$pid"/status)"
  done
fi

if [[ " $PEERS " == *" nginx "* ]] && command -v nginx >/dev/null; then
  mkdir -p "$work/nginx/cache" "$work/nginx/tmp"
  # Workers run as www-data when started as root (bench.sh does the same): they own the cache.
  chmod 755 "$work"
  id www-data >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && chown -R www-data "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<NGINX
$( [ "$(id -u)" -eq 0 ] && id www-data >/dev/null 2>&1 && echo "user www-data;" )
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  open_file_cache max=30000 inactive=60s;
  client_body_temp_path $work/nginx/tmp/client;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=cat:64m max_size=${DISK_MIB}m inactive=1h use_temp_path=off;
  upstream origin { server 127.0.0.1:$P_ORIGIN; keepalive 64; }
  server {
    listen 127.0.0.1:$P_NGINX;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache cat;
      proxy_cache_lock on;
      add_header X-Cache-Status \$upstream_cache_status always;
    }
  }
}
NGINX
  start "$results/nginx.log" nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf"
  wait_http "http://127.0.0.1:$P_NGINX/obj/1k/ready"
  run_peer nginx $P_NGINX x-cache-status 'HIT'
fi

if [[ " $PEERS " == *" varnish "* ]] && command -v varnishd >/dev/null; then
  mkdir -p "$work/varnish"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/varnish-secret"
  cat >"$work/varnish.vcl" <<VCL
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$P_ORIGIN"; }
sub vcl_deliver { if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; } }
VCL
  start "$results/varnish.log" varnishd -F -n "$work/varnish" -a "127.0.0.1:$P_VARNISH" -f "$work/varnish.vcl" \
    -s "file,$work/varnish/storage.bin,${DISK_MIB}M" -T "127.0.0.1:$P_VARNISH_CLI" -S "$work/varnish-secret"
  wait_http "http://127.0.0.1:$P_VARNISH/obj/1k/ready"
  run_peer varnish $P_VARNISH x-cache 'HIT'
fi
say "results: $results"
