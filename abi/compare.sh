#!/usr/bin/env bash
# The ABI policy, in one place:  abi/compare.sh OLD.abi NEW.abi [HEADER]
#
#   allowed  new exported functions or variables; new enumerators
#            (libabigail counts those as harmless)
#   fails    everything else: a removed function, a changed parameter or
#            return type, any change to a public struct (including growing
#            a params struct at its end - compatible by the struct_size
#            convention, but it must be deliberate: run abi/update.sh in
#            the same commit), changed enumerator values, ...
#   ignored  functions declared in the header's VLLM_EXPERIMENTAL section
#            (HEADER, default include/vllm/videollm.h): documented as
#            changeable in any release, so they are suppressed.
#
# abidiff's exit code is a bit set: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible change. Bit 8 alone is not enough (libabigail reports a
# changed struct member type as a plain change, bit 4), so with additions
# filtered out by --no-added-syms any non-zero status fails.
set -uo pipefail
old=${1:?usage: abi/compare.sh OLD.abi NEW.abi [HEADER]}
new=${2:?usage: abi/compare.sh OLD.abi NEW.abi [HEADER]}
header=${3:-$(cd "$(dirname "$0")/.." && pwd)/include/vllm/videollm.h}

# One suppression per experimental function: the VLLM_API declarations
# between `#ifdef VLLM_EXPERIMENTAL` and its `#endif /* VLLM_EXPERIMENTAL */`.
suppr=$(mktemp)
trap 'rm -f "$suppr"' EXIT
experimental=$(awk '/^#ifdef VLLM_EXPERIMENTAL/ { f = 1; next }
                    /^#endif \/\* VLLM_EXPERIMENTAL/ { f = 0 }
                    f && /^VLLM_API/' "$header" |
               sed -n 's/^VLLM_API[^(]*[^a-zA-Z0-9_]\(vllm_[a-zA-Z0-9_]*\) *(.*/\1/p')
for fn in $experimental; do
    printf '[suppress_function]\n  name = %s\n' "$fn" >> "$suppr"
done

abidiff --no-added-syms --suppressions "$suppr" "$old" "$new"
rc=$?
if [ "$rc" -ne 0 ]; then
    if [ $((rc & 3)) -ne 0 ]; then
        echo "abi: abidiff failed to compare (exit $rc)" >&2
    else
        echo "abi: INCOMPATIBLE or unrecorded ABI change (abidiff exit $rc)." >&2
        echo "abi: if it is deliberate, run abi/update.sh and commit the new baseline." >&2
    fi
    exit 1
fi
# Additions pass, but say so: they join the baseline at the next update.
added=$(abidiff --suppressions "$suppr" "$old" "$new" | grep -E "^  \[A\]" || true)
if [ -n "$added" ]; then
    echo "abi: compatible additions (not yet in the baseline; abi/update.sh records them):"
    echo "$added"
fi
echo "abi: OK${experimental:+ (experimental, not checked: $(echo $experimental))}"
exit 0
