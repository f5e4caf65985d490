#!/usr/bin/env bash
# The demo: a server, simulated sensors (one per shipped profile) on pseudo-terminals and a gateway, with generated
# config and token. Prints the dashboard URL; Ctrl-C stops everything and leaves nothing running.
#
#   scripts/demo.sh            run until Ctrl-C (port 8080, or a free one if 8080 is taken)
#   scripts/demo.sh --check    start, wait until every device reports through the server, stop
#
# State lives in .demo/ (database, tokens, config, logs); delete it to start afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

check=false
[ "${1:-}" = "--check" ] && check=true

sb_require_swift
sb_install_packages
demo="$PWD/.demo"
mkdir -p "$demo/dev" "$demo/logs"

echo "==> building (the first build takes a few minutes)"
for product in serialbridge serialbridge-server; do
    swift build --product "$product" > "$demo/logs/build.log" 2>&1 || { cat "$demo/logs/build.log" >&2; exit 1; }
done
bin="$(swift build --show-bin-path)"
rm -f "$demo/port" "$demo/dev/"*
database="$demo/server.sqlite"
if $check; then
    # The check must see readings of this run, not ones kept from an earlier demo.
    database="$demo/check.sqlite"
    rm -f "$database" "$database-wal" "$database-shm"
fi

if [ ! -s "$demo/tokens" ] || [ ! -s "$demo/token" ]; then
    rm -f "$demo/tokens"
    "$bin/serialbridge-server" tokens add gw-demo --tokens "$demo/tokens" > "$demo/token" 2>/dev/null
else
    # A .demo/ from before hashed tokens holds `GATEWAY TOKEN` lines: hash them in place.
    "$bin/serialbridge-server" tokens migrate --tokens "$demo/tokens" > /dev/null
fi

port="${SERIALBRIDGE_DEMO_PORT:-8080}"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "==> port $port is taken; picking a free one"
    port=0
fi

pids=()
gateway=""
cleanup() {
    trap - INT TERM EXIT
    if [ ${#pids[@]} -gt 0 ]; then
        echo; echo "==> stopping"
        # The gateway first, so it can hand the server what it still holds; then the rest.
        if [ -n "$gateway" ]; then kill -TERM "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true; fi
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/serialbridge-server" serve --host 127.0.0.1 --port "$port" --db "$database" \
    --tokens "$demo/tokens" --port-file "$demo/port" > "$demo/logs/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$demo/port" ] && break; sleep 0.1; done
[ -s "$demo/port" ] || { echo "error: the server did not start; see $demo/logs/server.log" >&2; tail -5 "$demo/logs/server.log" >&2; exit 1; }
port="$(cat "$demo/port")"

# One simulated device per shipped streaming profile: device id, profile, outputs per second.
devices=(
    "greenhouse generic-csv-lines 2"
    "cellar generic-json-lines 5"
    "street-pm plantower-pms5003 1"
    "roof-dust nova-sds011 1"
    "van-gps nmea-gps 1"
    "office-co2 winsen-mhz19b 1"
)
ports_json=""
for entry in "${devices[@]}"; do
    read -r device profile rate <<< "$entry"
    "$bin/serialbridge" simulate "DeviceProfiles/$profile.json" --link "$demo/dev/$device" --rate "$rate" \
        > "$demo/logs/sim-$device.log" 2>&1 &
    pids+=($!)
    ports_json+="${ports_json:+,}
    { \"device\": \"$device\", \"path\": \"dev/$device\", \"profile\": \"$profile\" }"
done
# An RS-485 line with two Modbus energy meters (units 1 and 2) answering the gateway's polls.
"$bin/serialbridge" simulate DeviceProfiles/eastron-sdm120.json --link "$demo/dev/rs485" --units 1,2 \
    > "$demo/logs/sim-rs485.log" 2>&1 &
pids+=($!)
for entry in "${devices[@]}" "rs485"; do
    read -r device _ <<< "$entry"
    for _ in $(seq 1 100); do [ -e "$demo/dev/$device" ] && break; sleep 0.1; done
done
devices+=("meter-1" "meter-2")

cat > "$demo/gateway.json" <<JSON
{
  "gatewayId": "gw-demo",
  "server": { "url": "ws://127.0.0.1:$port/gateway/v1", "tokenFile": "token" },
  "stateDirectory": "state",
  "profileFolders": ["../DeviceProfiles"],
  "ports": [$ports_json
  ],
  "buses": [
    { "path": "dev/rs485", "devices": [
      { "device": "meter-1", "profile": "eastron-sdm120", "unitId": 1 },
      { "device": "meter-2", "profile": "eastron-sdm120", "unitId": 2 }
    ] }
  ]
}
JSON
"$bin/serialbridge" run --config "$demo/gateway.json" > "$demo/logs/gateway.log" 2>&1 &
gateway=$!
pids+=($gateway)

echo
echo "    Dashboard:  http://127.0.0.1:$port/"
echo "    API:        http://127.0.0.1:$port/api/devices"
echo "    Logs:       $demo/logs/"
echo

if $check; then
    for _ in $(seq 1 600); do
        listed="$(curl -fsS "http://127.0.0.1:$port/api/devices" 2>/dev/null || true)"
        missing=0
        for entry in "${devices[@]}"; do
            read -r device _ <<< "$entry"
            [[ "$listed" == *"\"device\":\"$device\""* ]] || missing=1
        done
        if [ "$missing" -eq 0 ]; then
            echo "demo check: all ${#devices[@]} simulated devices reported through the server"
            exit 0
        fi
        sleep 0.1
    done
    echo "demo check: FAILED, not every device reported within 60 s: $listed" >&2
    tail -20 "$demo"/logs/*.log >&2
    exit 1
fi

echo "Press Ctrl-C to stop."
wait "${pids[@]}"
