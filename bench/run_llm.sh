#!/usr/bin/env bash
# Generate SmolLM2-135M/360M-shape text models (random weights) in the
# types published GGUFs use and run bench_llm on them.
#   bench/run_llm.sh [BUILD_DIR] [THREADS]
# llama.cpp on this machine (DESIGN.md §6, 2 threads, 135M shape):
# Q8_0 prefill 624 tok/s, decode 138 tok/s; F16 prefill 655, decode 110.
set -euo pipefail
build=${1:-build}
threads=${2:-2}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
models=()
for preset in smollm2-135m smollm2-360m; do
  for type in Q8_0 F16 Q4_0; do
    f="$dir/$preset-$type.gguf"
    "$build/tests/videollm-gen-model" --preset "$preset" --type "$type" -o "$f" >/dev/null
    models+=("$f")
  done
done
"$build/bench/bench_llm" -t "$threads" "${models[@]}"
