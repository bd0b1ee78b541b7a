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
# miss-1tier (in the default run): the miss path through an EdgeCache edge straight in front of the
# origin (no shield), hop for hop what the peers do, beside the two-tier miss row.
# Working-set rows (selected with ROWS; each warms WS_OBJECTS x WS_SIZE, 2 GiB by default, into
# every peer, a few minutes): ws-uniform and ws-zipf are random reads (seeded wrk Lua: uniform, and
# Zipf with s = WS_ZIPF_S) over a set larger than each peer's memory tier but within its disk cache:
# an EdgeCache edge straight in front of the origin (no shield, like the peers) with a memory tier
# of WS_MEMORY_BYTES and a disk tier that holds the set, nginx proxy_cache (its own zone, max_size
# the disk size; its memory is the page cache), Traffic Server with a RAM cache of WS_MEMORY_BYTES
# and a disk span that holds the set, Varnish with file storage only. Every peer is warmed with the
# whole set and a second pass must come from its cache with the origin seeing nothing; each
# measured run checks the origin saw no request, and gives each peer's hit ratio as its own
# counters say (EdgeCache /metrics, nginx's $upstream_cache_status log, Traffic Server's
# stats_over_http, varnishstat). The ceiling sits out the miss-1tier and ws rows.
# Image rows (selected with ROWS; peers edgecache and nginx only): the origin serves one 2000x1500 photo-like JPEG
# (836 KiB, loadtest/Shared/SampleImages.cs) under any /img/<name>. img-cold: every request a new original
# (a unique name, via a wrk Lua script), so every one is a transformation to a 400 px variant: EdgeCache
# /_img/width=400,format=webp/img/<name> (edge -> shield, which fetches the original and makes the WebP in its
# image workers) against nginx's image_filter (libnginx-mod-http-image-filter, installed if missing; libgd, JPEG
# out at image_filter_jpeg_quality 75: it cannot change the format) in a resizing server behind a proxy_cache
# server, IMG_CONNECTIONS connections. req/s there is variants per second; EdgeCache's run also checks with its
# shield's counters that each request was a variant made, not a refusal. Before the runs one cold variant from
# each peer is saved and its bytes and SSIM against a reference resize (ImageMagick -resize 400x300 of the
# original, Lanczos) are noted under the row (loadtest/EdgeCache.ImageCompare, libvips: this ImageMagick has no
# SSIM metric), with EdgeCache's other quality steps beside it. img-hit: a hit on that 400 px variant (EdgeCache's
# WebP, nginx's JPEG from its front proxy_cache), with the same wrk shape as the 100 KiB hit row.
# After each row the resident set size of each EdgeCache process is printed (the ws edge's is
# checked against WS_MEMORY_BYTES + Disk:LogMemoryBytes + 256 MiB) and the table gives its largest.
# The table gives per peer the median over rounds of req/s, p50 and p99; and EdgeCache's ratio to
# the best peer and to the Kestrel ceiling, computed per round between back-to-back runs, as the
# median of the rounds with their spread (min-max).
# Raw wrk output, logs and the table go to loadtest/results/bench-<time>/ (git-ignored).
# Everything it started is stopped on exit, including on Ctrl-C.
#
# Settings (environment): DURATION (10s), ROUNDS (3), CONNECTIONS (64), THREADS (1),
# PEERS ("edgecache varnish nginx ats ceiling"), ROWS ("1k 100k 1m l2 miss miss-1tier"), L2_SIZE (100k),
# MISS_SIZE (1k), IMG_CONNECTIONS (4: the img-cold row; a shield runs one image worker per core by default), IMG_WARMUP (3s of the img-cold load per peer before the rounds, not measured; 0 for none), H2_CONNECTIONS (16), H2_STREAMS (10), BUILD_LOCK (/tmp/build.lock: builds are serialised with flock on it);
# for the ws rows: WS_OBJECTS (20000), WS_SIZE (100k), WS_SEED (42), WS_ZIPF_S (0.8),
# WS_MEMORY_BYTES (268435456: EdgeCache's MemoryBudgetBytes and Traffic Server's RAM cache),
# WS_DISK_BYTES (the larger of 4 GiB and twice the set: every peer's disk cache), WS_CLIENTS (8 curl
# clients for the warm-up passes);
# EDGE_ENV (NAME=value words for every EdgeCache edge process (not the shield), to compare settings; default none, the
# product defaults; e.g. "EdgeCache__Listen__InlineScheduling=true"; the table's first line names it);
# SHIELD_ENV (the same for the shield, e.g. "EdgeCache__ImageWorkers__Threads=2" for the image rows);
# EDGE_BIN (a directory with an EdgeCache.Edge build of another commit, used for the edge instead of
# this tree's: before/after comparisons, e.g. `git stash; dotnet build edge/EdgeCache.Edge -c Release
# -o /tmp/edge-before; git stash pop`; the table's first line names it);
# WRK_HEADER (one request header every wrk row sends to every peer, e.g. "Cache-Control: max-age=86400",
# which keeps EdgeCache's hits off its fast path: a before/after run of the full path's hits).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-1}"
PEERS="${PEERS:-edgecache varnish nginx ats ceiling}"
ROWS="${ROWS:-1k 100k 1m l2 miss miss-1tier}"
L2_SIZE="${L2_SIZE:-100k}"
MISS_SIZE="${MISS_SIZE:-1k}"
IMG_CONNECTIONS="${IMG_CONNECTIONS:-4}"
IMG_WARMUP="${IMG_WARMUP:-3s}"
BUILD_LOCK="${BUILD_LOCK:-/tmp/build.lock}"
EDGE_ENV="${EDGE_ENV:-}"
SHIELD_ENV="${SHIELD_ENV:-}"
H2_CONNECTIONS="${H2_CONNECTIONS:-16}"
H2_STREAMS="${H2_STREAMS:-10}"
WS_OBJECTS="${WS_OBJECTS:-20000}"
WS_SIZE="${WS_SIZE:-100k}"
WS_SEED="${WS_SEED:-42}"
WS_ZIPF_S="${WS_ZIPF_S:-0.8}"
WS_MEMORY_BYTES="${WS_MEMORY_BYTES:-268435456}"
WS_CLIENTS="${WS_CLIENTS:-8}"
WS_DISK_BYTES="${WS_DISK_BYTES:-}"
ALL_ROWS="1k 100k 1m text-100k l2 miss miss-1tier ws-uniform ws-zipf tls-1k tls-100k tls-1m h2-1k h2-100k img-hit img-cold"

