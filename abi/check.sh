#!/usr/bin/env bash
# Compare a build's libvideollm against the committed baseline.
#   abi/check.sh BUILD_DIR
# BUILD_DIR must be built with debug info (--buildtype=debugoptimized or
# debug). Exit 0 when the ABI is unchanged or only grew (see compare.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: abi/check.sh BUILD_DIR}
lib=$build/libvideollm.so.1
baseline=$here/libvideollm.so.1.abi
[ -e "$lib" ] || { echo "abi/check.sh: no $lib (build first)" >&2; exit 2; }
[ -e "$baseline" ] || { echo "abi/check.sh: no baseline $baseline (run abi/update.sh)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/dump.sh" "$lib" "$tmp/current.abi"
"$here/compare.sh" "$baseline" "$tmp/current.abi"
