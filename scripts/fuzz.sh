#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (AddressSanitizer on): one target per run.
#   scripts/fuzz.sh DeviceProfiles/nova-sds011.json -runs=3000000
#   scripts/fuzz.sh loader -max_total_time=600
#   scripts/fuzz.sh messages -runs=3000000
# Builds into .build-fuzz (kept apart from the normal build); extra arguments go to libFuzzer.
# Crashes and their inputs are written to the current directory as crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh PROFILE.json|loader|messages [libFuzzer options]}"
shift
swift build -c release --scratch-path .build-fuzz --product SerialBridgeFuzzer \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DSB_LIBFUZZER 2>&1 | grep -E "error|warning: unre|Compiling SerialBridge|Build" || true
corpus=".build-fuzz/corpus/$(basename "$target" .json)"
mkdir -p "$corpus"
SB_FUZZ_TARGET="$target" exec .build-fuzz/release/SerialBridgeFuzzer "$corpus" -max_len=4096 "$@"
