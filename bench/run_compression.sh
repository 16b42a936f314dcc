#!/usr/bin/env bash
# Compression figures (issue 6): baseline vs the "fast" preset on a
# generated 2-minute static-heavy clip and on test-3.mp4 with a
# SmolVLM2-256M-shaped generated model (SmolLM2-135M text in Q8_0 +
# SigLIP-base-512 mmproj in F16, random weights), then the quality proxy
# on the tiny fixture model and on the generated model.
#   bench/run_compression.sh [BUILD_DIR] [THREADS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/tests/videollm-gen-model" --preset smollm2-135m --type Q8_0 -o "$dir/text.gguf" >/dev/null
"$build/tests/videollm-gen-model" --preset siglip-512 --type F16 -o "$dir/mmproj.gguf" >/dev/null
tiny="$src/tests/data/tiny-smolvlm2/models"
clip="$src/tests/data/media/test-3.mp4"
# speed on the 256M shape: baseline vs preset in the same process
"$build/bench/bench_compression" -t "$threads" -n 8 -m "$dir/text.gguf" --mmproj "$dir/mmproj.gguf" \
  --gen-video "$dir/static2min.mp4" --video "$clip"
# quality proxy on the 256M shape: test-3.mp4 only (7 configurations of the
# 64-frame static clip take too long on a shared 2-core machine)
"$build/bench/bench_compression" -t "$threads" -n 8 --no-speed --quality -m "$dir/text.gguf" --mmproj "$dir/mmproj.gguf" \
  --video "$clip"
# quality proxy on the tiny fixture model
"$build/bench/bench_compression" -t "$threads" -n 8 --no-speed --quality \
  -m "$tiny/tiny-smolvlm2-main-text-F32.gguf" --mmproj "$tiny/tiny-smolvlm2-main-mmproj-F32.gguf" \
  --video "$dir/static2min.mp4" --video "$clip"