# print_table RUNS_TSV CONFIG_TEXT: per row and peer the medians over rounds of req/s, p50 and p99;
# EdgeCache's ratio to the best peer and to the Kestrel ceiling, computed per round between
# back-to-back runs, as the median of the rounds and their spread (min-max). L2_NA=1 adds the L2
# row as "n/a until the disk tier lands". notes.tsv beside RUNS_TSV (row, text), when there is one,
# adds lines under a row: hit ratios, resident set sizes.
print_table() {
  local runs_file="$1" cfg="$2" rows_in="" peers_in r notes
  notes="$(dirname "$runs_file")/notes.tsv"
  [ -f "$notes" ] || notes=/dev/null
  for r in $ALL_ROWS; do
    if awk -F'\t' -v r="$r" 'NR > 1 && $2 == r {found = 1} END {exit !found}' "$runs_file" \
       || { [ "$r" = l2 ] && [ "${L2_NA:-0}" = 1 ]; }; then
      rows_in="$rows_in $r"
    fi
  done
  peers_in="$(awk -F'\t' 'NR > 1 && !seen[$3]++ {printf "%s ", $3}' "$runs_file")"
  awk -F'\t' -v rows="$rows_in" -v peers="$peers_in" -v l2size="$L2_SIZE" -v misssize="$MISS_SIZE" -v cfg="$cfg" \
      -v wsobjects="$WS_OBJECTS" -v wssize="$WS_SIZE" -v notes="$notes" '
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
  if (r == "miss-1tier") return "miss, 1 tier (" misssize ", unique)"
  if (r == "ws-uniform") return "ws uniform, " wsobjects " x " wssize; if (r == "ws-zipf") return "ws Zipf, " wsobjects " x " wssize
  if (r == "tls-1k") return "1 KiB hit, HTTP/1.1 TLS"; if (r == "tls-100k") return "100 KiB hit, HTTP/1.1 TLS"
  if (r == "tls-1m") return "1 MiB hit, HTTP/1.1 TLS"; if (r == "h2-1k") return "1 KiB hit, HTTP/2 TLS"
  if (r == "h2-100k") return "100 KiB hit, HTTP/2 TLS"
  if (r == "text-100k") return "100 KiB text hit, br/gzip"
  if (r == "img-hit") return "hit, 400 px image variant"; if (r == "img-cold") return "cold variants/s, 2000x1500->400"
  return r
}
function ms(v) { return v == "" ? "-" : (v >= 100 ? sprintf("%.0fms", v) : sprintf("%.2fms", v)) }
FILENAME == notes { note[$1] = note[$1] sprintf("%-32s %s\n", "", $2); next }
FNR > 1 {
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
    printf "%s\n", note[r]
  }
}' "$notes" "$runs_file"
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
P_EDGE_1T=18085 P_EDGE_1T_ADMIN=18185
P_EDGE_WS=18083 P_EDGE_WS_ADMIN=18183 P_VARNISH_WS=18109 P_VARNISH_WS_CLI=18110 P_NGINX_WS=18111 P_ATS_WS=18112
P_NGINX_RESIZE=18113

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
  # shellcheck disable=SC2086 # wrk_pid may name several clients (the ws warm-up passes)
  if [ -n "${wrk_pid:-}" ]; then kill -TERM $wrk_pid 2>/dev/null || true; fi
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
  for f in "$work"/ats-ws/log/diags.log "$work"/ats-ws/log/error.log; do
    [ -f "$f" ] && cp "$f" "$results/logs/ats-ws-$(basename "$f")" 2>/dev/null || true
  done
  # The caches (the ws rows' are several GiB) go with the work dir.
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
# The text-100k row's check decodes what each peer sends.
if has_row text-100k; then ensure brotli brotli ""; ensure zstd zstd ""; ensure gzip gzip ""; fi
ensure traffic_server trafficserver ats

# TLS rows: one certificate for every peer; h2load for the HTTP/2 rows.
tls_rows=0 h2_rows=0
for r in $ROWS; do
  case "$r" in tls-*) tls_rows=1 ;; h2-*) tls_rows=1; h2_rows=1 ;; esac
done
is_tls_row() { case "$1" in tls-*|h2-*) return 0 ;; esac; return 1; }
tls_peer() { case "$1" in edgecache|nginx|ats|ceiling) return 0 ;; esac; return 1; }
# The text-100k row: a compressible 100 KiB text hit, the client asking "br, gzip". EdgeCache compresses
# (Compression:Enabled on both tiers: the shield makes br once, the edge stores and serves it); nginx caches
# the origin's own gzip response (proxy_cache honours its Vary: Accept-Encoding), with gzip on as an operator
# sets it. The others sit it out.
text_peer() { case "$1" in edgecache|nginx) return 0 ;; esac; return 1; }
[ $tls_rows -eq 1 ] && ensure openssl openssl ""
[ $h2_rows -eq 1 ] && ensure h2load nghttp2-client ""

# Image rows: nginx's image_filter module (Debian), ImageMagick for the reference resize.
img_rows=0
for r in $ROWS; do case "$r" in img-*) img_rows=1 ;; esac; done
is_img_row() { case "$1" in img-*) return 0 ;; esac; return 1; }
img_peer() { case "$1" in edgecache) return 0 ;; nginx) [ "${nginx_img:-0}" -eq 1 ] ;; *) return 1 ;; esac; }
nginx_img_module=/usr/lib/nginx/modules/ngx_http_image_filter_module.so
nginx_img=0
if [ $img_rows -eq 1 ] && has_peer nginx; then
  if [ ! -f "$nginx_img_module" ] && available libnginx-mod-http-image-filter; then
    say "installing libnginx-mod-http-image-filter from Debian..."
    apt_install libnginx-mod-http-image-filter || true
  fi
  if [ -f "$nginx_img_module" ]; then nginx_img=1; else say "SKIPPED nginx in the image rows: no $nginx_img_module (Debian package libnginx-mod-http-image-filter)"; fi
fi
[ $img_rows -eq 1 ] && ensure convert imagemagick ""

# Working-set rows: the set's size, and a disk cache per peer that holds it with room to spare.
ws_rows=0
for r in $ROWS; do case "$r" in ws-*) ws_rows=1 ;; esac; done
is_ws_row() { case "$1" in ws-*) return 0 ;; esac; return 1; }
ws_peer() { case "$1" in edgecache|nginx|ats|varnish) return 0 ;; esac; return 1; }
to_bytes() { # 1024, 100k, 1m -> bytes
  awk -v v="$1" 'BEGIN { n = v + 0; u = tolower(v); sub(/^[0-9]+/, "", u)
    if (u == "k") n *= 1024; else if (u == "m") n *= 1048576; else if (u != "") n = -1; printf "%.0f\n", n }'
}
ws_object_bytes="$(to_bytes "$WS_SIZE")"
[ "$ws_object_bytes" -gt 0 ] || die "WS_SIZE must be like 102400, 100k or 1m (got '$WS_SIZE')"
ws_set_bytes=$((WS_OBJECTS * ws_object_bytes))
if [ -z "$WS_DISK_BYTES" ]; then
  WS_DISK_BYTES=$((4 * 1024 * 1024 * 1024))
  [ $((2 * ws_set_bytes)) -gt "$WS_DISK_BYTES" ] && WS_DISK_BYTES=$((2 * ws_set_bytes))
fi
mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
if [ $ws_rows -eq 1 ]; then
  [ "$WS_DISK_BYTES" -gt "$ws_set_bytes" ] || die "WS_DISK_BYTES ($WS_DISK_BYTES) must hold the set ($WS_OBJECTS x $WS_SIZE = $ws_set_bytes bytes)"
  [ "$WS_MEMORY_BYTES" -lt "$ws_set_bytes" ] || say "bench.sh: note: WS_MEMORY_BYTES ($(mib "$WS_MEMORY_BYTES")) holds the whole set ($(mib "$ws_set_bytes")): the ws rows then measure memory hits"
  free_kib="$(df -Pk /tmp | awk 'NR == 2 {print $4}')"
  # Four peers' caches, each holding the set once (the files are sparse where a peer sizes them ahead).
  [ $((free_kib * 1024)) -gt $((4 * ws_set_bytes + 1073741824)) ] \
    || die "the ws rows need about $(mib $((4 * ws_set_bytes + 1073741824))) free in /tmp (there are $(mib $((free_kib * 1024))))"
fi

# ---------------------------------------------------------------------------------------------
# Ports must be free.
for p in $P_ORIGIN $P_SHIELD $P_SHIELD_ADMIN $P_EDGE $P_EDGE_ADMIN $P_EDGE_L2 $P_EDGE_L2_ADMIN \
         $P_VARNISH $P_VARNISH_CLI $P_NGINX $P_ATS $P_CEILING $P_EDGE_TLS $P_NGINX_TLS $P_ATS_TLS $P_CEILING_TLS \
         $P_EDGE_1T $P_EDGE_1T_ADMIN $P_EDGE_WS $P_EDGE_WS_ADMIN $P_VARNISH_WS $P_VARNISH_WS_CLI $P_NGINX_WS $P_ATS_WS $P_NGINX_RESIZE; do
  if ! port_free "$p"; then
    die "port $p is in use ($(ss -H -ltnp "sport = :$p" | sed -n 's/.*users:((\(.*\))).*/\1/p' | head -n1)); stop it and try again."
  fi
