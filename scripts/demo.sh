#!/usr/bin/env bash
# The demo: a server, two simulated sensors on pseudo-terminals and a gateway, with generated
# config and token. Prints the dashboard URL; Ctrl-C stops everything and leaves nothing running.
#
#   scripts/demo.sh            run until Ctrl-C (port 8080, or a free one if 8080 is taken)
#   scripts/demo.sh --check    start, wait until both devices report through the server, stop
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

if [ ! -s "$demo/tokens" ]; then
    "$bin/serialbridge-server" token gw-demo --tokens "$demo/tokens" > "$demo/token"
fi

port="${SERIALBRIDGE_DEMO_PORT:-8080}"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "==> port $port is taken; picking a free one"
    port=0
fi

pids=()
cleanup() {
    trap - INT TERM EXIT
    if [ ${#pids[@]} -gt 0 ]; then
        echo; echo "==> stopping"
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/serialbridge-server" serve --host 127.0.0.1 --port "$port" --db "$demo/server.sqlite" \
    --tokens "$demo/tokens" --port-file "$demo/port" > "$demo/logs/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$demo/port" ] && break; sleep 0.1; done
[ -s "$demo/port" ] || { echo "error: the server did not start; see $demo/logs/server.log" >&2; tail -5 "$demo/logs/server.log" >&2; exit 1; }
port="$(cat "$demo/port")"

"$bin/serialbridge" simulate DeviceProfiles/generic-csv-lines.json --link "$demo/dev/greenhouse" --rate 2 --seed 1 \
    > "$demo/logs/sim-greenhouse.log" 2>&1 &
pids+=($!)
"$bin/serialbridge" simulate DeviceProfiles/generic-csv-lines.json --link "$demo/dev/cellar" --rate 5 --seed 2 \
    > "$demo/logs/sim-cellar.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -e "$demo/dev/greenhouse" ] && [ -e "$demo/dev/cellar" ] && break; sleep 0.1; done

cat > "$demo/gateway.json" <<JSON
{
  "gatewayId": "gw-demo",
  "server": { "url": "ws://127.0.0.1:$port/gateway/v1", "tokenFile": "token" },
  "stateDirectory": "state",
  "profileFolders": ["../DeviceProfiles"],
  "ports": [
    { "device": "greenhouse", "path": "dev/greenhouse", "profile": "generic-csv-lines" },
    { "device": "cellar", "path": "dev/cellar", "profile": "generic-csv-lines" }
  ]
}
JSON
"$bin/serialbridge" run --config "$demo/gateway.json" > "$demo/logs/gateway.log" 2>&1 &
pids+=($!)

echo
echo "    Dashboard:  http://127.0.0.1:$port/"
echo "    API:        http://127.0.0.1:$port/api/devices"
echo "    Logs:       $demo/logs/"
echo

if $check; then
    for _ in $(seq 1 600); do
        devices="$(curl -fsS "http://127.0.0.1:$port/api/devices" 2>/dev/null || true)"
        if [[ "$devices" == *'"device":"cellar"'* && "$devices" == *'"device":"greenhouse"'* ]]; then
            echo "demo check: both devices reported through the server"
            exit 0
        fi
        sleep 0.1
    done
    echo "demo check: FAILED, devices did not report within 60 s" >&2
    tail -20 "$demo"/logs/*.log >&2
    exit 1
fi

echo "Press Ctrl-C to stop."
wait "${pids[@]}"
