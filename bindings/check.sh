#!/usr/bin/env bash
# Checks the language bindings and the embedding examples against a built
# library:  bindings/check.sh BUILD_DIR
#
#   1. Python: the unittest suite (bindings/python/tests) against
#      BUILD_DIR/libvideollm.so.1, then `pip install --no-build-isolation
#      --no-index` of the package into a scratch venv (offline; needs
#      Debian's python3-venv, python3-setuptools, python3-wheel) and an
#      import from outside the source tree.
#   2. The examples on the tiny fixture model: C (simple, stream, built by
#      meson in BUILD_DIR/examples), ask.py, stream.py.
#   3. Rust, if cargo is installed: `cargo test --offline` of the workspace
#      (linked through VIDEOLLM_LIB_DIR=BUILD_DIR; target dir inside
#      BUILD_DIR) and the ask example. Without cargo this step says SKIP.
# PYTHON picks the interpreter (default python3). Exits non-zero on the
# first failure.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/libvideollm.so.1" ]; then
    echo "usage: $0 BUILD_DIR   (a meson build directory holding libvideollm.so.1)" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
export VIDEOLLM_LIBRARY=$build/libvideollm.so.1
export VIDEOLLM_CLI=$build/examples/videollm
export VIDEOLLM_TEST_DATA=$root/tests/data
models=$root/tests/data/tiny-smolvlm2/models
text=$models/tiny-smolvlm2-main-text-F32.gguf
mmproj=$models/tiny-smolvlm2-main-mmproj-F32.gguf
video=$root/tests/data/media/test-3.mp4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "== python: unittest ($($py --version 2>&1))"
(cd "$root/bindings/python/tests" && PYTHONDONTWRITEBYTECODE=1 "$py" -m unittest discover -s . -v)

echo "== python: offline pip install into a venv"
# A copy, so the build leaves nothing in the source tree.
cp -r "$root/bindings/python" "$scratch/src"
"$py" -m venv --system-site-packages "$scratch/venv"
"$scratch/venv/bin/pip" install -q --no-build-isolation --no-index "$scratch/src"
(cd / && "$scratch/venv/bin/python" -c \
    'import videollm, sys; assert "site-packages" in videollm.__file__, videollm.__file__; print("installed videollm", videollm.version())')

echo "== examples"
"$build/examples/simple" "$text" "$mmproj" "$video" "What happens in this video?" > "$scratch/simple.out"
[ -s "$scratch/simple.out" ]
"$build/examples/stream" "$text" "$mmproj" 3 | tee "$scratch/stream.out"
grep -q "^frames pushed 6, encoded 6" "$scratch/stream.out"
PYTHONPATH=$root/bindings/python "$py" "$root/examples/ask.py" "$text" --mmproj "$mmproj" --video "$video" \
    --n-frames 3 -n 16 "What happens in this video?"
PYTHONPATH=$root/bindings/python "$py" "$root/examples/stream.py" "$text" "$mmproj" 3 | tee "$scratch/stream_py.out"
grep -q "^frames pushed 6, encoded 6" "$scratch/stream_py.out"

if command -v cargo > /dev/null; then
    echo "== rust: cargo test --offline ($(cargo --version), $(rustc --version))"
    export VIDEOLLM_LIB_DIR=$build CARGO_TARGET_DIR=$build/cargo-target
    cargo test --offline --manifest-path "$root/bindings/rust/Cargo.toml"
    cargo run --offline -q --manifest-path "$root/bindings/rust/Cargo.toml" --example ask -- \
        "$text" "$mmproj" "$video" "What happens in this video?"
else
    echo "== rust: SKIP (cargo is not installed)"
fi
echo "== bindings: all checks passed"