done

# ---------------------------------------------------------------------------------------------
# Build (Release) and copy the binaries, so a rebuild during the run cannot change them.
say "$(elapsed) building (Release; waits for the build lock $BUILD_LOCK if another build holds it)..."
lock() { if command -v flock >/dev/null; then flock "$BUILD_LOCK" "$@"; else "$@"; fi; }
build_projects="edge/EdgeCache.Edge origin-shield/EdgeCache.Shield loadtest/EdgeCache.LoadOrigin loadtest/EdgeCache.Ceiling"
[ $img_rows -eq 1 ] && build_projects="$build_projects loadtest/EdgeCache.ImageCompare"
for project in $build_projects; do
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
origin_requests() { curl -fsS --max-time 5 "$ORIGIN/__origin/stats?paths=0" 2>/dev/null | sed -n 's/.*"requests":\([0-9]*\).*/\1/p' || echo 0; }

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
  # Product defaults, except what the rows chosen need on both tiers: compression for text-100k,
  # image variants for the image rows.
  defaults=()
  has_row text-100k && defaults+=('"Compression": { "Enabled": true }')
  [ $img_rows -eq 1 ] && defaults+=('"Images": { "Enabled": true }')
  node_defaults=""
  [ ${#defaults[@]} -gt 0 ] && node_defaults=",
    \"Defaults\": { $(IFS=,; echo "${defaults[*]}") }"
  write_node "$work/shield.json" bench-shield $P_SHIELD $P_SHIELD_ADMIN "$shield_cluster" "$node_defaults"
  if [ $tls_rows -eq 1 ]; then
    # The TLS rows' https endpoint (HTTP/1.1 and HTTP/2 by ALPN) beside the plain one.
    write_node "$work/edge.json" bench-edge $P_EDGE $P_EDGE_ADMIN "$edge_cluster" "$node_defaults" ", \"https://127.0.0.1:$P_EDGE_TLS\"" \
      ", \"CertificatePath\": \"$tls/cert.pfx\", \"CertificatePassword\": \"bench\""
  else
    write_node "$work/edge.json" bench-edge $P_EDGE $P_EDGE_ADMIN "$edge_cluster" "$node_defaults"
  fi
  # shellcheck disable=SC2086 # SHIELD_ENV is a list of NAME=value words
  start shield "$work/shield.log" env EDGECACHE_CONFIG_FILE="$work/shield.json" $SHIELD_ENV dotnet "$(dll EdgeCache.Shield)"
  # shellcheck disable=SC2086 # EDGE_ENV is a list of NAME=value words
  start edge "$work/edge.log" env EDGECACHE_CONFIG_FILE="$work/edge.json" $EDGE_ENV dotnet "$(dll EdgeCache.Edge)"
  if [ $disk_tier -eq 1 ] && has_row l2; then
    # Memory may hold no object (MaxObjectBytes 512), so every hit is an L2 (disk) hit.
    mkdir -p "$work/edge-l2-store"
    write_node "$work/edge-l2.json" bench-edge-l2 $P_EDGE_L2 $P_EDGE_L2_ADMIN "$edge_cluster" ',
    "MaxObjectBytes": 512,
    "Disk": { "Directory": "'"$work/edge-l2-store"'", "BudgetBytes": 1073741824, "CheckpointInterval": "00:05:00" }'
    # shellcheck disable=SC2086 # EDGE_ENV is a list of NAME=value words
    start edge-l2 "$work/edge-l2.log" env EDGECACHE_CONFIG_FILE="$work/edge-l2.json" $EDGE_ENV dotnet "$(dll EdgeCache.Edge)"
  fi
  if has_row miss-1tier; then
    # An edge with the product defaults whose upstream is the origin itself (no shield): one hop
    # and one store per miss, like each peer.
    say "starting EdgeCache: one-tier edge :$P_EDGE_1T (straight to the origin)"
    write_node "$work/edge-1tier.json" bench-edge-1tier $P_EDGE_1T $P_EDGE_1T_ADMIN "$shield_cluster"
    # shellcheck disable=SC2086 # EDGE_ENV is a list of NAME=value words
    start edge-1tier "$work/edge-1tier.log" env EDGECACHE_CONFIG_FILE="$work/edge-1tier.json" $EDGE_ENV dotnet "$(dll EdgeCache.Edge)"
  fi
fi
# The ws rows' peers: EdgeCache's ws edge goes straight to the origin (no shield), as each peer does;
# during the measured runs nothing should go upstream anyway. Its memory tier is WS_MEMORY_BYTES,
# its disk tier holds the set (Disk:MaxObjectBytes kept within a quarter of the budget, as
# DiskStoreOptions.Validate requires; Disk:LogMemoryBytes stays at its default, 64 MiB).
ws_peers=""
ws_log_memory_bytes=$((64 * 1024 * 1024))
if [ $ws_rows -eq 1 ]; then
  for peer in $PEERS; do ws_peer "$peer" && ws_peers="$ws_peers $peer"; done
  ws_peers="$(echo "$ws_peers" | xargs)"
fi
has_ws_peer() { [[ " $ws_peers " == *" $1 "* ]]; }
drop_ws_peer() { # peer reason
  ws_peers="$(echo " $ws_peers " | sed "s/ $1 / /" | xargs)"
  say "SKIPPED $1 in the ws rows: $2"
}
if has_ws_peer edgecache && [ $disk_tier -eq 0 ]; then drop_ws_peer edgecache "this build has no disk tier"; fi
if has_ws_peer edgecache; then
  say "starting EdgeCache: ws edge :$P_EDGE_WS (straight to the origin; memory $(mib "$WS_MEMORY_BYTES"), disk $(mib "$WS_DISK_BYTES"))"
  mkdir -p "$work/edge-ws-store"
  ws_disk_max=$((256 * 1024 * 1024))
  [ $((WS_DISK_BYTES / 4)) -lt $ws_disk_max ] && ws_disk_max=$((WS_DISK_BYTES / 4))
  write_node "$work/edge-ws.json" bench-edge-ws $P_EDGE_WS $P_EDGE_WS_ADMIN "$shield_cluster" ',
    "MemoryBudgetBytes": '"$WS_MEMORY_BYTES"',
    "Disk": { "Directory": "'"$work/edge-ws-store"'", "BudgetBytes": '"$WS_DISK_BYTES"', "MaxObjectBytes": '"$ws_disk_max"', "LogMemoryBytes": '"$ws_log_memory_bytes"', "CheckpointInterval": "00:05:00" }'
  # shellcheck disable=SC2086 # EDGE_ENV is a list of NAME=value words (it applies to the ws edge too)
  start edge-ws "$work/edge-ws.log" env EDGECACHE_CONFIG_FILE="$work/edge-ws.json" $EDGE_ENV dotnet "$(dll EdgeCache.Edge)"
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
# The ws rows' Varnish: the same default VCL, file storage only (WS_DISK_BYTES; the page cache is its memory).
if has_ws_peer varnish; then
  say "starting Varnish for the ws rows on :$P_VARNISH_WS (file storage, $(mib "$WS_DISK_BYTES"))"
  mkdir -p "$work/varnish-ws" "$work/varnish-ws-store"
  start varnish-ws "$work/varnish-ws.log" varnishd -F -n "$work/varnish-ws" -a "127.0.0.1:$P_VARNISH_WS" -b "127.0.0.1:$P_ORIGIN" \
    -s "file,$work/varnish-ws-store/storage.bin,$((WS_DISK_BYTES / 1048576))M" -T "127.0.0.1:$P_VARNISH_WS_CLI" -S "$work/varnish-secret"
fi

# ---------------------------------------------------------------------------------------------
# nginx proxy_cache, tuned as an operator would: sendfile and tcp_nodelay on, keep-alive to the
# origin, proxy buffers that take a 100 KiB response in one go, open_file_cache for the hot cache
# files, cache lock against stampedes, no access log. tcp_nopush stays OFF: with it (TCP_CORK) the
# last partial segment of a 100 KiB hit waits ~40 ms for the cork to be released (delayed ACK),
# measured here at 1.9-2.0k req/s with p50 43 ms, against ~17-19k req/s without it.
if has_peer nginx; then
  say "starting nginx on :$P_NGINX ($(nginx -v 2>&1))"
  mkdir -p "$work/nginx/cache" "$work/nginx/cache-ws" "$work/nginx/tmp"
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
      add_header X-Cache-Status \$upstream_cache_status always;$(has_row text-100k && printf '%s' "
      gzip on;
      gzip_types text/html text/plain text/css application/javascript application/json;
      gzip_proxied any;
      gzip_vary on;" || true)
    }"
  nginx_ws_server="" nginx_ws_cache=""
  if has_ws_peer nginx; then
    # The ws rows: the same location with its own cache zone, max_size WS_DISK_BYTES, an
    # open_file_cache sized for the set, and a buffered log of $upstream_cache_status only
    # (nginx's own record of hits, counted after each run).
    nginx_ws_cache="proxy_cache_path $work/nginx/cache-ws levels=1:2 keys_zone=ws:64m max_size=$((WS_DISK_BYTES / 1048576))m inactive=1h use_temp_path=off;
  log_format cachestatus '\$upstream_cache_status';"
    nginx_ws_server="  server {
    listen 127.0.0.1:$P_NGINX_WS reuseport backlog=4096;
    open_file_cache max=$((WS_OBJECTS + WS_OBJECTS / 4 + 1000)) inactive=60s;
    access_log $work/nginx/ws-cache-status.log cachestatus buffer=256k flush=1s;
${nginx_location/proxy_cache bench;/proxy_cache ws;}
  }"
  fi
  nginx_img_load="" nginx_img_cache="" nginx_img_server="" nginx_img_location=""
  if [ $nginx_img -eq 1 ]; then
    # The image rows, as nginx's documentation sets image_filter up: a resizing server (image_filter on the
    # original, fetched from the origin) behind a proxy_cache server that stores what it makes.
    mkdir -p "$work/nginx/cache-img" && { id www-data >/dev/null 2>&1 && chown www-data "$work/nginx/cache-img" || true; }
    nginx_img_load="load_module $nginx_img_module;"
    nginx_img_cache="proxy_cache_path $work/nginx/cache-img levels=1:2 keys_zone=img:16m max_size=2g inactive=1h use_temp_path=off;"
    nginx_img_location="    location /resize400/ {
      proxy_pass http://127.0.0.1:$P_NGINX_RESIZE;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_cache img;
      proxy_cache_valid 200 1h;
      proxy_cache_lock on;
      add_header X-Cache-Status \$upstream_cache_status always;
    }"
    nginx_img_server="  server {
    listen 127.0.0.1:$P_NGINX_RESIZE reuseport backlog=4096;
    location /resize400/ {
      proxy_pass http://origin/;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      image_filter resize 400 -;
      image_filter_buffer 8M;
      image_filter_jpeg_quality 75;
    }
  }"
  fi
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
$nginx_img_load
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
  $nginx_ws_cache
  $nginx_img_cache
  upstream origin {
    server 127.0.0.1:$P_ORIGIN;
    keepalive 128;
  }
  server {
    listen 127.0.0.1:$P_NGINX reuseport backlog=4096;
$nginx_img_location
$nginx_location
  }
