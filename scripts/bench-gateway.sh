#!/usr/bin/env bash
# Benchmark: the gateway's CPU and memory with many devices streaming (release build).
#   scripts/bench-gateway.sh [DEVICES=64] [RATE=100] [SECONDS=60]
# Starts a server, one simulator process playing DEVICES CSV sensors at RATE readings/s each, and a
# gateway bound to all of them; waits until every device has reported, then samples the gateway's
# CPU time and resident memory for SECONDS. Prints the figures; leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
devices="${1:-64}"; rate="${2:-100}"; seconds="${3:-60}"
swift build -c release --product serialbridge >/dev/null
swift build -c release --product serialbridge-server >/dev/null
bin="$(swift build -c release --show-bin-path)"
work="$(mktemp -d)"
pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin/serialbridge-server" tokens add gw-bench --tokens "$work/tokens" > "$work/token" 2>/dev/null
"$bin/serialbridge-server" serve --port 0 --port-file "$work/port" --db "$work/db.sqlite" --tokens "$work/tokens" \
    --log-level warning 2>"$work/server.log" & pids+=($!)
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.1; done
port="$(cat "$work/port")"
mkdir -p "$work/dev"
"$bin/serialbridge" simulate DeviceProfiles/generic-csv-lines.json --link "$work/dev/s" --devices "$devices" \
    --rate "$rate" 2>"$work/sim.log" & pids+=($!)
for _ in $(seq 1 300); do [ -e "$work/dev/s-$((devices - 1))" ] && break; sleep 0.1; done
ports=""
for i in $(seq 0 $((devices - 1))); do
    ports+="${ports:+,}{\"device\":\"d$i\",\"path\":\"dev/s-$i\",\"profile\":\"generic-csv-lines\"}"
done
cat > "$work/gw.json" <<JSON
{"gatewayId":"gw-bench","server":{"url":"ws://127.0.0.1:$port/gateway/v1","tokenFile":"token"},
 "profileFolders":["$PWD/DeviceProfiles"],"ports":[$ports],"logLevel":"warning"}
JSON
"$bin/serialbridge" run --config "$work/gw.json" 2>"$work/gw.log" & gateway=$!; pids+=($gateway)

count() { curl -fsS "http://127.0.0.1:$port/api/devices" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), sum(x["readings"] for x in d))'; }
for _ in $(seq 1 600); do read -r n _ < <(count) && [ "$n" -eq "$devices" ] && break; sleep 0.1; done
ticks() { awk '{print $14 + $15}' "/proc/$gateway/stat"; }
hz=$(getconf CLK_TCK)
read -r _ start_readings < <(count)
start_ticks=$(ticks); start=$(date +%s.%N); peak=0
for _ in $(seq 1 "$seconds"); do
    sleep 1
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$gateway/status"); [ "$rss" -gt "$peak" ] && peak=$rss
done
end_ticks=$(ticks); end=$(date +%s.%N)
read -r _ end_readings < <(count)
python3 - "$start" "$end" "$start_ticks" "$end_ticks" "$hz" "$peak" "$start_readings" "$end_readings" "$devices" "$rate" <<'PY'
import sys
start, end, t0, t1, hz, peak, r0, r1, devices, rate = map(float, sys.argv[1:])
elapsed = end - start
print(f"devices {int(devices)} x {rate:g} readings/s for {elapsed:.0f} s")
print(f"gateway CPU {100 * (t1 - t0) / hz / elapsed:.1f} % of one core, peak RSS {peak / 1024:.1f} MiB")
print(f"stored {(r1 - r0) / elapsed:.0f} readings/s at the server (offered {devices * rate:.0f}/s)")
PY
