#!/usr/bin/env bash
# Generate Qwen2.5-VL-3B- and Qwen3-VL-2B-shaped vision towers (random
# weights, F16: 1280 hidden x 32 blocks, windows of 112 px with full
# attention every 8th block, SwiGLU 3420, patch 14; 1024 x 24 blocks, GELU
# 4096, patch 16, deepstack after blocks 5/11/17) and time one frame pair
# at the model's default frame size for test-3.mp4 (728x364 / 704x352,
# bench_encoder's default) next to the sgemm limit measured in the run.
# With LLAMA_CPP_DIR=<llama.cpp tree built into build/> the same mmproj is
# also run by llama-mtmd-cli on one still of that size (test-3.mp4's first
# frame scaled by ffmpeg; for these mergers a still is one temporal patch,
# the frame in both slots, so its ViT work is that of a frame pair), with
# the matching Q4_K text model (run_qwen_llm.sh's files), and one `compare`
# line per tower gives llama.cpp's "image slice encoded in N ms", ours and
# the ratio ours/llama.cpp (below 1: we are faster).
#   bench/run_encoder_qwen.sh [BUILD_DIR] [THREADS]
# Environment: FRAMES (2) timed pairs after one warm-up; QWEN_BENCH_DIR=DIR
# keeps generated files between runs (shared with run_qwen_llm.sh); PRESETS
# narrows the towers (default: qwen25vl-3b qwen3vl-2b).
# Measured on the shared 2-core machine (2026-12-03, sgemm limit 16.6
# GFLOP/s): Qwen2.5-VL-3B 126 s per pair (1782 GFLOP, 0.85 of sgemm),
# Qwen3-VL-2B 60 s (729 GFLOP, 0.73).
# The machine is shared: the load average is printed before and after; at a
# load above the core count the figures are noise, not speed.
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
presets=(${PRESETS:-qwen25vl-3b qwen3vl-2b})
towers=()
for preset in "${presets[@]}"; do
  gen "$preset-mmproj" F16 "$dir/$preset-mmproj-F16.gguf"
  towers+=("$dir/$preset-mmproj-F16.gguf")
done
echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) cores=$(nproc)"
ours=$(mktemp)
trap 'rm -f "$ours"; [[ -n "${QWEN_BENCH_DIR:-}" ]] || rm -rf "$dir"' EXIT
"$build/bench/bench_encoder" -t "$threads" -n "${FRAMES:-2}" "${towers[@]}" | tee "$ours"

if [[ -n "${LLAMA_CPP_DIR:-}" ]]; then
  cli="$LLAMA_CPP_DIR/build/bin/llama-mtmd-cli"
  [[ -x "$cli" ]] || { echo "llama.cpp: no $cli" >&2; exit 1; }
  for preset in "${presets[@]}"; do
    mm="$dir/$preset-mmproj-F16.gguf"
    gen "$preset" Q4_K "$dir/$preset-Q4_K.gguf"
    # our line for this tower: its frame size and time per pair
    read -r size our_ms < <(awk -v f="$mm" '$1 == "encoder" && $2 == "file=" f {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
      END { print v["frame_pair"], v["ms_per_frame_pair_best"] }' "$ours")
    still="$dir/frame-$size.png"
    [[ -s "$still" ]] || ffmpeg -nostdin -loglevel error -y -i "$here/../tests/data/media/test-3.mp4" \
      -vf "scale=${size%x*}:${size#*x}:flags=bicubic" -frames:v 1 "$still"
    log="$dir/mtmd-$preset.log"
    "$cli" -m "$dir/$preset-Q4_K.gguf" --mmproj "$mm" --image "$still" -p "Describe." -n 1 --temp 0 \
      -t "$threads" >/dev/null 2>"$log"
    llama_ms=$(sed -n 's/.*image slice encoded in \([0-9]*\) ms.*/\1/p' "$log" | head -n 1)
    [[ -n "$llama_ms" ]] || { echo "llama.cpp: no 'image slice encoded' line in $log" >&2; exit 1; }
    awk -v f="$mm" -v s="$size" -v o="$our_ms" -v l="$llama_ms" 'BEGIN {
      printf "compare file=%s frame_pair=%s ms_per_frame_pair=%s llamacpp_ms_per_image_slice=%s ratio=%.2f\n", f, s, o, l, o / l }'
  done
fi
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) cores=$(nproc)"
