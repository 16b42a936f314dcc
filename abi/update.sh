#!/usr/bin/env bash
# Regenerate the committed ABI baseline, deliberately:
#   abi/update.sh              configure/build ./build-abi (debugoptimized) and dump
#   abi/update.sh BUILD_DIR    dump an existing build that has debug info
# Then review `git diff abi/` and commit it with the API change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-}
if [ -z "$build" ]; then
    build=$src/build-abi
    [ -d "$build" ] || meson setup "$build" "$src" --buildtype=debugoptimized >/dev/null
    ninja -C "$build" -j2 libvideollm.so.1.0.0 >/dev/null
fi
"$here/dump.sh" "$build/libvideollm.so.1" "$here/libvideollm.so.1.abi"
n=$(grep -c "<elf-symbol name='vllm_" "$here/libvideollm.so.1.abi" || true)
echo "abi: wrote $here/libvideollm.so.1.abi ($n exported vllm_* symbols)"
