#!/usr/bin/env bash
# Generate Qwen2.5-VL-3B- and Qwen3-VL-2B-shaped vision towers (random
# weights, F16: 1280 hidden x 32 blocks, windows of 112 px with full
# attention every 8th block, SwiGLU 3420, patch 14; 1024 x 24 blocks, GELU
# 4096, patch 16, deepstack after blocks 5/11/17) and time one frame pair
# at the model's default frame size for test-3.mp4 (728x364 / 704x352,
# bench_encoder's default) next to the sgemm limit measured in the run.
#   bench/run_encoder_qwen.sh [BUILD_DIR] [THREADS]
# Measured on the shared 2-core machine (2026-12-03, sgemm limit 16.6
# GFLOP/s): Qwen2.5-VL-3B 126 s per pair (1782 GFLOP, 0.85 of sgemm),
# Qwen3-VL-2B 60 s (729 GFLOP, 0.73).
set -euo pipefail
build=${1:-build}
threads=${2:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for preset in qwen25vl-3b-mmproj qwen3vl-2b-mmproj; do
  "$build/tests/videollm-gen-model" --preset "$preset" --type F16 -o "$dir/$preset.gguf" >/dev/null
done
"$build/bench/bench_encoder" -t "$threads" -n 2 "$dir/qwen25vl-3b-mmproj.gguf" "$dir/qwen3vl-2b-mmproj.gguf"
