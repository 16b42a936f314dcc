#!/usr/bin/env bash
# Write the ABI of a built libvideollm (types and exported functions as
# seen through the public headers only) to an abixml file.
#   abi/dump.sh LIBRARY OUT.abi [HEADERS_DIR]
# The library must carry DWARF (-g): without it abidw sees bare symbols and
# every type change would go unnoticed, so that is refused here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=${1:?usage: abi/dump.sh LIBRARY OUT.abi [HEADERS_DIR]}
out=${2:?usage: abi/dump.sh LIBRARY OUT.abi [HEADERS_DIR]}
headers=${3:-$here/../include/vllm}

if ! readelf -S --wide "$lib" | grep '\.debug_info' >/dev/null; then
    echo "abi/dump.sh: $lib has no debug info; build with -g (e.g. --buildtype=debugoptimized)" >&2
    exit 2
fi
# --headers-dir + --drop-private-types: internal (lib/) types are not ABI.
# --drop-undefined-syms: without it abidw also records every function the
# library calls (libc, libav*, its own hidden vl_* helpers) and the types
# they reach, which would put internal structs into the baseline.
# No paths, locations or DT_NEEDED (a new dependency is not an ABI change)
# in the output, so the file only changes when the ABI does, whatever the
# build directory was called.
abidw --headers-dir "$headers" --drop-private-types \
      --no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed \
      --drop-undefined-syms \
      --out-file "$out" "$lib"
