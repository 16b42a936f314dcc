#!/usr/bin/env bash
# KV memory figures (issue 6, acceptance 3-5) on a SmolVLM2-256M-shaped
# generated model (SmolLM2-135M text + SigLIP-base-512 mmproj, random
# weights):
#   1. snapshot size and save/load time, zstd vs uncompressed, per KV type
#      (bench_snapshot, 2048 positions);
#   2. a 30-minute synthetic stream with the offload tier on (q8_0 KV,
#      2048-position window, 64 MiB of compressed frames in RAM, the rest
#      in a spill file): context use, peak RSS and the tier's counters at
#      every question, then a question about the first minute
#      (bench_stream --offload 1).
#   bench/run_offload.sh [BUILD_DIR] [THREADS] [FPS]
# FPS (default 0.25) sets how many frames the 30 minutes carry: at 1 fps
# the encoder alone takes ~0.7 s x 1800 frames on 2 cores.
set -euo pipefail
build=${1:-build}
threads=${2:-2}
fps=${3:-0.25}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/tests/videollm-gen-model" --preset smollm2-135m --type Q8_0 -o "$dir/text.gguf" >/dev/null
"$build/tests/videollm-gen-model" --preset siglip-512 --type F16 -o "$dir/mmproj.gguf" >/dev/null
"$build/bench/bench_snapshot" -m "$dir/text.gguf" -n 2048 -t "$threads" --dir "$dir"
time "$build/bench/bench_stream" -m "$dir/text.gguf" --mmproj "$dir/mmproj.gguf" -c 2048 \
  -t "$threads" --minutes 30 --fps "$fps" --every 300 --offload 1 --kv-type q8_0 --ram-mib 64 \
  --spill-dir "$dir" --top-k 4
