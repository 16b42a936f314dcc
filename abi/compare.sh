#!/usr/bin/env bash
# The ABI policy, in one place:  abi/compare.sh OLD.abi NEW.abi
#
#   allowed  new exported functions or variables; new enumerators
#            (libabigail counts those as harmless)
#   fails    everything else: a removed function, a changed parameter or
#            return type, any change to a public struct (including growing
#            a params struct at its end - compatible by the struct_size
#            convention, but it must be deliberate: run abi/update.sh in
#            the same commit), changed enumerator values, ...
#
# abidiff's exit code is a bit set: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible change. Bit 8 alone is not enough (libabigail reports a
# changed struct member type as a plain change, bit 4), so with additions
# filtered out by --no-added-syms any non-zero status fails.
set -uo pipefail
old=${1:?usage: abi/compare.sh OLD.abi NEW.abi}
new=${2:?usage: abi/compare.sh OLD.abi NEW.abi}

abidiff --no-added-syms "$old" "$new"
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
added=$(abidiff "$old" "$new" | grep -E "^  \[A\]" || true)
if [ -n "$added" ]; then
    echo "abi: compatible additions (not yet in the baseline; abi/update.sh records them):"
    echo "$added"
fi
echo "abi: OK"
exit 0
