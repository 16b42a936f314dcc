#!/usr/bin/env bash
# Time to first token for test-3.mp4 with the model's defaults (Qwen video
# rules: fps 2, the family's frame size and layout) on Qwen3-VL-2B- and
# Qwen2.5-VL-3B-shaped generated files (text Q4_K, mmproj F16; random
# weights, real shapes): `videollm ask --video test-3.mp4 -n 1 --json`,
# whole run (model load included) and its phases, one key=value line per
# model. The limits these phases run against are measured by
# run_encoder_qwen.sh (encoder vs sgemm) and run_qwen_llm.sh (prefill vs
# sgemm, decode vs read bandwidth) on the same files.
# llama.cpp is not run side by side here: its helper reads test-3.mp4 at
# 4 fps with up to 4096 tokens per frame (40 frames, each its own chunk),
# an hour-scale run on this 2-core machine (the issue measured 1,284 s to
# the first token for the SmolVLM2-256M shape alone).
# Measured on the shared 2-core machine (2026-12-03, load 4-5), Qwen3-VL-2B
# Q4_K: 190 s whole run = load 6.2 + decode 0.5 + encode 74 (20 frames,
# 320 visual tokens) + media prefill 100 + question 17; peak RSS 3.4 GiB.
#   bench/run_qwen_ttft.sh [BUILD_DIR] [THREADS]
# Environment: QWEN_BENCH_DIR=DIR keeps generated files (shared with the
# other run_qwen_* scripts); PRESETS narrows the models.
set -euo pipefail
build=${1:-build}
threads=${2:-2}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -n "${QWEN_BENCH_DIR:-}" ]]; then
  dir=$QWEN_BENCH_DIR
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
gen() {   # gen PRESET TYPE FILE: generate once
  [[ -s "$3" ]] && return 0
  "$build/tests/videollm-gen-model" --preset "$1" --type "$2" -o "$3.tmp" >/dev/null
  mv "$3.tmp" "$3"
}
clip="$here/../tests/data/media/test-3.mp4"
echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) cores=$(nproc)"
for preset in ${PRESETS:-qwen3vl-2b qwen25vl-3b}; do
  gen "$preset" Q4_K "$dir/$preset-Q4_K.gguf"
  gen "$preset-mmproj" F16 "$dir/$preset-mmproj-F16.gguf"
  "$build/examples/videollm" ask -m "$dir/$preset-Q4_K.gguf" --mmproj "$dir/$preset-mmproj-F16.gguf" \
    --video "$clip" -p "Describe this video." -n 1 -t "$threads" --json 2>/dev/null |
    python3 -c '
import json, sys
s = json.load(sys.stdin)["stats"]
n_vis = s["visual_tokens"]
print("ttft preset=%s wall_s=%.2f load_s=%.2f decode_s=%.2f encode_s=%.2f frames=%d visual_tokens=%d "
      "media_prefill_s=%.2f media_prefill_tok_s=%.1f prompt_s=%.2f peak_rss_mib=%.0f" % (
      sys.argv[1], s["wall_s"], s["load_s"], s["decode_s"], s["encode_s"], s["frames_encoded"], n_vis,
      s["media_prefill_s"], n_vis / s["media_prefill_s"] if s["media_prefill_s"] > 0 else 0,
      s["prompt_s"] + s["first_token_s"], s["peak_rss_bytes"] / 2**20))' "$preset"
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) cores=$(nproc)"
