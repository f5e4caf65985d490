#!/usr/bin/env bash
# Release builds of the gateway (serialbridge) and the server (serialbridge-server) with the Swift
# runtime linked in (`--static-swift-stdlib`), to run on a box with no Swift installed.
#   scripts/build-release.sh [EXTRA SWIFT BUILD ARGUMENTS...]
#   e.g. scripts/build-release.sh --swift-sdk SDK-ID       (a cross build; see docs/RELEASE.md)
#   or the leaner link measured in docs/RELEASE.md (Footprint):
#   scripts/build-release.sh -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
# The binaries stay where `swift build -c release --show-bin-path [EXTRA ARGUMENTS]` says (`make install`
# copies them from there). They are stripped (`STRIP=all`, the default: symbol table and DWARF, about
# two thirds of the file); their debug info and symbols are kept beside them in NAME.debug, linked
# with a .gnu_debuglink, for gdb or llvm-symbolizer on a crash report. STRIP=debug keeps the symbol
# table in the binary; STRIP=none leaves it untouched.
# Then checks that each binary needs only system libraries (readelf's NEEDED entries, so this works on
# a cross-built binary too) and that the gateway has no Foundation or ICU in it, and prints sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
build=(swift build -c release --static-swift-stdlib "$@")
products=(serialbridge serialbridge-server)
for product in "${products[@]}"; do
    "${build[@]}" --product "$product"
done
bin="$("${build[@]}" --show-bin-path)"

# What a box must provide (Debian 12 packages: libc6, libstdc++6, libgcc-s1, zlib1g, libudev1 for the
# gateway, libsqlite3-0 for the server).
system='^(ld-linux[-a-z0-9_.]*\.so\.[0-9]+|lib(c|m|dl|rt|pthread|util|stdc\+\+|gcc_s|z|udev|sqlite3)\.so\.[0-9]+)$'

# The gateway must stay free of Foundation and ICU (FoundationEssentials is fine): they map ~39 MB.
# Linked statically they show as Foundation's Swift symbols or ICU's data blob. A binary stripped by
# an earlier run (and not relinked since) keeps its symbols in NAME.debug.
status=0
symbols="$bin/serialbridge"
[[ -n "$(readelf -SW "$symbols" | grep ' .symtab ')" ]] || symbols="$bin/serialbridge.debug"
if readelf -sW "$symbols" | awk '{print $8}' | grep -Eq '^(\$s10Foundation|icudt[0-9]+_dat$)'; then
    echo "error: serialbridge has Foundation or ICU linked in: a module of its graph imports full" \
        "Foundation (see docs/RELEASE.md, Footprint)" >&2
    status=1
fi

# The toolchain's llvm-objcopy strips any architecture (a cross-built binary too); binutils' strip
# is the fallback.
objcopy="$(dirname "$(readlink -f "$(command -v swift)")")/llvm-objcopy"
[[ -x "$objcopy" ]] || objcopy=strip
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
for product in "${products[@]}"; do
    binary="$bin/$product"
    before="$(stat -c %s "$binary")"
    # Only a binary fresh from the linker has debug info to set aside (a rerun may find it stripped).
    if [[ "${STRIP:-all}" != none && -n "$(readelf -SW "$binary" | grep ' .debug_info ')" ]]; then
        "$objcopy" --only-keep-debug "$binary" "$binary.debug"
        case "${STRIP:-all}" in
            debug) "$objcopy" --strip-debug --add-gnu-debuglink="$binary.debug" "$binary" ;;
            *) "$objcopy" --strip-all --add-gnu-debuglink="$binary.debug" "$binary" ;;
        esac
    fi
    needed="$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
    foreign="$(grep -Ev "$system" <<< "$needed" || true)"
    echo "$product: $(mib "$(stat -c %s "$binary")") MiB ($(mib "$before") MiB as linked); needs: $(tr '\n' ' ' <<< "$needed")"
    if [[ -n "$foreign" ]]; then
        echo "error: $product needs libraries a box without Swift lacks: $(tr '\n' ' ' <<< "$foreign")" >&2
        status=1
    fi
done
echo "binaries in $bin"
exit "$status"