$nginx_img_server
$nginx_tls_server
$nginx_ws_server
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
  if has_ws_peer ats; then
    # The ws rows' Traffic Server: the same configuration in its own runroot, plain HTTP on
    # :$P_ATS_WS, a RAM cache of WS_MEMORY_BYTES, a disk span of WS_DISK_BYTES, and
    # stats_over_http (GET /_stats) for its own hit counters.
    say "starting Traffic Server for the ws rows on :$P_ATS_WS (RAM cache $(mib "$WS_MEMORY_BYTES"), disk $(mib "$WS_DISK_BYTES"))"
    ats_main="$ats" ats="$work/ats-ws"
    mkdir -p "$ats/cache" "$ats/var" "$ats/run" "$ats/log"
    cp -r "$ats_main/etc" "$ats/etc"
    sed "s|$ats_main/|$ats/|g" "$ats_main/runroot.yaml" >"$ats/runroot.yaml"
    set_record proxy.config.http.server_ports STRING "$P_ATS_WS:ipv4:ip-in=127.0.0.1"
    set_record proxy.config.cache.ram_cache.size INT "$WS_MEMORY_BYTES"
    echo "$ats/cache $((WS_DISK_BYTES / 1048576))M" >"$ats/etc/storage.config"
    echo "stats_over_http.so" >"$ats/etc/plugin.config"
    cat >"$ats/etc/remap.config" <<REMAP
map http://127.0.0.1:$P_ATS_WS/ http://127.0.0.1:$P_ORIGIN/
map http://localhost:$P_ATS_WS/ http://127.0.0.1:$P_ORIGIN/
REMAP
    id trafficserver >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && chown -R trafficserver "$ats"
    start ats-ws "$work/ats-ws.log" traffic_server --run-root="$ats/runroot.yaml"
    ats="$ats_main"
  fi
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
    edgecache-1tier) echo $P_EDGE_1T ;; edgecache-ws) echo $P_EDGE_WS ;; varnish-ws) echo $P_VARNISH_WS ;;
    nginx-ws) echo $P_NGINX_WS ;; ats-ws) echo $P_ATS_WS ;;
  esac
}
tls_port_of() { case "$1" in edgecache) echo $P_EDGE_TLS ;; nginx) echo $P_NGINX_TLS ;; ats) echo $P_ATS_TLS ;; ceiling) echo $P_CEILING_TLS ;; esac; }
if has_peer edgecache; then
  wait_http shield "http://127.0.0.1:$P_SHIELD_ADMIN/readyz" || die "the EdgeCache shield did not start (see $results/logs/shield.log)"
  wait_http edge "http://127.0.0.1:$P_EDGE_ADMIN/readyz" || die "the EdgeCache edge did not start (see $results/logs/edge.log)"
  if [ $disk_tier -eq 1 ] && has_row l2; then
    wait_http edge-l2 "http://127.0.0.1:$P_EDGE_L2_ADMIN/readyz" || die "the disk-only EdgeCache edge did not start (see $results/logs/edge-l2.log)"
  fi
  if has_row miss-1tier; then
    wait_http edge-1tier "http://127.0.0.1:$P_EDGE_1T_ADMIN/readyz" || die "the one-tier EdgeCache edge did not start (see $results/logs/edge-1tier.log)"
  fi
fi
if has_ws_peer edgecache && ! wait_http edge-ws "http://127.0.0.1:$P_EDGE_WS_ADMIN/readyz"; then
  drop_ws_peer edgecache "its ws edge did not start; see $results/logs/edge-ws.log"
fi
for peer in varnish nginx ats ceiling; do
  has_peer "$peer" || continue
  if ! wait_http "$peer" "http://127.0.0.1:$(port_of "$peer")/obj/1k/bench-ready" 60; then
    drop_peer "$peer" "it did not start; see its log in $results/logs/"
  fi
