#!/usr/bin/env bash
# What a consumer gets from `meson install`: installs BUILD_DIR into its
# configured prefix (configure it with --prefix=/some/scratch/dir), then
#  - the installed videollm.pc gives -lvideollm and the include dir,
#  - consumer.c compiles (C11, -Werror) and links with nothing but
#    `pkg-config --cflags --libs videollm`, and runs (loading and
#    tokenizing with the tiny fixture model),
#  - the installed library passes check_symbols.sh (only vllm_* exported,
#    SONAME libvideollm.so.1) and the header is installed as <vllm/videollm.h>.
# Usage: install_check.sh BUILD_DIR [CC]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: install_check.sh BUILD_DIR [CC]}
cc=${2:-cc}

prefix=$(meson introspect --buildoptions "$build" |
         python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
case "$prefix" in
    /usr|/usr/local) echo "install_check.sh: $build installs into $prefix; configure it with a scratch --prefix" >&2; exit 2 ;;
esac
meson install -C "$build" --quiet

pc=$(find "$prefix" -name videollm.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: no videollm.pc installed under $prefix"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
echo "pkg-config file: $pc"
cflags=$(pkg-config --cflags videollm)
libs=$(pkg-config --libs videollm)
libdir=$(pkg-config --variable=libdir videollm)
echo "  --cflags: $cflags"
echo "  --libs:   $libs"
failures=0
grep -q -- "-lvideollm" <<< "$libs" || { echo "FAIL: --libs lacks -lvideollm"; failures=$((failures + 1)); }
[ -f "$prefix/include/vllm/videollm.h" ] || { echo "FAIL: header not installed as include/vllm/videollm.h"; failures=$((failures + 1)); }
[ -L "$libdir/libvideollm.so" ] || { echo "FAIL: no libvideollm.so development link in $libdir"; failures=$((failures + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086 # pkg-config output is a list of words
if "$cc" -std=c11 -Wall -Wextra -pedantic -Werror -o "$tmp/consumer" "$here/consumer.c" $cflags $libs; then
    # shellcheck source=../fixture_set.sh
    model=$(VIDEOLLM_TEST_DATA=${VIDEOLLM_TEST_DATA:-$here/../data} && . "$here/../fixture_set.sh" &&
        fx_model -text-Q8_0.gguf 2>/dev/null) || model=
    if LD_LIBRARY_PATH=$libdir "$tmp/consumer" ${model:+"$model"}; then
        echo "consumer: built with pkg-config only, ran OK"
        # It must have loaded the installed copy, not something else.
        LD_LIBRARY_PATH=$libdir ldd "$tmp/consumer" | grep "$libdir/libvideollm.so.1" >/dev/null ||
            { echo "FAIL: consumer did not resolve libvideollm.so.1 from $libdir"; failures=$((failures + 1)); }
    else
        echo "FAIL: consumer ran and failed"; failures=$((failures + 1))
    fi
else
    echo "FAIL: consumer did not compile/link with pkg-config flags alone"; failures=$((failures + 1))
fi

"$here/check_symbols.sh" "$libdir/libvideollm.so.1" || failures=$((failures + 1))
echo "install check: $failures failed"
[ "$failures" -eq 0 ]
