#!/usr/bin/env bash
# push_frame latency while an answer is generated, and frame-to-context
# latency (issue 12 item 4), on the tiny test model and on a generated
# SmolVLM2-256M-shaped pair (SmolLM2-135M text Q8_0 + SigLIP-base-512 mmproj,
# random weights). Each figure is printed next to its limit from the same run.
#   bench/run_push.sh [BUILD_DIR] [THREADS]
set -euo pipefail
build=${1:-build}
threads=${2:-2}
data=$(dirname "$0")/../tests/data/tiny-smolvlm2/models
echo "# tiny-smolvlm2"
"$build/bench/bench_push" -m "$data/tiny-smolvlm2-main-text-F32.gguf" --mmproj "$data/tiny-smolvlm2-main-mmproj-F32.gguf" \
  -c 4096 -t "$threads" --answers 10 --tokens 128
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/tests/videollm-gen-model" --preset smollm2-135m --type Q8_0 -o "$dir/text.gguf" >/dev/null
"$build/tests/videollm-gen-model" --preset siglip-512 --type F16 -o "$dir/mmproj.gguf" >/dev/null
echo "# SmolVLM2-256M shape"
# Answers long enough (~20 ms/token) that pushes, each ~8 s of encoding,
# land during them; with short answers no push overlaps and nothing is timed.
"$build/bench/bench_push" -m "$dir/text.gguf" --mmproj "$dir/mmproj.gguf" -c 4096 -t "$threads" --answers 2 --tokens 1500
