#!/usr/bin/env bash
# Release builds of the gateway (serialbridge) and the server (serialbridge-server) with the Swift
# runtime linked in (`--static-swift-stdlib`), to run on a box with no Swift installed.
#   scripts/build-release.sh [EXTRA SWIFT BUILD ARGUMENTS...]
#   e.g. scripts/build-release.sh --swift-sdk SDK-ID       (a cross build; see docs/RELEASE.md)
# LINK=lean (the default) links with the toolchain's lld, packs relative relocations (DT_RELR,
# `-z pack-relative-relocs`) and exports no symbols (`--no-export-dynamic`): several MiB less
# resident memory (docs/RELEASE.md, Footprint). DT_RELR needs glibc 2.36 or later where the binary
# runs (Debian 12 has it; Ubuntu 22.04, with 2.35, does not): for such a box use LINK=plain, the
# toolchain's default link (gold, every symbol exported). Without lld in the toolchain, or on a
# build machine with an older glibc (the binary could not even run where it is built), the script
# says so and falls back: to plain, or to lld without DT_RELR. Switching LINK recompiles everything
# (`-use-ld` is a compiler-driver flag, so SwiftPM counts it as a compile flag).
# OPT=size (the default) optimises the gateway for size (`-Osize`, its own and its dependencies'
# code): about 1.4 MiB less resident memory idle (docs/RELEASE.md, Footprint). Flags must
# be the same for every module of a build directory, so the gateway is then built in a build
# directory of its own (GATEWAY_SCRATCH, default .build-gateway) and copied beside the server, which
# stays optimised for speed (`-O`). OPT=speed builds both in one directory with `-O`.
# The binaries stay where `swift build -c release --show-bin-path [EXTRA ARGUMENTS]` says (`make install`
# copies them from there). They are stripped (`STRIP=all`, the default: symbol table and DWARF, about
# two thirds of the file); their debug info and symbols are kept beside them in NAME.debug, linked
# with a .gnu_debuglink, for gdb or llvm-symbolizer on a crash report. STRIP=debug keeps the symbol
# table in the binary; STRIP=none leaves it untouched.
# Then checks that each binary needs only system libraries (readelf's NEEDED entries, so this works on
# a cross-built binary too) and that the gateway has no Foundation or ICU in it, and prints sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
toolchain="$(dirname "$(readlink -f "$(command -v swift)")")"
link=()
case "${LINK:-lean}" in
    plain) ;;
    lean)
        if [[ -x "$toolchain/ld.lld" ]] || command -v ld.lld > /dev/null; then
            link=(-Xswiftc -use-ld=lld -Xlinker --no-export-dynamic)
            # The build machine's glibc: a binary with DT_RELR that its loader ignores crashes at start.
            glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
            if [[ -n "$glibc" ]] && awk -v v="$glibc" 'BEGIN {split(v, p, "."); exit !(p[1] > 2 || (p[1] == 2 && p[2] >= 36))}'; then
                link+=(-Xlinker -z -Xlinker pack-relative-relocs)
            else
                echo "note: glibc ${glibc:-unknown} here is older than 2.36: linking without DT_RELR (pack-relative-relocs)" >&2
            fi
        else
            echo "note: no ld.lld in the toolchain ($toolchain) or on PATH: the plain link (LINK=plain)" >&2
        fi
        ;;
    *) echo "error: LINK must be lean or plain, not ${LINK}" >&2; exit 2 ;;
esac
build=(swift build -c release --static-swift-stdlib ${link[@]+"${link[@]}"} "$@")
echo "link: ${link[*]:-plain (the toolchain default)}"
case "${OPT:-size}" in
    # Last on the command line, so that it wins over a --scratch-path among the extra arguments.
    size) gateway=("${build[@]}" -Xswiftc -Osize --scratch-path "${GATEWAY_SCRATCH:-.build-gateway}") ;;
    speed) gateway=("${build[@]}") ;;
    *) echo "error: OPT must be size or speed, not ${OPT}" >&2; exit 2 ;;
esac
echo "gateway: ${OPT:-size} (${gateway[*]:${#build[@]}})"
products=(serialbridge serialbridge-server)
"${gateway[@]}" --product serialbridge
"${build[@]}" --product serialbridge-server
bin="$("${build[@]}" --show-bin-path)"
gateway_bin="$("${gateway[@]}" --show-bin-path)"
if [[ "$gateway_bin" != "$bin" ]]; then
    # Fresh from its linker, so that the stripping below sets its debug info aside again.
    cp -f "$gateway_bin/serialbridge" "$bin/serialbridge"
fi

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
objcopy="$toolchain/llvm-objcopy"
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
