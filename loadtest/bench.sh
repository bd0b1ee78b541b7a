#!/usr/bin/env bash
# Side-by-side benchmark of EdgeCache's hit and miss paths against Varnish, nginx proxy_cache and
# Apache Traffic Server in front of the same origin, plus bare Kestrel serving a byte[] (the
# ceiling for any .NET server here). Everything binds to 127.0.0.1 on ports 18000-18999, so it
# never clashes with the local CDN (8000-9092).
#
#   loadtest/bench.sh                          # DURATION=10s ROUNDS=3 CONNECTIONS=64 THREADS=1
#   DURATION=3s ROUNDS=1 loadtest/bench.sh     # a quick look
#   PEERS="edgecache nginx ceiling" ROWS="1k miss" loadtest/bench.sh
#
# It installs what it lacks from Debian (wrk, varnish, nginx, trafficserver; a peer whose package
# is not available is skipped, said clearly), builds the .NET pieces (Release), starts one origin
# (loadtest/EdgeCache.LoadOrigin), EdgeCache (one edge in front of one shield), Varnish (default
# VCL), nginx (proxy_cache, tuned), Traffic Server (caching reverse proxy) and the Kestrel ceiling,
# warms every cache and checks with response headers that it really caches, then runs identical
# `wrk --latency` runs against each peer in turn (A B C ... A B C ...), ROUNDS rounds.
#
# Rows: 1 KiB, 100 KiB and 1 MiB hits; EdgeCache L2 (disk) hits (an edge whose memory tier holds
# nothing, so every hit is read from its disk tier); the miss path (a unique URL per request, via a
# wrk Lua script; for EdgeCache that is edge -> shield -> origin).
# TLS rows (selected with ROWS; not in the default run, which would then take over 20 minutes):
# tls-1k, tls-100k, tls-1m are HTTP/1.1 hits over TLS (wrk against https://), h2-1k and h2-100k are
# HTTP/2 hits over TLS (h2load from Debian's nghttp2-client, H2_CONNECTIONS connections with
# H2_STREAMS concurrent streams each). One self-signed certificate (made here with openssl) serves
# EdgeCache's https endpoint, nginx (ssl, http2, ssl_session_cache) and Traffic Server
# (ssl_multicert, HTTP/2 by ALPN) and the Kestrel ceiling (Kestrel's TLS, HTTP/2 by ALPN: what any
# .NET server gets before doing any work); Varnish has no TLS and sits these rows out.
# The table gives per peer the median over rounds of req/s, p50 and p99; and EdgeCache's ratio to
# the best peer and to the Kestrel ceiling, computed per round between back-to-back runs, as the
# median of the rounds with their spread (min-max).
# Raw wrk output, logs and the table go to loadtest/results/bench-<time>/ (git-ignored).
# Everything it started is stopped on exit, including on Ctrl-C.
#
# Settings (environment): DURATION (10s), ROUNDS (3), CONNECTIONS (64), THREADS (1),
# PEERS ("edgecache varnish nginx ats ceiling"), ROWS ("1k 100k 1m l2 miss"), L2_SIZE (100k),
# MISS_SIZE (1k), H2_CONNECTIONS (16), H2_STREAMS (10), BUILD_LOCK (/tmp/build.lock: builds are serialised with flock on it);
# EDGE_ENV (NAME=value words for the hit-path edge process, to compare settings; default none, the
# product defaults; e.g. "EdgeCache__Listen__InlineScheduling=true"; the table's first line names it);
# EDGE_BIN (a directory with an EdgeCache.Edge build of another commit, used for the edge instead of
# this tree's: before/after comparisons, e.g. `git stash; dotnet build edge/EdgeCache.Edge -c Release
# -o /tmp/edge-before; git stash pop`; the table's first line names it).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-1}"
PEERS="${PEERS:-edgecache varnish nginx ats ceiling}"
ROWS="${ROWS:-1k 100k 1m l2 miss}"
L2_SIZE="${L2_SIZE:-100k}"
MISS_SIZE="${MISS_SIZE:-1k}"
BUILD_LOCK="${BUILD_LOCK:-/tmp/build.lock}"
EDGE_ENV="${EDGE_ENV:-}"
H2_CONNECTIONS="${H2_CONNECTIONS:-16}"
H2_STREAMS="${H2_STREAMS:-10}"
ALL_ROWS="1k 100k 1m l2 miss tls-1k tls-100k tls-1m h2-1k h2-100k"

