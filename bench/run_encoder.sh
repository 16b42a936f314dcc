#!/usr/bin/env bash
# Generate SigLIP-base-patch16-512-shape mmproj files (random weights; 768
# hidden, 12 layers, 12 heads, FFN 3072, image 512, patch 16, scale 4 ->
# 576) in F32 and F16 and run bench_encoder on them.
#   bench/run_encoder.sh [BUILD_DIR] [THREADS]
# llama.cpp on this machine (DESIGN.md §6, 2 threads, F32): ~1.6 s per
# 512x512 slice, ~130 GFLOP/s.
set -euo pipefail
build=${1:-build}
threads=${2:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
files=()
for type in F32 F16; do
  f="$dir/siglip-512-$type.gguf"
  "$build/tests/videollm-gen-model" --preset siglip-512 --type "$type" -o "$f" >/dev/null
  files+=("$f")
done
"$build/bench/bench_encoder" -t "$threads" "${files[@]}"