done
for peer in varnish nginx ats; do
  has_ws_peer "$peer" || continue
  if ! has_peer "$peer"; then drop_ws_peer "$peer" "its main instance is not running"; continue; fi
  if ! wait_http "$peer-ws" "http://127.0.0.1:$(port_of "$peer-ws")/obj/1k/bench-ready" 60; then
    drop_ws_peer "$peer" "its ws instance did not start; see its log in $results/logs/"
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
  case "$1" in h2-*) echo "--http2" ;; tls-*) echo "--http1.1" ;; text-*) echo "-HAccept-Encoding:br,gzip" ;; esac
}
text_check() { # url -> "<coding>, <framing>, decodes to the origin's bytes", fails when it does not
  local url="$1" h coding framing
  h="$(curl -sS -H 'Accept-Encoding: br, gzip' -D - -o "$work/text-body" --max-time 10 "$url" | tr -d '\r')" || return 1
  coding="$(echo "$h" | awk -F': ' 'tolower($1) == "content-encoding" {print $2}')"
  if echo "$h" | grep -qi '^content-length:'; then framing="Content-Length $(echo "$h" | awk -F': ' 'tolower($1) == "content-length" {print $2}')"
  elif echo "$h" | grep -qi '^transfer-encoding: *chunked'; then framing="chunked"; else framing="no length"; fi
  case "$coding" in
    br) brotli -d -c "$work/text-body" >"$work/text-decoded" ;;
    gzip) gzip -d -c "$work/text-body" >"$work/text-decoded" ;;
    zstd) zstd -d -q -c "$work/text-body" >"$work/text-decoded" ;;
    "") cp "$work/text-body" "$work/text-decoded" ;;
    *) return 1 ;;
  esac || return 1
  curl -fsS -H 'Accept-Encoding: identity' -o "$work/text-origin" --max-time 10 "$ORIGIN$(row_path text-100k)" || return 1
  cmp -s "$work/text-decoded" "$work/text-origin" || return 1
  echo "${coding:-identity} $(stat -c %s "$work/text-body") bytes, $framing, decodes to the origin's $(stat -c %s "$work/text-origin") bytes"
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
  case "$1" in 1k|100k|1m) echo "/obj/$1/bench-hit" ;; tls-*|h2-*) echo "/obj/${1#*-}/bench-hit" ;; text-100k) echo "/text/100k/bench-hit" ;; l2) echo "/obj/$L2_SIZE/bench-l2" ;; esac
}
img_path() { # peer -> the path under which it serves a 400 px variant of the origin's /img/<name>
  case "$1" in edgecache) echo "/_img/width=400,format=webp/img/" ;; nginx) echo "/resize400/img/" ;; esac
}
row_url() { # row peer -> the URL of the row's hit object at this peer
  if is_tls_row "$1"; then echo "https://127.0.0.1:$(tls_port_of "$2")$(row_path "$1")"
  elif [ "$1" = img-hit ]; then echo "http://127.0.0.1:$(port_of "$2")$(img_path "$2")bench-hit.jpg"
  else echo "http://127.0.0.1:$(port_of "$(row_target "$1" "$2")")$(row_path "$1")"; fi
}
row_target() { # row peer -> the peer whose port serves this row (l2 is EdgeCache's disk-only edge,
  # miss-1tier its edge in front of the origin, the ws rows each peer's ws instance)
  case "$1" in
    l2) echo edgecache-l2 ;;
    miss-1tier) if [ "$2" = edgecache ]; then echo edgecache-1tier; else echo "$2"; fi ;;
    ws-*) echo "$2-ws" ;;
    *) echo "$2" ;;
  esac
}
row_label() {
  case "$1" in
    1k) echo "1 KiB hit" ;; 100k) echo "100 KiB hit" ;; 1m) echo "1 MiB hit" ;;
    l2) echo "L2 disk hit ($L2_SIZE)" ;; miss) echo "miss ($MISS_SIZE)" ;; miss-1tier) echo "miss 1 tier ($MISS_SIZE)" ;;
    ws-uniform) echo "ws uniform ($WS_SIZE)" ;; ws-zipf) echo "ws Zipf ($WS_SIZE)" ;;
    tls-*) echo "${1#*-} hit TLS h1" ;; h2-*) echo "${1#*-} hit TLS h2" ;;
    text-100k) echo "100k text hit br/gz" ;;
    img-hit) echo "img hit (400 px)" ;; img-cold) echo "img cold (400 px)" ;;
  esac
}

verified_peers=""
say ""
say "$(elapsed) warming and checking that each peer caches:"
for peer in $PEERS; do
  ok=1
  for row in 1k 100k 1m text-100k l2 tls-1k tls-100k tls-1m h2-1k h2-100k img-hit; do
    has_row "$row" || continue
    if is_img_row "$row"; then img_peer "$peer" || continue; fi
    target="$(row_target "$row" "$peer")"
    if [ "$row" = l2 ]; then
      [ "$peer" = edgecache ] && [ $disk_tier -eq 1 ] || continue
    fi
    if is_tls_row "$row"; then tls_peer "$peer" || continue; fi
    if [ "$row" = text-100k ]; then text_peer "$peer" || continue; fi
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
    if [ "$row" = text-100k ] && [ -n "$proof" ]; then
      # Encoded, so not 102400 bytes long, and nginx may send its gzip hit chunked: the bytes are checked
      # by decoding them and comparing with the origin's.
      if text="$(text_check "$url")"; then len="$want" proof="$text; $proof"; else len="(did not decode to the origin's bytes)"; fi
    fi
    # A variant's length is the encoder's: any, for an image.
    if [ "$row" = img-hit ] && [ "${len:-0}" -gt 0 ] && echo "$h" | grep -qi '^content-type: image/'; then want="$len"; fi
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
for peer in $ws_peers; do has_peer "$peer" || drop_ws_peer "$peer" "it is not benchmarked (see above)"; done