# print_table RUNS_TSV CONFIG_TEXT: per row and peer the medians over rounds of req/s, p50 and p99;
# EdgeCache's ratio to the best peer and to the Kestrel ceiling, computed per round between
# back-to-back runs, as the median of the rounds and their spread (min-max). L2_NA=1 adds the L2
# row as "n/a until the disk tier lands".
print_table() {
  local runs_file="$1" cfg="$2" rows_in="" peers_in r
  for r in $ALL_ROWS; do
    if awk -F'\t' -v r="$r" 'NR > 1 && $2 == r {found = 1} END {exit !found}' "$runs_file" \
       || { [ "$r" = l2 ] && [ "${L2_NA:-0}" = 1 ]; }; then
      rows_in="$rows_in $r"
    fi
  done
  peers_in="$(awk -F'\t' 'NR > 1 && !seen[$3]++ {printf "%s ", $3}' "$runs_file")"
  awk -F'\t' -v rows="$rows_in" -v peers="$peers_in" -v l2size="$L2_SIZE" -v misssize="$MISS_SIZE" -v cfg="$cfg" '
function median(a, n,    i, j, t, b) {
  for (i = 1; i <= n; i++) b[i] = a[i]
  for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
  return n == 0 ? "" : (n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2)
}
function spread(a, n,    i, lo, hi) {
  lo = a[1]; hi = a[1]
  for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
  return n == 1 ? "1 round" : sprintf("rounds %.2f-%.2f", lo, hi)
}
function label(r) {
  if (r == "1k") return "1 KiB hit"; if (r == "100k") return "100 KiB hit"; if (r == "1m") return "1 MiB hit"
  if (r == "l2") return "EdgeCache L2 (disk) hit, " l2size; if (r == "miss") return "miss path (" misssize ", unique URLs)"
  if (r == "tls-1k") return "1 KiB hit, HTTP/1.1 TLS"; if (r == "tls-100k") return "100 KiB hit, HTTP/1.1 TLS"
  if (r == "tls-1m") return "1 MiB hit, HTTP/1.1 TLS"; if (r == "h2-1k") return "1 KiB hit, HTTP/2 TLS"
  if (r == "h2-100k") return "100 KiB hit, HTTP/2 TLS"
  return r
}
function ms(v) { return v == "" ? "-" : (v >= 100 ? sprintf("%.0fms", v) : sprintf("%.2fms", v)) }
NR > 1 {
  k = $2 SUBSEP $3
  n[k]++; rps[k, n[k]] = $4; p50[k, n[k]] = $5; p99[k, n[k]] = $6; err[k] += $7
  at[$1, $2, $3] = $4; if ($1 + 0 > maxround) maxround = $1 + 0
}
END {
  nr = split(rows, R, " "); np = split(peers, P, " ")
  printf "EdgeCache side-by-side benchmark (%s)\n", cfg
  printf "req/s, p50 and p99 are medians over rounds; ratios are per round, median and spread.\n\n"
  printf "%-32s %-10s %10s %9s %9s  %s\n", "row", "peer", "req/s", "p50", "p99", "req/s per round"
  printf "%s\n", "---------------------------------------------------------------------------------------------"
  for (i = 1; i <= nr; i++) {
    r = R[i]
    if (!((r SUBSEP "edgecache") in n) && r == "l2") { printf "%-32s n/a until the disk tier lands\n\n", label(r); continue }
    first = 1
    for (j = 1; j <= np; j++) {
      p = P[j]; k = r SUBSEP p
      if (!(k in n)) continue
      cnt = n[k]; split("", a); split("", b); split("", c)
      for (x = 1; x <= cnt; x++) { a[x] = rps[k, x]; b[x] = p50[k, x]; c[x] = p99[k, x] }
      per = ""; for (x = 1; x <= cnt; x++) per = per (x > 1 ? " " : "") sprintf("%.0f", a[x])
      printf "%-32s %-10s %10.0f %9s %9s  %s%s\n", (first ? label(r) : ""), p, median(a, cnt), ms(median(b, cnt)), ms(median(c, cnt)), per, (err[k] > 0 ? sprintf("  (%d errors)", err[k]) : "")
      first = 0
    }
    # The L2 row compares with the peers at the same object size.
    cmp = (r == "l2") ? l2size : r
    nb = 0; nc = 0; split("", rb); split("", rc); split("", seenbest); bestname = ""
    for (rd = 1; rd <= maxround; rd++) {
      if (!((rd, r, "edgecache") in at)) continue
      ec = at[rd, r, "edgecache"]; best = 0; bp = ""
      for (j = 1; j <= np; j++) {
        p = P[j]; if (p == "edgecache" || p == "ceiling") continue
        if (((rd, cmp, p) in at) && at[rd, cmp, p] + 0 > best) { best = at[rd, cmp, p] + 0; bp = p }
      }
      if (best > 0) { rb[++nb] = ec / best; if (!(bp in seenbest)) { seenbest[bp] = 1; bestname = bestname (bestname == "" ? "" : "/") bp } }
      if (((rd, cmp, "ceiling") in at) && at[rd, cmp, "ceiling"] > 0) rc[++nc] = ec / at[rd, cmp, "ceiling"]
    }
    if (nb > 0) printf "%-32s -> EdgeCache / best peer (%s): %.2fx (%s)\n", "", bestname, median(rb, nb), spread(rb, nb)
    if (nc > 0) printf "%-32s -> EdgeCache / Kestrel ceiling: %.2fx (%s)\n", "", median(rc, nc), spread(rc, nc)
    if (r == "l2" && (nb > 0 || nc > 0)) printf "%-32s    (against their %s memory hits)\n", "", l2size
    printf "\n"
  }
}' "$runs_file"
}

if [ "${1:-}" = "--table" ]; then
  # Re-print the table of an earlier run: loadtest/bench.sh --table loadtest/results/bench-<time>
  [ -f "${2:-}/runs.tsv" ] || { echo "usage: $0 --table loadtest/results/bench-<time>" >&2; exit 2; }
  print_table "$2/runs.tsv" "$(cat "$2/config.txt" 2>/dev/null || echo "$2")"
  exit 0
fi

# Ports (all on 127.0.0.1).
P_ORIGIN=18000
P_SHIELD=18091 P_SHIELD_ADMIN=18191
P_EDGE=18081 P_EDGE_ADMIN=18181
P_EDGE_L2=18082 P_EDGE_L2_ADMIN=18182
P_VARNISH=18101 P_VARNISH_CLI=18102
P_NGINX=18103
P_ATS=18104
P_CEILING=18105
P_EDGE_TLS=18084 P_NGINX_TLS=18106 P_ATS_TLS=18107 P_CEILING_TLS=18108

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
results="$root/loadtest/results/bench-$stamp"
mkdir -p "$results/wrk" "$results/logs"
work="$(mktemp -d /tmp/edgecache-bench.XXXXXX)"
# Varnish, nginx and Traffic Server drop privileges to their own users: they must reach their dirs.
chmod 755 "$work"

