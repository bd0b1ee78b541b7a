# Starting and stopping the cluster's processes (sourced by up.sh and faults.sh, after env.sh).
# Configuration files are written by up.sh into $state/conf; each process logs to $state/logs/<name>.log
# and its pid is in $state/<name>.pid.

run_in() { # host name cmd...: start cmd in the host's namespace, in the background
  local h="$1" name="$2"; shift 2
  mkdir -p "$state/logs"
  nohup ip netns exec "$(ns "$h")" "$@" >>"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
  disown $!   # not the caller's job: a SIGKILL by a test is not reported as "Killed" in its output
}

start_nats() { # h1|h2|h3
  run_in "$1" "nats-$1" nats-server -c "$state/conf/nats-$1.conf"
}

start_node() { # edge|shield h1|h2|h3
  local role="$1" h="$2" n="${2#h}" project dll
  if [ "$role" = edge ]; then project=edge/EdgeCache.Edge; dll=EdgeCache.Edge; else project=origin-shield/EdgeCache.Shield; dll=EdgeCache.Shield; fi
  EDGECACHE_CONFIG_FILE="$state/conf/$role-$n.json" run_in "$h" "$role-$n" dotnet "$(bin $project $dll)"
}

start_api() {
  EDGECACHE_CONFIG_FILE="$state/conf/purge-api.json" run_in api purge-api dotnet "$(bin invalidation/EdgeCache.Invalidation EdgeCache.Invalidation)"
}

start_origin() {
  run_in origin origin dotnet "$(bin loadtest/EdgeCache.LoadOrigin EdgeCache.LoadOrigin)" --urls "http://$(addr origin):$origin_port"
}

start_relay() { # host
  run_in "$1" "relay-$1" dotnet "$tool" relay --listen "127.0.0.1:$relay_port" --delay-ms "$delay_ms" --mark "$relay_mark"
}

stop_proc() { # name [signal]: signal the process and wait (10 s) until it is gone
  local name="$1" sig="${2:-TERM}" pid
  pid="$(cat "$state/$name.pid" 2>/dev/null)" || return 0
  kill "-$sig" "$pid" 2>/dev/null || { rm -f "$state/$name.pid"; return 0; }
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "netns: $name did not stop within 10 s of SIG$sig; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
  fi
  rm -f "$state/$name.pid"
}

wait_url() { # name url [seconds]: from the client host, until the URL answers 2xx
  local name="$1" url="$2" limit="${3:-90}" pid
  local until=$(( $(date +%s) + limit ))
  while [ "$(date +%s)" -lt "$until" ]; do
    inns client curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    pid="$(cat "$state/$name.pid" 2>/dev/null)"
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "netns: $name exited during start-up; $state/logs/$name.log ends with:" >&2
      tail -n 20 "$state/logs/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "netns: $name was not ready at $url within $limit s (see $state/logs/$name.log)" >&2
  return 1
}

# A purge with wait, from the client host; prints the API's answer.
purge() { # json-body
  inns client curl -sS --max-time 30 -H "Authorization: Bearer $purge_key" -H 'Content-Type: application/json' \
    -d "$1" "http://$(addr api):$api_port/purge"
}