# ---------------------------------------------------------------------------------------------
# The working set: every ws peer is warmed with all WS_OBJECTS objects (/obj/<WS_SIZE>/ws-<i>),
# WS_CLIENTS curl clients at a time, each on one kept-alive connection; then a second pass must
# come from its cache: every answer 200 with the object's length, a hit by the peer's own header,
# and no request at the origin.
ws_header() { case "$1" in edgecache) echo cache-status ;; nginx) echo x-cache-status ;; ats) echo via ;; varnish) echo x-varnish ;; esac; }
ws_hit_line() { # peer -> an extended regex a pass line ("status bytes header") of a hit matches
  case "$1" in
    edgecache) echo "EdgeCache-Edge; hit" ;;
    nginx) echo " HIT\$" ;;
    ats) echo "\[c[HR]" ;;
    # A hit names two transactions: this one and the one that stored the object.
    varnish) echo "^200 [0-9]+ [0-9]+ [0-9]+\$" ;;
  esac
}
ws_pass() { # peer -> one line per response in $work/ws-pass.out, the pass's seconds in $ws_pass_secs
  local peer="$1" port header c clients=() t0=$SECONDS
  port="$(port_of "$peer-ws")"; header="$(ws_header "$peer")"
  for c in $(seq 0 $((WS_CLIENTS - 1))); do
    awk -v port="$port" '{ print "url = \"http://127.0.0.1:" port $0 "\"\noutput = \"/dev/null\"" }' "$work/ws-urls-$c" >"$work/ws-curl-$c"
    curl -sS --max-time 600 --config "$work/ws-curl-$c" -w "%{http_code} %{size_download} %header{$header}\n" >"$work/ws-pass-$c.out" 2>>"$work/ws-curl.log" &
    clients+=($!)
  done
  wrk_pid="${clients[*]}"
  wait "${clients[@]}" || true
  wrk_pid=""
  cat "$work"/ws-pass-*.out | tr -d '\r' >"$work/ws-pass.out"
  ws_pass_secs=$((SECONDS - t0))
}
edgecache_metric() { # admin-port metric-name -> the sum of its series
  curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $NF} END {printf "%.0f\n", s}'
}
ws_warm() { # peer: warm, then prove the set is served from cache
  local peer="$1" pass before after total bad hits hit_re
  hit_re="$(ws_hit_line "$peer")"
  # A peer may decline to store some objects of a burst (Traffic Server drops cache writes past its
  # aggregation backlog, Via [cMsSf ]): the passes go on, at most four, until one is all hits.
  for pass in warm again again-2 again-3; do
    before="$(origin_requests)"
    ws_pass "$peer"
    [ "$peer" = ats ] && ats_ws_sent=$((ats_ws_sent + $(wc -l <"$work/ws-pass.out")))
    if [ "$peer" = edgecache ]; then
      # The disk tier writes behind: let its queue drain before the next pass.
      for _ in $(seq 1 600); do [ "$(edgecache_metric $P_EDGE_WS_ADMIN edgecache_disk_writes_queued_bytes)" = 0 ] && break; sleep 0.1; done
    fi
    after="$(origin_requests)"
    total="$(wc -l <"$work/ws-pass.out")"
    bad="$(awk -v n="$ws_object_bytes" '$1 != 200 || $2 != n' "$work/ws-pass.out" | wc -l)"
    hits="$(grep -Ec "$hit_re" "$work/ws-pass.out" || true)"
    cp "$work/ws-pass.out" "$results/wrk/ws-$pass-$peer.txt"
    say "  $peer-ws $pass: $total requests in ${ws_pass_secs}s, $bad not 200 of $ws_object_bytes bytes, origin requests $((after - before)), hits by its own header $hits"
    if [ "$pass" != warm ] && [ "$((after - before))" -eq 0 ] && [ "$hits" -eq "$WS_OBJECTS" ]; then break; fi
  done
  if [ "$total" -ne "$WS_OBJECTS" ] || [ "$bad" -ne 0 ] || [ "$((after - before))" -ne 0 ] || [ "$hits" -ne "$WS_OBJECTS" ]; then
    say "  WARNING: $peer-ws did not serve the whole set from its cache on the second pass; its ws rows are measured anyway (see the origin counts)"
  fi
}
ats_ws_sent=1 # the start's readiness check
if [ -n "$ws_peers" ]; then
  for c in $(seq 0 $((WS_CLIENTS - 1))); do : >"$work/ws-urls-$c"; done
  seq 1 "$WS_OBJECTS" | awk -v n="$WS_CLIENTS" -v size="$WS_SIZE" -v w="$work" '{ print "/obj/" size "/ws-" $1 > (w "/ws-urls-" ($1 % n)) }'
  say ""
  say "$(elapsed) warming the working set ($WS_OBJECTS x $WS_SIZE = $(mib "$ws_set_bytes")) into: $ws_peers"
  for peer in $ws_peers; do ws_warm "$peer"; done
  has_ws_peer edgecache && curl -fsS --max-time 5 "http://127.0.0.1:$P_EDGE_WS_ADMIN/metrics" >"$results/logs/edge-ws-metrics-warm.txt" 2>/dev/null || true
fi

# The ws rows' hit counters, as each peer keeps them: "hits others memory-hits" since its start
# (memory-hits: hits from its memory tier, "-" where the peer does not say).
ws_counters() { # peer
  case "$1" in
    edgecache)
      curl -fsS --max-time 5 "http://127.0.0.1:$P_EDGE_WS_ADMIN/metrics" 2>/dev/null | awk '
        index($1, "edgecache_requests_total{") == 1 {
          if ($1 ~ /outcome="hit"/) { h += $NF; if ($1 ~ /detail="memory"/) m += $NF } else o += $NF }
        END { printf "%.0f %.0f %.0f\n", h, o, m }' ;;
    nginx)
      # The log is buffered (flush=1s): wait for it.
      sleep 1.2
      awk '$1 == "HIT" {h++; next} {o++} END {printf "%d %d -\n", h, o}' "$work/nginx/ws-cache-status.log" ;;
    ats)
      # Its statistics are gathered from the threads' counters every few seconds: read them until
      # they count at least the requests it has been sent (ats_ws_sent), 20 s at most.
      # cache_hit_fresh counts RAM-cache hits too (cache_hit_mem_fresh is its part from RAM); the
      # reads of /_stats count as cache_miss_client_not_cacheable and are left out.
      local now="" i
      for i in $(seq 1 40); do
        now="$(curl -fsS --max-time 5 "http://127.0.0.1:$P_ATS_WS/_stats" 2>/dev/null | tr ',' '\n' | tr -d ' "' \
          | grep -E '^proxy\.process\.(http\.cache_(hit|miss)_|cache\.ram_cache\.)' | tee "$work/ats-ws-stats.txt" | awk -F: '
          $1 ~ /^proxy\.process\.http\.cache_hit_/ && $1 != "proxy.process.http.cache_hit_mem_fresh" {h += $2}
          $1 ~ /^proxy\.process\.http\.cache_miss_/ && $1 != "proxy.process.http.cache_miss_client_not_cacheable" {o += $2}
          $1 == "proxy.process.http.cache_hit_mem_fresh" {m = $2}
          END { printf "%.0f %.0f %.0f\n", h, o, m }')" || true
        if [ -n "$now" ] && [ $(( $(echo "$now" | awk '{print $1 + $2}') )) -ge "$ats_ws_sent" ]; then break; fi
        sleep 0.5
      done
      echo "$now" ;;
    varnish)
      varnishstat -n "$work/varnish-ws" -1 -f MAIN.cache_hit -f MAIN.cache_miss 2>/dev/null | awk '
        $1 == "MAIN.cache_hit" {h = $2} $1 == "MAIN.cache_miss" {o = $2} END { printf "%.0f %.0f -\n", h, o }' ;;
  esac
}

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

