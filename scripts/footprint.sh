#!/usr/bin/env bash
# Footprint: the gateway's resident memory, idle and under load (release build).
#   scripts/footprint.sh [DEVICES=64] [RATE=10] [SECONDS=120]
# 1. idle: no ports, the server unreachable (a closed loopback port), discovery on, shipped profiles
#    loaded; RSS after SECONDS.
# 2. load: a real serialbridge-server on loopback, one simulator process playing DEVICES CSV sensors on
#    ptys at RATE readings/s each, the gateway bound to all of them; RSS after every device has
#    reported and SECONDS more, and the peak over that window. DEVICES=0 measures idle only.
# Prints VmRSS, RssAnon (heap, stacks), RssFile (mapped binaries and libraries) and the thread count.
# Uses the binaries in `swift build -c release --show-bin-path` (build them first with
# scripts/build-release.sh); GATEWAY=PATH and SERVER=PATH override them, e.g. to compare builds.
# The gateway inherits the environment, so `MALLOC_ARENA_MAX=2 scripts/footprint.sh` measures that.
# Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
devices="${1:-64}"; rate="${2:-10}"; seconds="${3:-120}"
bin="$(swift build -c release --show-bin-path)"
gateway_bin="${GATEWAY:-$bin/serialbridge}"
server_bin="${SERVER:-$bin/serialbridge-server}"
work="$(mktemp -d)"
pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

memory() { # PID -> "VmRSS 12.3 MiB (RssAnon 2.1, RssFile 10.2), VmHWM 13.0 MiB, 9 threads"
    awk '/^(VmRSS|RssAnon|RssFile|VmHWM):/ {kb[$1] = $2} /^Threads:/ {t = $2}
         END {printf "VmRSS %.1f MiB (RssAnon %.1f, RssFile %.1f), VmHWM %.1f MiB, %d threads\n",
              kb["VmRSS:"]/1024, kb["RssAnon:"]/1024, kb["RssFile:"]/1024, kb["VmHWM:"]/1024, t}' "/proc/$1/status"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "gateway binary: $gateway_bin ($(stat -c %s "$gateway_bin") bytes)"
echo "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-unset}"

# 1. Idle.
mkdir -p "$work/idle"
echo "not-a-token" > "$work/idle/token"
cat > "$work/idle/gw.json" <<JSON
{"gatewayId":"gw-idle","server":{"url":"ws://127.0.0.1:$(free_port)/gateway/v1","tokenFile":"token"},
 "profileFolders":["$PWD/DeviceProfiles"],"metrics":{"listen":"127.0.0.1:0"},"logLevel":"warning"}
JSON
"$gateway_bin" run --config "$work/idle/gw.json" 2>"$work/idle/gw.log" & idle=$!; pids+=($idle)
sleep "$seconds"
kill -0 "$idle" || { echo "idle gateway exited:"; cat "$work/idle/gw.log"; exit 1; }
echo "idle after ${seconds} s: $(memory "$idle")"
kill -TERM "$idle"; wait "$idle" 2>/dev/null || true
[ "$devices" -gt 0 ] || exit 0

# 2. Load.
"$server_bin" tokens add gw-load --tokens "$work/tokens" > "$work/token" 2>/dev/null
"$server_bin" serve --port 0 --port-file "$work/port" --db "$work/db.sqlite" --tokens "$work/tokens" \
    --log-level warning 2>"$work/server.log" & pids+=($!)
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.1; done
port="$(cat "$work/port")"
mkdir -p "$work/dev"
"$gateway_bin" simulate DeviceProfiles/generic-csv-lines.json --link "$work/dev/s" --devices "$devices" \
    --rate "$rate" 2>"$work/sim.log" & pids+=($!)
for _ in $(seq 1 300); do [ -e "$work/dev/s-$((devices - 1))" ] && break; sleep 0.1; done
ports=""
for i in $(seq 0 $((devices - 1))); do
    ports+="${ports:+,}{\"device\":\"d$i\",\"path\":\"dev/s-$i\",\"profile\":\"generic-csv-lines\"}"
done
cat > "$work/gw.json" <<JSON
{"gatewayId":"gw-load","server":{"url":"ws://127.0.0.1:$port/gateway/v1","tokenFile":"token"},
 "profileFolders":["$PWD/DeviceProfiles"],"ports":[$ports],"metrics":{"listen":"127.0.0.1:0"},"logLevel":"warning"}
JSON
"$gateway_bin" run --config "$work/gw.json" 2>"$work/gw.log" & gateway=$!; pids+=($gateway)
reporting() { curl -fsS "http://127.0.0.1:$port/api/devices" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
for _ in $(seq 1 600); do n="$(reporting || echo 0)"; [ "$n" -eq "$devices" ] && break; sleep 0.1; done
[ "$n" -eq "$devices" ] || { echo "only $n of $devices devices reported:"; tail "$work/gw.log"; exit 1; }
peak=0
for _ in $(seq 1 "$seconds"); do
    sleep 1
    kb="$(rss_kb "$gateway")"; [ "$kb" -gt "$peak" ] && peak="$kb"
done
echo "$devices devices x $rate/s after ${seconds} s: $(memory "$gateway"); peak VmRSS over the window $(awk -v k="$peak" 'BEGIN {printf "%.1f", k/1024}') MiB"
