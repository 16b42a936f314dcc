#!/usr/bin/env bash
# Shows that the ABI check (abi/dump.sh + abi/compare.sh, the same scripts
# CI runs on the real library) catches what it must, using a tiny stand-in
# library (abi_stub.c) compiled against the real public header and against
# deliberately patched copies of it:
#   unchanged header               -> passes
#   one function added             -> passes (additions are allowed)
#   new enumerator appended        -> passes
#   struct field type changed      -> fails
#   function return type changed   -> fails
#   function removed               -> fails
#   params struct grown at its end -> fails (must go through abi/update.sh)
#   enumerator value changed       -> fails
#   experimental function changed  -> passes (VLLM_EXPERIMENTAL is exempt)
#   abi/dump.sh on a library without -g -> refused
# Usage: abi_break.sh SOURCE_ROOT CC
set -uo pipefail
src=${1:?source root}
cc=${2:-cc}
command -v abidw >/dev/null && command -v abidiff >/dev/null ||
    { echo "SKIP: abigail-tools (abidw, abidiff) not installed"; exit 77; }

tmp=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
header=$src/include/vllm/videollm.h
stub=$src/tests/abi/abi_stub.c
failures=0

# variant NAME SED_EXPR [CFLAGS...]: copy header and stub, apply SED_EXPR to
# both (it must change the header unless it is empty), build, dump the ABI.
variant() {
    local name=$1 expr=$2; shift 2
    mkdir -p "$tmp/$name/vllm"
    if [ -n "$expr" ]; then
        sed -e "$expr" "$header" > "$tmp/$name/vllm/videollm.h"
        sed -e "$expr" "$stub" > "$tmp/$name/stub.c"
        if cmp -s "$header" "$tmp/$name/vllm/videollm.h"; then
            echo "FAIL $name: the patch '$expr' no longer matches videollm.h; update this test"
            failures=$((failures + 1)); return 1
        fi
    else
        cp "$header" "$tmp/$name/vllm/videollm.h"
        cp "$stub" "$tmp/$name/stub.c"
    fi
    "$cc" -g -O0 -shared -fPIC -fvisibility=hidden -DVLLM_BUILDING_LIBRARY -DVLLM_EXPERIMENTAL "$@" \
        -I"$tmp/$name" -o "$tmp/$name/lib.so" "$tmp/$name/stub.c" || {
        echo "FAIL $name: stub did not compile"; failures=$((failures + 1)); return 1; }
    "$src/abi/dump.sh" "$tmp/$name/lib.so" "$tmp/$name.abi" "$tmp/$name/vllm" || {
        echo "FAIL $name: abi/dump.sh failed"; failures=$((failures + 1)); return 1; }
}

# expect NAME passed|failed: run the policy against the unchanged baseline.
expect() {
    local name=$1 want=$2 got
    [ -e "$tmp/$name.abi" ] || return 0   # already reported by variant()
    if "$src/abi/compare.sh" "$tmp/base.abi" "$tmp/$name.abi" > "$tmp/$name.log" 2>&1; then
        got=passed
    else
        got=failed
    fi
    if [ "$got" = "$want" ]; then
        echo "ok   $name: the check $got, as it should"
    else
        echo "FAIL $name: the check $got, expected it to have $want"; sed 's/^/     /' "$tmp/$name.log"
        failures=$((failures + 1))
    fi
}

variant base ""
variant same ""
variant added "" -DABI_STUB_ADD_FUNCTION
variant enum_added 's/^\(    VLLM_ERR_INTERNAL = -11\) /\1, VLLM_ERR_ABI_TEST = -99 /'
variant field_type '0,/int32_t n_ctx;/s//int64_t n_ctx;/'
variant return_type 's/unsigned vllm_version_number(void)/unsigned long vllm_version_number(void)/'
variant removed "" -DABI_STUB_DROP_FUNCTION
variant struct_grown 's/^\(    vllm_kv_type kv_type;.*\)$/\1\n    double abi_test_new_field;/'
variant enum_value 's/VLLM_ERR_IO = -2,/VLLM_ERR_IO = -20,/'
variant experimental 's/const float \*vllm_session_logits(const vllm_session \*session)/const double *vllm_session_logits(const vllm_session *session)/'

[ -e "$tmp/base.abi" ] || { echo "FAIL: could not build the baseline stub"; exit 1; }
expect same passed
expect added passed
expect enum_added passed
expect field_type failed
expect return_type failed
expect removed failed
expect struct_grown failed
expect enum_value failed
expect experimental passed

# The dump must refuse a library without debug info rather than produce an
# ABI with no types in it (which would make every type change invisible).
"$cc" -O1 -shared -fPIC -I"$src/include" -o "$tmp/nodebug.so" "$stub"
if "$src/abi/dump.sh" "$tmp/nodebug.so" "$tmp/nodebug.abi" >/dev/null 2>&1; then
    echo "FAIL nodebug: abi/dump.sh accepted a library without -g"; failures=$((failures + 1))
else
    echo "ok   nodebug: abi/dump.sh refuses a library without debug info"
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
