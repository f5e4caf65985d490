#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs the demo's smoke check, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

sb_require_swift
sb_install_packages curl python3 chromium iproute2 openssl apache2-utils postgresql systemd make
sb_python_modules jsonschema serial=pyserial pymodbus=pymodbus==3.16.1
echo "==> building"
swift build --build-tests
echo "==> demo smoke check"
scripts/demo.sh --check
echo "==> tests"
# One test at a time: the suite starts real servers, gateways, ptys and child processes, and on a
# two-core machine running them all at once made timing-sensitive set-ups flaky.
swift test --skip-build --no-parallel