# The img-cold row: a new original per request, so every request is a transformation.
cat >"$work/img.lua" <<'LUA'
-- A unique name per request: <IMG_PATH><prefix>-<thread>-<n>.jpg (IMG_PATH is the peer's variant path).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
local path = os.getenv("IMG_PATH") or "/img/"
local prefix = os.getenv("IMG_PREFIX") or tostring(os.time())
function request()
  n = n + 1
  return wrk.format("GET", string.format("%s%s-%d-%d.jpg", path, prefix, tid or 0, n))
end
LUA

# The working-set rows: seeded random reads over the set, uniform or Zipf.
cat >"$work/ws.lua" <<'LUA'
-- Random reads over /obj/<WS_SIZE>/ws-1 .. ws-<WS_OBJECTS>: WS_DIST uniform, or zipf with exponent
-- WS_ZIPF_S (rank r drawn with probability proportional to r^-s, by binary search in a CDF table
-- built once per thread). Seeded (WS_SEED): the same sequence for every peer and every run. Ranks
-- map to objects through a seeded shuffle, so popularity is not the warm-up order.
local n = tonumber(os.getenv("WS_OBJECTS") or "20000")
local size = os.getenv("WS_SIZE") or "100k"
local dist = os.getenv("WS_DIST") or "uniform"
local s = tonumber(os.getenv("WS_ZIPF_S") or "0.8")
local seed = tonumber(os.getenv("WS_SEED") or "42")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local reqs, cdf
function init(args)
  math.randomseed(seed)
  reqs = {}
  for i = 1, n do reqs[i] = wrk.format("GET", string.format("/obj/%s/ws-%d", size, i)) end
  for i = n, 2, -1 do
    local j = math.random(1, i)
    reqs[i], reqs[j] = reqs[j], reqs[i]
  end
  if dist == "zipf" then
    cdf = {}
    local sum = 0
    for r = 1, n do sum = sum + r ^ (-s); cdf[r] = sum end
    for r = 1, n do cdf[r] = cdf[r] / sum end
  end
  math.randomseed(seed + 7919 * (tid or 0))
end
function request()
  if not cdf then return reqs[math.random(1, n)] end
  local u, lo, hi = math.random(), 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return reqs[lo]
end
LUA

# Resident set sizes of the EdgeCache processes (from /proc/<pid>/status), after each row.
pid_of() { # name -> pid of the process started under that name
  local i
  for ((i = 0; i < ${#names[@]}; i++)); do [ "${names[$i]}" = "$1" ] && { echo "${pids[$i]}"; return 0; }; done
  return 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
ws_rss_limit=$((WS_MEMORY_BYTES + ws_log_memory_bytes + 256 * 1024 * 1024))
print_rss() { # round row
  local n pid kib line=""
  for n in edge shield edge-l2 edge-1tier edge-ws; do
    pid="$(pid_of "$n")" || continue
    kib="$(rss_kib "$pid")"; [ -n "$kib" ] || continue
    line="$line, $n $(mib $((kib * 1024)))"
    if [ "$n" = edge-ws ]; then
      # What the ws edge's tiers hold, by its own status page, beside its RSS.
      line="$line (memory tier $(curl -fsS --max-time 5 "http://127.0.0.1:$P_EDGE_WS_ADMIN/status.json" 2>/dev/null \
        | sed -n 's/.*"memory":{"bytes":\([0-9]*\).*/\1/p' | awk '{printf "%.0f MiB", $1 / 1048576}'))"
    fi
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$n" "$kib" >>"$results/rss.tsv"
    if [ "$n" = edge-ws ] && is_ws_row "$2" && [ $((kib * 1024)) -gt $ws_rss_limit ]; then
      say "  WARNING: the ws edge's RSS $(mib $((kib * 1024))) is above MemoryBudgetBytes + Disk:LogMemoryBytes + 256 MiB = $(mib $ws_rss_limit)"
    fi
  done
  [ -n "$line" ] && say "  round $1 $(printf '%-22s' "$(row_label "$2")") EdgeCache RSS: ${line#, }"
  return 0
}

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
run_wrk() { # round row peer
  local round="$1" row="$2" peer="$3" target url out extra=() conns="$CONNECTIONS"
  target="$(row_target "$row" "$peer")"
  case "$row" in
    miss|miss-1tier) url="http://127.0.0.1:$(port_of "$target")/"; extra=(-s "$work/miss.lua") ;;
    img-cold) url="http://127.0.0.1:$(port_of "$target")/"; extra=(-s "$work/img.lua"); conns="$IMG_CONNECTIONS" ;;
    ws-*) url="http://127.0.0.1:$(port_of "$target")/"; extra=(-s "$work/ws.lua") ;;
    text-*) url="$(row_url "$row" "$peer")"; extra=(-H "Accept-Encoding: br, gzip") ;;
    *) url="$(row_url "$row" "$peer")" ;;
  esac
  [ -n "${WRK_HEADER:-}" ] && extra+=(-H "$WRK_HEADER")
  out="$results/wrk/r$round-$row-$peer.txt"
  local before after c0=() c1=()
  if is_ws_row "$row"; then read -r -a c0 < <(ws_counters "$peer") || true; fi
  local made0=0 refused0=0
  if [ "$row" = img-cold ] && [ "$peer" = edgecache ]; then
    made0="$(edgecache_metric $P_SHIELD_ADMIN edgecache_images_variants_total)"; refused0="$(edgecache_metric $P_SHIELD_ADMIN edgecache_images_refused_total)"
  fi
  before="$(origin_requests)"
  # In the background and waited for, so that Ctrl-C reaches the trap at once (bash defers traps
  # while a foreground child runs, and wrk exits normally on SIGINT).
  MISS_SIZE="$MISS_SIZE" MISS_PREFIX="$stamp-r$round-$row-$peer" \
    WS_OBJECTS="$WS_OBJECTS" WS_SIZE="$WS_SIZE" WS_DIST="${row#ws-}" WS_ZIPF_S="$WS_ZIPF_S" WS_SEED="$WS_SEED" \
    IMG_PATH="$(img_path "$peer")" IMG_PREFIX="$stamp-r$round-$peer" \
    wrk --latency -t"$THREADS" -c"$conns" -d"$DURATION" "${extra[@]}" "$url" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || true
  wrk_pid=""
  after="$(origin_requests)"
  local sent origin_note="" hit_note=""
  sent="$(awk '/requests in/ {print $1}' "$out")"
  # Hits must not reach the origin; each miss must (once).
  origin_note="  origin saw $((after - before)) of ${sent:-?}"
  if [ "$row" = img-cold ] && [ "$peer" = edgecache ]; then
    # Every request must have been a variant made, not the original served instead (busy, timeout...).
    local made refused
    made=$(( $(edgecache_metric $P_SHIELD_ADMIN edgecache_images_variants_total) - made0 ))
    refused=$(( $(edgecache_metric $P_SHIELD_ADMIN edgecache_images_refused_total) - refused0 ))
    origin_note="$origin_note; its shield made $made variants, refused $refused"
    echo "shield: $made variants made, $refused refused during this run" >>"$out"
    printf 'img-cold\tround %s: EdgeCache shield made %s variants, refused %s (wrk sent %s)\n' "$round" "$made" "$refused" "${sent:-?}" >>"$results/img-notes.tsv"
    [ "$refused" -eq 0 ] || origin_note="$origin_note (WARNING: refusals are originals served, not variants)"
  fi
  echo "origin requests during this run: $((after - before)) (wrk sent ${sent:-?})" >>"$out"
  if is_ws_row "$row"; then
    [ "$peer" = ats ] && ats_ws_sent=$((ats_ws_sent + ${sent:-0}))
    read -r -a c1 < <(ws_counters "$peer") || true
    if [ ${#c0[@]} -eq 3 ] && [ ${#c1[@]} -eq 3 ]; then
      local h=$((c1[0] - c0[0])) o=$((c1[1] - c0[1])) m="-"
      [ "${c1[2]}" != - ] && m=$((c1[2] - c0[2]))
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$row" "$peer" "$h" "$o" "$m" >>"$results/hits.tsv"
      hit_note="  its counters: $h hits, $o not"
      [ "$m" = - ] || hit_note="$hit_note, $m from memory"
      echo "$peer's own counters during this run: $h hits, $o other, memory hits $m" >>"$out"
      if [ "$peer" = ats ]; then echo "its statistics after the run:"; cat "$work/ats-ws-stats.txt"; fi >>"$out"
    else
      hit_note="  its counters: unreadable"
    fi
    [ $((after - before)) -eq 0 ] || origin_note="$origin_note (WARNING: the origin saw requests during a ws run)"
  fi
  local rps p50 p99 non2xx sock
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
  p50="$(awk '$1 == "50%" {print $2}' "$out")"
  p99="$(awk '$1 == "99%" {print $2}' "$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")"
  sock="$(awk '/Socket errors:/ {s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i + 0; print s}' "$out")"
  [ -n "$rps" ] || { say "  round $round $row $peer: wrk failed (see $out)"; return 0; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$row" "$peer" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$(( ${non2xx:-0} + ${sock:-0} ))" >>"$runs"
  say "  round $round $(printf '%-22s %-10s' "$(row_label "$row")" "$peer") $(printf '%10.0f req/s  p50 %8s  p99 %8s' "$rps" "$p50" "$p99")$origin_note$hit_note$( [ $(( ${non2xx:-0} + ${sock:-0} )) -gt 0 ] && echo "  errors: non-2xx ${non2xx:-0}, socket ${sock:-0}")"
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

# The img-cold row's output quality: one cold variant from each peer, its bytes and SSIM against a reference
# resize of the original (ImageMagick's -resize, Lanczos, to 400x300), by EdgeCache.ImageCompare (libvips).
if has_row img-cold; then
  mkdir -p "$results/img"
  samples=()
  curl -fsS -o "$results/img/original.jpg" "$ORIGIN/img/bench-reference.jpg" || die "the origin did not serve /img/"
  convert "$results/img/original.jpg" -resize 400x300 "$results/img/reference.png" || die "ImageMagick could not make the reference resize"
  for peer in $PEERS; do
    img_peer "$peer" || continue
    case "$peer" in
      edgecache)
        for q in 50 65 80 90; do
          curl -fsS -o "$results/img/edgecache-q$q.webp" "http://127.0.0.1:$P_EDGE/_img/width=400,format=webp,quality=$q/img/bench-sample-q$q.jpg" \
            && samples+=("$results/img/edgecache-q$q.webp")
        done
        # The same resize to JPEG and AVIF at the default quality: each format's default output.
        curl -fsS -o "$results/img/edgecache-jpeg-q80.jpg" "http://127.0.0.1:$P_EDGE/_img/width=400,format=jpeg/img/bench-sample-jpeg.jpg" \
          && samples+=("$results/img/edgecache-jpeg-q80.jpg")
        curl -fsS -o "$results/img/edgecache-avif-q80.avif" "http://127.0.0.1:$P_EDGE/_img/width=400,format=avif/img/bench-sample-avif.jpg" \
          && samples+=("$results/img/edgecache-avif-q80.avif") ;;
      nginx)
        curl -fsS -o "$results/img/nginx-q75.jpg" "http://127.0.0.1:$P_NGINX/resize400/img/bench-sample.jpg" && samples+=("$results/img/nginx-q75.jpg") ;;
    esac
  done
  if [ ${#samples[@]} -gt 0 ]; then
    dotnet "$(dll EdgeCache.ImageCompare)" "$results/img/reference.png" "${samples[@]}" >"$results/img/ssim.txt" 2>>"$results/logs/image-compare.log" || true
    say "$(elapsed) image quality (bytes, SSIM against ImageMagick -resize 400x300 of the $(stat -c %s "$results/img/original.jpg")-byte original):"
    while read -r file format size bytes ssim rest; do
      name="$(basename "$file")"; name="${name%.*}"
      what="$name"
      case "$name" in edgecache-q80) what="edgecache quality 80 (the default: what the row measures)" ;; edgecache-jpeg-q80) what="edgecache format=jpeg, quality 80 (the default)" ;; edgecache-avif-q80) what="edgecache format=avif, quality 80 (the default)" ;; edgecache-q*) what="edgecache quality ${name#edgecache-q}" ;; nginx-q75) what="nginx image_filter_jpeg_quality 75 (what the row measures)" ;; esac
      say "  $what: $format $size, $bytes bytes, SSIM $ssim $rest"
      printf 'img-cold\t%s: %s %s, %s bytes, SSIM %s\n' "$what" "$format" "$size" "$bytes" "$ssim" >>"$results/img-notes.tsv"
    done <"$results/img/ssim.txt"
  fi
