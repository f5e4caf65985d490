#!/usr/bin/env bash
# Shared by demo.sh and test.sh: make sure the toolchain and system libraries are present.
# As root, missing Debian packages are installed; otherwise the exact command is printed.
set -euo pipefail

SB_PACKAGES=(libudev-dev libsqlite3-dev zlib1g-dev pkg-config)

sb_require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then
            export PATH="/opt/swift/usr/bin:$PATH"
        else
            echo "error: Swift 6 is not on PATH. Install it from https://www.swift.org/install/linux/ and retry." >&2
            exit 1
        fi
    fi
}

sb_install_packages() {
    local missing=()
    for package in "${SB_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "==> installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "error: missing system packages: ${missing[*]}" >&2
        echo "run:   sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}

# Python modules the tests use to check our output against independent implementations.
# Each argument is MODULE or MODULE=PIP-REQUIREMENT (e.g. serial=pyserial, pymodbus=pymodbus==3.16.1).
sb_python_modules() {
    local missing=()
    for entry in "$@"; do
        local module="${entry%%=*}" requirement="${entry#*=}"
        python3 -c "import $module" 2>/dev/null || missing+=("$requirement")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing Python modules: ${missing[*]}"
    if ! python3 -m pip install --quiet "${missing[@]}" 2>/dev/null; then
        # Debian's own python3 refuses pip installs (PEP 668): use its packages instead.
        local debian=()
        for requirement in "${missing[@]}"; do debian+=("python3-${requirement%%[=<>]*}"); done
        sb_install_packages "${debian[@]}"
    fi
}