t_start=$SECONDS
say() { printf '%s\n' "$*" | tee -a "$results/bench.log"; }
elapsed() { printf '[%02d:%02d]' $(((SECONDS - t_start) / 60)) $(((SECONDS - t_start) % 60)); }
die() { say "bench.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Cleanup: stop everything we started, newest first, even on Ctrl-C.
pids=()
names=()
wrk_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "${wrk_pid:-}" ]; then kill -TERM "$wrk_pid" 2>/dev/null || true; fi
  if [ ${#pids[@]} -gt 0 ]; then
    echo "bench.sh: stopping what it started..." >&2
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
      kill -TERM "${pids[$i]}" 2>/dev/null || true
    done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
      for _ in $(seq 1 50); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "${pids[$i]}" 2>/dev/null; then
        echo "bench.sh: ${names[$i]} (pid ${pids[$i]}) did not stop on TERM; killing it" >&2
        kill -KILL "${pids[$i]}" 2>/dev/null || true
      fi
    done
  fi
  # Keep the peers' logs with the results; drop caches and binaries.
  for f in "$work"/*.log "$work"/nginx/error.log "$work"/ats/log/diags.log "$work"/ats/log/error.log; do
    [ -f "$f" ] && cp "$f" "$results/logs/" 2>/dev/null || true
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'echo; echo "bench.sh: interrupted" >&2; exit 130' INT TERM

# start NAME LOGFILE COMMAND...: runs a command in the background and remembers its pid.
start() {
  local name="$1" log="$2"; shift 2
  "$@" >"$log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

wait_http() { # name url [seconds]
  local name="$1" url="$2" secs="${3:-60}"
  for _ in $(seq 1 $((secs * 5))); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  say "bench.sh: $name did not answer $url within ${secs}s"
  return 1
}

port_free() { [ -z "$(ss -H -ltn "sport = :$1" 2>/dev/null)" ]; }

has_peer() { [[ " $PEERS " == *" $1 "* ]]; }
has_row() { [[ " $ROWS " == *" $1 "* ]]; }
drop_peer() { # peer reason
  PEERS="$(echo " $PEERS " | sed "s/ $1 / /" | xargs)"
  say "SKIPPED $1: $2"
}

# ---------------------------------------------------------------------------------------------
# Tools: install what is missing from Debian; a peer whose package cannot be had is skipped.
apt_updated=0
apt_install() { # package...
  if [ "$(id -u)" -ne 0 ]; then return 1; fi
  if [ $apt_updated -eq 0 ]; then apt-get update -qq >>"$results/logs/apt.log" 2>&1 || true; apt_updated=1; fi
  # Do not let the packages' services start (they would take ports 80/8080 and run on).
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$results/logs/apt.log" 2>&1 || rc=$?
  [ $made_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}

available() { # package: has an installation candidate
  local c
  c="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

ensure() { # command package peer|"" (peer "" = required)
  local cmd="$1" pkg="$2" peer="$3"
  command -v "$cmd" >/dev/null 2>&1 && return 0
  [ -n "$peer" ] && ! has_peer "$peer" && return 0
  if [ "$(id -u)" -eq 0 ] && [ $apt_updated -eq 0 ]; then apt-get update -qq >>"$results/logs/apt.log" 2>&1 || true; apt_updated=1; fi
  if ! available "$pkg"; then
    [ -z "$peer" ] && die "$cmd is needed and Debian package '$pkg' is not available (apt-cache policy $pkg)."
    drop_peer "$peer" "Debian package '$pkg' is not available here (apt-cache policy $pkg shows no candidate)"
    return 0
  fi
  say "installing $pkg from Debian..."
  if ! apt_install "$pkg" || ! command -v "$cmd" >/dev/null 2>&1; then
    [ -z "$peer" ] && die "could not install $pkg (see $results/logs/apt.log; installing needs root)."
    drop_peer "$peer" "could not install Debian package '$pkg' (see $results/logs/apt.log)"
  fi
}

for c in curl ss; do command -v "$c" >/dev/null || die "$c is needed (Debian: curl, iproute2)"; done
ensure wrk wrk ""
ensure varnishd varnish varnish
ensure nginx nginx nginx
ensure traffic_server trafficserver ats

# TLS rows: one certificate for every peer; h2load for the HTTP/2 rows.
tls_rows=0 h2_rows=0
for r in $ROWS; do
  case "$r" in tls-*) tls_rows=1 ;; h2-*) tls_rows=1; h2_rows=1 ;; esac
done
is_tls_row() { case "$1" in tls-*|h2-*) return 0 ;; esac; return 1; }
tls_peer() { case "$1" in edgecache|nginx|ats|ceiling) return 0 ;; esac; return 1; }
[ $tls_rows -eq 1 ] && ensure openssl openssl ""
[ $h2_rows -eq 1 ] && ensure h2load nghttp2-client ""

# ---------------------------------------------------------------------------------------------
# Ports must be free.
for p in $P_ORIGIN $P_SHIELD $P_SHIELD_ADMIN $P_EDGE $P_EDGE_ADMIN $P_EDGE_L2 $P_EDGE_L2_ADMIN \
         $P_VARNISH $P_VARNISH_CLI $P_NGINX $P_ATS $P_CEILING $P_EDGE_TLS $P_NGINX_TLS $P_ATS_TLS $P_CEILING_TLS; do
  if ! port_free "$p"; then
    die "port $p is in use ($(ss -H -ltnp "sport = :$p" | sed -n 's/.*users:((\(.*\))).*/\1/p' | head -n1)); stop it and try again."
  fi
done

# ---------------------------------------------------------------------------------------------
# Build (Release) and copy the binaries, so a rebuild during the run cannot change them.
say "$(elapsed) building (Release; waits for the build lock $BUILD_LOCK if another build holds it)..."
lock() { if command -v flock >/dev/null; then flock "$BUILD_LOCK" "$@"; else "$@"; fi; }
for project in edge/EdgeCache.Edge origin-shield/EdgeCache.Shield loadtest/EdgeCache.LoadOrigin loadtest/EdgeCache.Ceiling; do
  lock dotnet build "$root/$project" -c Release -nologo -v quiet >>"$results/logs/build.log" 2>&1 \
    || { tail -n 30 "$results/logs/build.log" >&2; die "building $project failed (see $results/logs/build.log)"; }
  name="$(basename "$project")"
  cp -r "$root/$project/bin/Release/net10.0" "$work/bin-$name"
done
if [ -n "${EDGE_BIN:-}" ]; then
  [ -f "$EDGE_BIN/EdgeCache.Edge.dll" ] || die "EDGE_BIN=$EDGE_BIN holds no EdgeCache.Edge.dll"
  rm -rf "$work/bin-EdgeCache.Edge" && cp -r "$EDGE_BIN" "$work/bin-EdgeCache.Edge"
  say "the edge runs the build in $EDGE_BIN"
fi
say "$(elapsed) built"
dll() { echo "$work/bin-$1/$1.dll"; }
disk_tier=0
[ -f "$work/bin-EdgeCache.Edge/EdgeCache.Storage.dll" ] && disk_tier=1

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# ---------------------------------------------------------------------------------------------
# The TLS rows' certificate: self-signed RSA 2048 for 127.0.0.1/localhost, as PEM (nginx, Traffic
# Server) and PFX (EdgeCache). A throwaway key in the work dir, readable by the peers' users.
tls="$work/tls"
if [ $tls_rows -eq 1 ]; then
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/key.pem" -out "$tls/cert.pem" -days 2 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >>"$results/logs/openssl.log" 2>&1 \
    || die "openssl could not make the test certificate (see $results/logs/openssl.log)"
  openssl pkcs12 -export -out "$tls/cert.pfx" -inkey "$tls/key.pem" -in "$tls/cert.pem" -passout pass:bench >>"$results/logs/openssl.log" 2>&1 \
    || die "openssl could not write the PFX (see $results/logs/openssl.log)"
  chmod 755 "$tls"; chmod 644 "$tls"/*
fi

# ---------------------------------------------------------------------------------------------
# The origin.
say "starting the origin (EdgeCache.LoadOrigin) on :$P_ORIGIN"
start origin "$work/origin.log" dotnet "$(dll EdgeCache.LoadOrigin)" --urls "http://127.0.0.1:$P_ORIGIN"
wait_http origin "http://127.0.0.1:$P_ORIGIN/__origin/healthz" || die "the origin did not start (see $results/logs/origin.log)"
ORIGIN="http://127.0.0.1:$P_ORIGIN"

# ---------------------------------------------------------------------------------------------
# EdgeCache: one shield, one edge (and, with the disk tier, an edge whose hits all come from disk).
write_node() { # file id traffic admin cluster-json [extra EdgeCache settings] [extra traffic URLs] [extra Listen settings]
  cat >"$1" <<JSON
{
  "Logging": { "LogLevel": { "Default": "Warning" } },
  "EdgeCache": {
    "NodeId": "$2",
    "Listen": { "Traffic": [ "http://127.0.0.1:$3"${7:-} ], "Admin": "http://127.0.0.1:$4"${8:-} }${6:-}
  },
  "ReverseProxy": {
    "Routes": { "sites": { "ClusterId": "upstream", "Match": { "Path": "{**catch-all}" } } },
    "Clusters": { "upstream": $5 }
  }
}
JSON
}
shield_cluster="{ \"Destinations\": { \"origin\": { \"Address\": \"$ORIGIN\" } } }"
edge_cluster="{
      \"LoadBalancingPolicy\": \"EdgeCacheConsistentHash\",
      \"HealthCheck\": {
        \"AvailableDestinationsPolicy\": \"HealthyOrPanic\",
        \"Active\": { \"Enabled\": true, \"Interval\": \"00:00:02\", \"Timeout\": \"00:00:01\", \"Policy\": \"ConsecutiveFailures\", \"Path\": \"/readyz\" },
        \"Passive\": { \"Enabled\": true, \"Policy\": \"TransportFailureRate\", \"ReactivationPeriod\": \"00:00:05\" }
      },
      \"Destinations\": { \"shield-a\": { \"Address\": \"http://127.0.0.1:$P_SHIELD\", \"Health\": \"http://127.0.0.1:$P_SHIELD_ADMIN\" } }
    }"

if has_peer edgecache; then
  say "starting EdgeCache: shield :$P_SHIELD, edge :$P_EDGE$([ $disk_tier -eq 1 ] && has_row l2 && echo ", disk-only edge :$P_EDGE_L2")"
  write_node "$work/shield.json" bench-shield $P_SHIELD $P_SHIELD_ADMIN "$shield_cluster"
  if [ $tls_rows -eq 1 ]; then
    # The TLS rows' https endpoint (HTTP/1.1 and HTTP/2 by ALPN) beside the plain one.
    write_node "$work/edge.json" bench-edge $P_EDGE $P_EDGE_ADMIN "$edge_cluster" "" ", \"https://127.0.0.1:$P_EDGE_TLS\"" \
      ", \"CertificatePath\": \"$tls/cert.pfx\", \"CertificatePassword\": \"bench\""
  else
    write_node "$work/edge.json" bench-edge $P_EDGE $P_EDGE_ADMIN "$edge_cluster"
  fi
  start shield "$work/shield.log" env EDGECACHE_CONFIG_FILE="$work/shield.json" dotnet "$(dll EdgeCache.Shield)"
  # shellcheck disable=SC2086 # EDGE_ENV is a list of NAME=value words
  start edge "$work/edge.log" env EDGECACHE_CONFIG_FILE="$work/edge.json" $EDGE_ENV dotnet "$(dll EdgeCache.Edge)"
  if [ $disk_tier -eq 1 ] && has_row l2; then
    # Memory may hold no object (MaxObjectBytes 512), so every hit is an L2 (disk) hit.
    mkdir -p "$work/edge-l2-store"
    write_node "$work/edge-l2.json" bench-edge-l2 $P_EDGE_L2 $P_EDGE_L2_ADMIN "$edge_cluster" ',
    "MaxObjectBytes": 512,
    "Disk": { "Directory": "'"$work/edge-l2-store"'", "BudgetBytes": 1073741824, "CheckpointInterval": "00:05:00" }'
    start edge-l2 "$work/edge-l2.log" env EDGECACHE_CONFIG_FILE="$work/edge-l2.json" dotnet "$(dll EdgeCache.Edge)"
  fi
fi

# ---------------------------------------------------------------------------------------------
# Varnish: the default VCL (-b) in front of the origin, memory storage.
if has_peer varnish; then
  say "starting Varnish on :$P_VARNISH ($(varnishd -V 2>&1 | head -n1))"
  mkdir -p "$work/varnish"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/varnish-secret"
  start varnish "$work/varnish.log" varnishd -F -n "$work/varnish" -a "127.0.0.1:$P_VARNISH" -b "127.0.0.1:$P_ORIGIN" \
    -s malloc,1g -T "127.0.0.1:$P_VARNISH_CLI" -S "$work/varnish-secret"
fi

# ---------------------------------------------------------------------------------------------
# nginx proxy_cache, tuned as an operator would: sendfile and tcp_nodelay on, keep-alive to the
# origin, proxy buffers that take a 100 KiB response in one go, open_file_cache for the hot cache
# files, cache lock against stampedes, no access log. tcp_nopush stays OFF: with it (TCP_CORK) the
# last partial segment of a 100 KiB hit waits ~40 ms for the cork to be released (delayed ACK),
# measured here at 1.9-2.0k req/s with p50 43 ms, against ~17-19k req/s without it.
if has_peer nginx; then
  say "starting nginx on :$P_NGINX ($(nginx -v 2>&1))"
  mkdir -p "$work/nginx/cache" "$work/nginx/tmp"
  id www-data >/dev/null 2>&1 && chown -R www-data "$work/nginx"
  nginx_location="    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$host;
      proxy_cache bench;
      proxy_cache_lock on;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      proxy_buffering on;
      proxy_buffer_size 16k;
      proxy_buffers 64 16k;
      proxy_busy_buffers_size 256k;
      add_header X-Cache-Status \$upstream_cache_status always;
    }"
  nginx_tls_server=""
  if [ $tls_rows -eq 1 ]; then
    # TLS as an operator sets it up: TLS 1.2/1.3, HTTP/2 by ALPN, a shared session cache.
    nginx_tls_server="  server {
    listen 127.0.0.1:$P_NGINX_TLS ssl http2 reuseport backlog=4096;
    ssl_certificate $tls/cert.pem;
    ssl_certificate_key $tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 1h;
    http2_max_concurrent_streams 128;
$nginx_location
  }"
  fi
  cat >"$work/nginx/nginx.conf" <<NGINX
$( [ "$(id -u)" -eq 0 ] && id www-data >/dev/null 2>&1 && echo "user www-data;" )
worker_processes auto;
worker_rlimit_nofile 65536;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
daemon off;
events { worker_connections 16384; multi_accept on; }
http {
  access_log off;
  sendfile on;
  sendfile_max_chunk 2m;
  tcp_nopush off;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  open_file_cache max=10000 inactive=60s;
  open_file_cache_valid 60s;
  client_body_temp_path $work/nginx/tmp/client;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=bench:64m max_size=4g inactive=1h use_temp_path=off;
  upstream origin {
    server 127.0.0.1:$P_ORIGIN;
    keepalive 128;
  }
  server {
    listen 127.0.0.1:$P_NGINX reuseport backlog=4096;
$nginx_location
  }
$nginx_tls_server
}
NGINX
  start nginx "$work/nginx.log" nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf"
fi

# ---------------------------------------------------------------------------------------------
# Apache Traffic Server as a caching reverse proxy: its own runroot (config, cache, logs) in the
# work dir, a 1 GiB cache file with a 512 MiB RAM cache, Via with the cache result codes.
if has_peer ats; then
  say "starting Traffic Server on :$P_ATS ($(traffic_server -V 2>&1 | grep -m1 'Traffic Server'))"
  ats="$work/ats"
  mkdir -p "$ats/etc" "$ats/cache" "$ats/var" "$ats/run" "$ats/log"
  cp -r /etc/trafficserver/. "$ats/etc/"
  cat >"$ats/runroot.yaml" <<YAML
prefix: /usr
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: $ats/etc
datadir: $ats/cache
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: $ats/var
runtimedir: $ats/run
logdir: $ats/log
cachedir: $ats/cache
YAML
  set_record() { # name type value
    sed -i "/^CONFIG $1 /d" "$ats/etc/records.config"
    echo "CONFIG $1 $2 $3" >>"$ats/etc/records.config"
  }
  if [ $tls_rows -eq 1 ]; then
    # A TLS port (HTTP/1.1 and HTTP/2 by ALPN, Traffic Server's defaults) with the bench certificate.
    set_record proxy.config.http.server_ports STRING "$P_ATS:ipv4:ip-in=127.0.0.1 $P_ATS_TLS:ipv4:ssl:ip-in=127.0.0.1"
    set_record proxy.config.ssl.server.cert.path STRING "$tls"
    set_record proxy.config.ssl.server.private_key.path STRING "$tls"
    set_record proxy.config.ssl.session_cache INT 2
    set_record proxy.config.ssl.server.session_ticket.enable INT 1
    echo "dest_ip=* ssl_cert_name=cert.pem ssl_key_name=key.pem" >"$ats/etc/ssl_multicert.config"
  else
    set_record proxy.config.http.server_ports STRING "$P_ATS:ipv4:ip-in=127.0.0.1"
  fi
  set_record proxy.config.reverse_proxy.enabled INT 1
  set_record proxy.config.url_remap.remap_required INT 1
  set_record proxy.config.http.cache.http INT 1
  set_record proxy.config.http.wait_for_cache INT 1
  set_record proxy.config.cache.ram_cache.size INT 536870912
  set_record proxy.config.cache.ram_cache_cutoff INT 4194304
  set_record proxy.config.http.insert_response_via_str INT 2
  set_record proxy.config.http.insert_age_in_response INT 1
  set_record proxy.config.log.logging_enabled INT 1
  set_record proxy.config.diags.debug.enabled INT 0
  set_record proxy.config.http.keep_alive_no_activity_timeout_in INT 120
  set_record proxy.config.http.origin_max_connections INT 0
  if id trafficserver >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    set_record proxy.config.admin.user_id STRING trafficserver
    chown -R trafficserver "$ats"
  else
    set_record proxy.config.admin.user_id STRING "#-1"
  fi
  echo "$ats/cache 1G" >"$ats/etc/storage.config"
  cat >"$ats/etc/remap.config" <<REMAP
map http://127.0.0.1:$P_ATS/ http://127.0.0.1:$P_ORIGIN/
map http://localhost:$P_ATS/ http://127.0.0.1:$P_ORIGIN/
map https://127.0.0.1:$P_ATS_TLS/ http://127.0.0.1:$P_ORIGIN/
map https://localhost:$P_ATS_TLS/ http://127.0.0.1:$P_ORIGIN/
REMAP
  start ats "$work/ats.log" traffic_server --run-root="$ats/runroot.yaml"
fi

# ---------------------------------------------------------------------------------------------
# The ceiling: bare Kestrel writing a preallocated byte[].
if has_peer ceiling; then
  say "starting the Kestrel ceiling (EdgeCache.Ceiling) on :$P_CEILING"
  if [ $tls_rows -eq 1 ]; then
    # With TLS rows, also https (HTTP/1.1 and HTTP/2 by ALPN, Kestrel's defaults) with the bench certificate.
    start ceiling "$work/ceiling.log" env Kestrel__Certificates__Default__Path="$tls/cert.pfx" Kestrel__Certificates__Default__Password=bench \
      dotnet "$(dll EdgeCache.Ceiling)" --urls "http://127.0.0.1:$P_CEILING;https://127.0.0.1:$P_CEILING_TLS"
  else
    start ceiling "$work/ceiling.log" dotnet "$(dll EdgeCache.Ceiling)" --urls "http://127.0.0.1:$P_CEILING"
  fi
fi

# ---------------------------------------------------------------------------------------------
# Wait for everyone.
port_of() {
  case "$1" in
    edgecache) echo $P_EDGE ;; edgecache-l2) echo $P_EDGE_L2 ;; varnish) echo $P_VARNISH ;;
    nginx) echo $P_NGINX ;; ats) echo $P_ATS ;; ceiling) echo $P_CEILING ;;
  esac
}
tls_port_of() { case "$1" in edgecache) echo $P_EDGE_TLS ;; nginx) echo $P_NGINX_TLS ;; ats) echo $P_ATS_TLS ;; ceiling) echo $P_CEILING_TLS ;; esac; }
if has_peer edgecache; then
  wait_http shield "http://127.0.0.1:$P_SHIELD_ADMIN/readyz" || die "the EdgeCache shield did not start (see $results/logs/shield.log)"
  wait_http edge "http://127.0.0.1:$P_EDGE_ADMIN/readyz" || die "the EdgeCache edge did not start (see $results/logs/edge.log)"
  if [ $disk_tier -eq 1 ] && has_row l2; then
    wait_http edge-l2 "http://127.0.0.1:$P_EDGE_L2_ADMIN/readyz" || die "the disk-only EdgeCache edge did not start (see $results/logs/edge-l2.log)"
  fi
fi
for peer in varnish nginx ats ceiling; do
  has_peer "$peer" || continue
  if ! wait_http "$peer" "http://127.0.0.1:$(port_of "$peer")/obj/1k/bench-ready" 60; then
    drop_peer "$peer" "it did not start; see its log in $results/logs/"
  fi
done

# ---------------------------------------------------------------------------------------------
# Warm each cache and check, with its own response headers, that it really serves hits.
size_bytes() { case "${1#*-}" in 1k) echo 1024 ;; 100k) echo 102400 ;; 1m) echo 1048576 ;; *) echo 0 ;; esac; }
headers_of() { # url [curl options] -> response headers (body discarded)
  local url="$1"; shift
  curl -sS -k "$@" -D - -o /dev/null --max-time 10 "$url" | tr -d '\r'
}
curl_opts() { # row -> curl options for it (HTTP/2 only, no HTTP/1.1 fallback, for the h2 rows)
  case "$1" in h2-*) echo "--http2" ;; tls-*) echo "--http1.1" ;; esac
}
hit_proof() { # peer headers -> prints the proof, fails when there is none
  local peer="$1" h="$2" v
  case "$peer" in
    edgecache)
      v="$(echo "$h" | grep -i '^cache-status:' | tail -n1)"
      echo "$v" | grep -q 'EdgeCache-Edge; hit' && echo "$v" ;;
    edgecache-l2)
      v="$(echo "$h" | grep -i '^cache-status:' | tail -n1)"
      echo "$v" | grep -q 'EdgeCache-Edge; hit.*detail=disk' && echo "$v" ;;
    varnish)
      v="$(echo "$h" | grep -i '^x-varnish:')"
      # A hit names two transactions: this one and the one that stored the object.
      [ "$(echo "$v" | awk '{print NF}')" -ge 3 ] && echo "$v; $(echo "$h" | grep -i '^age:')" ;;
    nginx)
      v="$(echo "$h" | grep -i '^x-cache-status:')"
      echo "$v" | grep -qi 'HIT' && echo "$v" ;;
    ats)
      # Via carries the cache result: [cH..] fresh hit, [cR..] fresh RAM-cache hit.
      v="$(echo "$h" | grep -i '^via:')"
      echo "$v" | grep -Eq '\[c[HR]' && echo "$v; $(echo "$h" | grep -i '^age:')" ;;
    ceiling) echo "(no cache: bare Kestrel)" ;;
  esac
}
row_path() { # row -> path of the hit object (the TLS rows: the same paths over https)
  case "$1" in 1k|100k|1m) echo "/obj/$1/bench-hit" ;; tls-*|h2-*) echo "/obj/${1#*-}/bench-hit" ;; l2) echo "/obj/$L2_SIZE/bench-l2" ;; esac
}
row_url() { # row peer -> the URL of the row's hit object at this peer
  if is_tls_row "$1"; then echo "https://127.0.0.1:$(tls_port_of "$2")$(row_path "$1")"
  else echo "http://127.0.0.1:$(port_of "$(row_target "$1" "$2")")$(row_path "$1")"; fi
}
row_target() { # row peer -> the peer whose port serves this row (l2 is EdgeCache's disk-only edge)
  if [ "$1" = l2 ]; then echo edgecache-l2; else echo "$2"; fi
}
row_label() {
  case "$1" in
    1k) echo "1 KiB hit" ;; 100k) echo "100 KiB hit" ;; 1m) echo "1 MiB hit" ;;
    l2) echo "L2 disk hit ($L2_SIZE)" ;; miss) echo "miss ($MISS_SIZE)" ;;
    tls-*) echo "${1#*-} hit TLS h1" ;; h2-*) echo "${1#*-} hit TLS h2" ;;
  esac
}

verified_peers=""
say ""
say "$(elapsed) warming and checking that each peer caches:"
for peer in $PEERS; do
  ok=1
  for row in 1k 100k 1m l2 tls-1k tls-100k tls-1m h2-1k h2-100k; do
    has_row "$row" || continue
    target="$(row_target "$row" "$peer")"
    if [ "$row" = l2 ]; then
      [ "$peer" = edgecache ] && [ $disk_tier -eq 1 ] || continue
    fi
    if is_tls_row "$row"; then tls_peer "$peer" || continue; fi
    url="$(row_url "$row" "$peer")"
    # shellcheck disable=SC2046 # curl_opts is a list of words
    curl -sS -k $(curl_opts "$row") -o /dev/null --max-time 10 "$url" || true
    # The disk tier writes in the background: give it a moment before the proof.
    proof=""
    for _ in $(seq 1 20); do
      # shellcheck disable=SC2046
      h="$(headers_of "$url" $(curl_opts "$row") || true)"
      if proof="$(hit_proof "$target" "$h")"; then
        # The h2 rows must really be HTTP/2 (ALPN h2), the tls rows HTTP/1.1.
        case "$row" in
          h2-*) if echo "$h" | head -n1 | grep -q '^HTTP/2'; then proof="HTTP/2; $proof"; break; fi ;;
          tls-*) if echo "$h" | head -n1 | grep -q '^HTTP/1.1'; then proof="HTTP/1.1 over TLS; $proof"; break; fi ;;
          *) break ;;
        esac
      fi
      proof=""
      sleep 0.25
    done
    len="$(echo "$h" | awk -F': ' 'tolower($1) == "content-length" {print $2}')"
    want="$(size_bytes "$( [ "$row" = l2 ] && echo "$L2_SIZE" || echo "$row")")"
    if [ -z "$proof" ] || [ "$len" != "$want" ]; then
      say "  $target $row: NOT CACHING or wrong length (Content-Length '$len', want $want). Headers:"
      echo "$h" | sed 's/^/      /' | tee -a "$results/bench.log"
      ok=0
    else
      say "  $target $row: $proof"
    fi
  done
  if [ $ok -eq 1 ]; then verified_peers="$verified_peers $peer"; else drop_peer "$peer" "it did not prove that it caches (see above); not benchmarked"; fi
done
PEERS="$(echo "$verified_peers" | xargs)"
[ -n "$PEERS" ] || die "no peer left to benchmark"

# ---------------------------------------------------------------------------------------------
# The miss path: a unique URL per request.
cat >"$work/miss.lua" <<'LUA'
-- A unique URL per request: /obj/<size>/miss-<prefix>-<thread>-<n>.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
local size = os.getenv("MISS_SIZE") or "1k"
local prefix = os.getenv("MISS_PREFIX") or tostring(os.time())
function request()
  n = n + 1
  return wrk.format("GET", string.format("/obj/%s/miss-%s-%d-%d", size, prefix, tid or 0, n))
end
LUA

# ---------------------------------------------------------------------------------------------
# The runs: for each round, each row, each peer in turn (A B C ... then again next round).
runs="$results/runs.tsv"
printf 'round\trow\tpeer\trps\tp50_ms\tp99_ms\terrors\n' >"$runs"
record() { # round row peer rps p50 p99 errors note
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" >>"$runs"
  say "  round $1 $(printf '%-22s %-10s' "$(row_label "$2")" "$3") $(printf '%10.0f req/s  p50 %8s  p99 %8s' "$4" "${5}ms" "${6}ms")$8$( [ "$7" -gt 0 ] && echo "  errors: $7")"
}
to_ms() { # wrk latency like 612.00us, 2.34ms, 1.02s, 1.5m
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}
origin_requests() { curl -fsS --max-time 5 "$ORIGIN/__origin/stats?paths=0" 2>/dev/null | sed -n 's/.*"requests":\([0-9]*\).*/\1/p' || echo 0; }
run_wrk() { # round row peer
  local round="$1" row="$2" peer="$3" target url out extra=()
  target="$(row_target "$row" "$peer")"
  if [ "$row" = miss ]; then
    url="http://127.0.0.1:$(port_of "$target")/"
    extra=(-s "$work/miss.lua")
  else
    url="$(row_url "$row" "$peer")"
  fi
  out="$results/wrk/r$round-$row-$peer.txt"
  local before after
  before="$(origin_requests)"
  # In the background and waited for, so that Ctrl-C reaches the trap at once (bash defers traps
  # while a foreground child runs, and wrk exits normally on SIGINT).
  MISS_SIZE="$MISS_SIZE" MISS_PREFIX="$stamp-r$round-$peer" \
    wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "${extra[@]}" "$url" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || true
  wrk_pid=""
  after="$(origin_requests)"
  local sent origin_note=""
  sent="$(awk '/requests in/ {print $1}' "$out")"
  # Hits must not reach the origin; each miss must (once).
  origin_note="  origin saw $((after - before)) of ${sent:-?}"
  echo "origin requests during this run: $((after - before)) (wrk sent ${sent:-?})" >>"$out"
  local rps p50 p99 non2xx sock
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
  p50="$(awk '$1 == "50%" {print $2}' "$out")"
  p99="$(awk '$1 == "99%" {print $2}' "$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")"
  sock="$(awk '/Socket errors:/ {s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i + 0; print s}' "$out")"
  [ -n "$rps" ] || { say "  round $round $row $peer: wrk failed (see $out)"; return 0; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$row" "$peer" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$(( ${non2xx:-0} + ${sock:-0} ))" >>"$runs"
  say "  round $round $(printf '%-22s %-10s' "$(row_label "$row")" "$peer") $(printf '%10.0f req/s  p50 %8s  p99 %8s' "$rps" "$p50" "$p99")$origin_note$( [ $(( ${non2xx:-0} + ${sock:-0} )) -gt 0 ] && echo "  errors: non-2xx ${non2xx:-0}, socket ${sock:-0}")"
}

# HTTP/2 rows: h2load with a fixed number of connections and concurrent streams per connection. It
# prints no percentiles, so p50/p99 come from its per-request log (microseconds, third column).
run_h2load() { # round row peer
  local round="$1" row="$2" peer="$3" url out log secs
  url="$(row_url "$row" "$peer")"
  out="$results/wrk/r$round-$row-$peer.txt"
  log="$work/h2load-$round-$row-$peer.log"
  secs="$(to_ms "$DURATION")"; secs="${secs%.*}"; secs=$((secs / 1000))
  local before after
  before="$(origin_requests)"
  h2load -t1 -c"$H2_CONNECTIONS" -m"$H2_STREAMS" --warm-up-time=1 -D "$secs" --log-file="$log" "$url" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || true
  wrk_pid=""
  after="$(origin_requests)"
  local rps done_ succeeded failed p50 p99 errors
  rps="$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$out")"
  # "requests: N total, N started, N done, N succeeded, N failed, ..."; "status codes: N 2xx, N 3xx, N 4xx, N 5xx"
  done_="$(awk '/^requests:/ {print $6}' "$out")"
  succeeded="$(awk '/^requests:/ {print $8}' "$out")"
  failed="$(awk '/^status codes:/ {gsub(",", ""); print $7 + $9}' "$out")"
  echo "origin requests during this run: $((after - before)) (h2load completed ${done_:-?})" >>"$out"
  [ -n "$rps" ] && [ -s "$log" ] || { say "  round $round $row $peer: h2load failed (see $out)"; return 0; }
  read -r p50 p99 < <(awk -F'\t' '{print $3}' "$log" | sort -n | awk '{v[NR] = $1} END {
    i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
    printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
  errors=$(( ${done_:-0} - ${succeeded:-0} + ${failed:-0} ))
  rm -f "$log"
  record "$round" "$row" "$peer" "$rps" "$p50" "$p99" "$errors" "  origin saw $((after - before)) of ${done_:-?}"
}

say ""
say "$(elapsed) wrk --latency -t$THREADS -c$CONNECTIONS -d$DURATION; h2load -t1 -c$H2_CONNECTIONS -m$H2_STREAMS for h2 rows; $ROUNDS round(s); peers: $PEERS"
for round in $(seq 1 "$ROUNDS"); do
  for row in $ROWS; do
    for peer in $PEERS; do
      case "$row" in
        l2) [ "$peer" = edgecache ] && [ $disk_tier -eq 1 ] || continue ;;
        miss) [ "$peer" = ceiling ] && continue ;;
        tls-*) tls_peer "$peer" || continue ;;
        h2-*) tls_peer "$peer" || continue; run_h2load "$round" "$row" "$peer"; continue ;;
      esac
      run_wrk "$round" "$row" "$peer"
    done
  done
done

# ---------------------------------------------------------------------------------------------
# The table.
table="$results/table.txt"
config="wrk --latency -t$THREADS -c$CONNECTIONS -d$DURATION$( [ $h2_rows -eq 1 ] && echo ", h2load -t1 -c$H2_CONNECTIONS -m$H2_STREAMS -D $DURATION"), $ROUNDS round(s), $(date -u '+%Y-%m-%d %H:%M UTC'); EdgeCache edge: ${EDGE_ENV:-product defaults}${EDGE_BIN:+, build from $EDGE_BIN}"
echo "$config" >"$results/config.txt"
l2_na=0
if has_row l2 && { [ $disk_tier -eq 0 ] || ! has_peer edgecache; }; then l2_na=1; fi
echo
L2_NA=$l2_na print_table "$runs" "$config" | tee "$table"

say "$(elapsed) results: $results (table.txt, runs.tsv, wrk/, logs/)"