fi

# The img-cold row's warm-up: IMG_WARMUP of the same load per peer, not measured, so that the first round is not
# the one that JIT-compiles the edge's and shield's transformation path (it ran at about half the later rounds' rate).
if has_row img-cold && [ "$IMG_WARMUP" != 0 ] && [ "$IMG_WARMUP" != 0s ]; then
  for peer in $PEERS; do
    img_peer "$peer" || continue
    IMG_PATH="$(img_path "$peer")" IMG_PREFIX="$stamp-warm-$peer" \
      wrk -t"$THREADS" -c"$IMG_CONNECTIONS" -d"$IMG_WARMUP" -s "$work/img.lua" "http://127.0.0.1:$(port_of "$(row_target img-cold "$peer")")/" \
      >"$results/wrk/warmup-img-cold-$peer.txt" 2>&1 || true
  done
  say "$(elapsed) img-cold warm-up: $IMG_WARMUP per peer (not measured)"
fi

say ""
say "$(elapsed) wrk --latency -t$THREADS -c$CONNECTIONS -d$DURATION; h2load -t1 -c$H2_CONNECTIONS -m$H2_STREAMS for h2 rows; $ROUNDS round(s); peers: $PEERS"
for round in $(seq 1 "$ROUNDS"); do
  for row in $ROWS; do
    for peer in $PEERS; do
      case "$row" in
        l2) [ "$peer" = edgecache ] && [ $disk_tier -eq 1 ] || continue ;;
        miss|miss-1tier) [ "$peer" = ceiling ] && continue ;;
        ws-*) has_ws_peer "$peer" || continue ;;
        img-*) img_peer "$peer" || continue ;;
        tls-*) tls_peer "$peer" || continue ;;
        text-*) text_peer "$peer" || continue ;;
        h2-*) tls_peer "$peer" || continue; run_h2load "$round" "$row" "$peer"; continue ;;
      esac
      run_wrk "$round" "$row" "$peer"
    done
    print_rss "$round" "$row"
  done
done

# Notes under the table's rows: each ws peer's hit ratio by its own counters over all rounds, and
# the largest RSS after the row (over the rounds) of the EdgeCache processes that served it.
notes="$results/notes.tsv"
: >"$notes"
[ -f "$results/img-notes.tsv" ] && cat "$results/img-notes.tsv" >>"$notes"
if [ -f "$results/hits.tsv" ]; then
  awk -F'\t' '
    { k = $2 SUBSEP $3; h[k] += $4; o[k] += $5; if ($6 != "-") { m[k] += $6; hasm[k] = 1 }
      if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]; split(k, a, SUBSEP); t = h[k] + o[k]
        printf "%s\thits by its own counters, %-9s %6.2f%% of %d%s\n", a[1], a[2] ":", t ? 100 * h[k] / t : 0, t,
          (k in hasm) ? sprintf(" (%.1f%% of the hits from its memory tier)", h[k] ? 100 * m[k] / h[k] : 0) : ""
      }
    }' "$results/hits.tsv" >>"$notes"
fi
if [ -f "$results/rss.tsv" ]; then
  awk -F'\t' -v limit="$ws_rss_limit" '
    function serves(row, n) {
      if (row ~ /^ws-/) return n == "edge-ws"; if (row == "l2") return n == "edge-l2"
      if (row == "miss-1tier") return n == "edge-1tier"; if (row == "miss") return n == "edge" || n == "shield"
      return n == "edge"
    }
    serves($2, $3) { k = $2 SUBSEP $3; if (!(k in max) || $4 > max[k]) max[k] = $4; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]; split(k, a, SUBSEP)
        sep = (a[1] in line) ? ", " : ""
        line[a[1]] = line[a[1]] sep sprintf("%s %.0f MiB", a[2], max[k] / 1024)
        if (a[1] ~ /^ws-/) line[a[1]] = line[a[1]] sprintf(" (limit %.0f MiB%s)", limit / 1048576, max[k] * 1024 > limit ? ": ABOVE IT" : "")
        if (!(a[1] in seenrow)) { seenrow[a[1]] = 1; rows[++nr] = a[1] }
      }
      for (i = 1; i <= nr; i++) printf "%s\tEdgeCache RSS after the row (largest): %s\n", rows[i], line[rows[i]]
    }' "$results/rss.tsv" >>"$notes"
fi

# ---------------------------------------------------------------------------------------------
# The table.
table="$results/table.txt"
config="wrk --latency -t$THREADS -c$CONNECTIONS -d$DURATION$( [ $h2_rows -eq 1 ] && echo ", h2load -t1 -c$H2_CONNECTIONS -m$H2_STREAMS -D $DURATION")$(has_row img-cold && echo " (img-cold: -c$IMG_CONNECTIONS)"), $ROUNDS round(s), $(date -u '+%Y-%m-%d %H:%M UTC'); EdgeCache edge: ${EDGE_ENV:-product defaults}${EDGE_BIN:+, build from $EDGE_BIN}${SHIELD_ENV:+; shield: $SHIELD_ENV}"
echo "$config" >"$results/config.txt"
l2_na=0
if has_row l2 && { [ $disk_tier -eq 0 ] || ! has_peer edgecache; }; then l2_na=1; fi
echo
L2_NA=$l2_na print_table "$runs" "$config" | tee "$table"

say "$(elapsed) results: $results (table.txt, runs.tsv, wrk/, logs/)"
