#!/usr/bin/env bash
# The shared library's dynamic interface, as a consumer's linker sees it:
#  - every defined dynamic symbol is vllm_* at version VIDEOLLM_1.0, or the
#    version node VIDEOLLM_1.0 itself (internal vl_* code stays hidden);
#  - at least one vllm_ function is exported (an empty list would pass the
#    first rule vacuously);
#  - the SONAME is libvideollm.so.1.
# Usage: check_symbols.sh path/to/libvideollm.so[.1[.0.0]]
set -euo pipefail
lib=${1:?usage: check_symbols.sh LIBRARY}
failures=0

syms=$(nm -D --defined-only "$lib" | awk '{print $NF}')
n_api=0
while IFS= read -r sym; do
    [ -n "$sym" ] || continue
    case "$sym" in
        VIDEOLLM_1.0) ;;
        vllm_*@@VIDEOLLM_1.0) n_api=$((n_api + 1)) ;;
        *) echo "FAIL: unexpected exported symbol '$sym'"; failures=$((failures + 1)) ;;
    esac
done <<< "$syms"
if [ "$n_api" -eq 0 ]; then
    echo "FAIL: no vllm_*@@VIDEOLLM_1.0 symbol exported"; failures=$((failures + 1))
fi
if ! grep -qx 'VIDEOLLM_1.0' <<< "$syms"; then
    echo "FAIL: version node VIDEOLLM_1.0 missing"; failures=$((failures + 1))
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" != "libvideollm.so.1" ]; then
    echo "FAIL: SONAME is '$soname', expected libvideollm.so.1"; failures=$((failures + 1))
fi

echo "$n_api vllm_* symbols exported, SONAME $soname, $failures failed"
[ "$failures" -eq 0 ]
