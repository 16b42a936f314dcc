#!/usr/bin/env bash
# Attention as the context grows, on the SmolLM2-135M shape (Q8_0 weights,
# random): decode tok/s after 0, 2048 and 8192 cached rows and prefill of a
# 512- vs a 4096-token prompt, with an f16 KV cache (the default), each next
# to the limit measured in the same run (read bandwidth over the weights +
# the K/V rows read per token; sgemm GFLOP/s) — see bench_llm.c for the keys.
#   bench/run_attention.sh [BUILD_DIR] [THREADS] [KV_TYPE]
# Then attention alone (bench_attention: decode and a 512-row prefill at
# depth 8192, the prefill next to the FMA peak measured in the same run).
# BENCH_LLM=path / BENCH_ATTENTION=path run other binaries (e.g. ones
# linked against an older library, for before/after figures in one run).
set -euo pipefail
build=${1:-build}
threads=${2:-2}
kv=${3:-f16}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model="$dir/smollm2-135m-Q8_0.gguf"
"$build/tests/videollm-gen-model" --preset smollm2-135m --type Q8_0 -o "$model" >/dev/null
echo "# load: $(uptime | sed 's/.*load average: //')"
"${BENCH_LLM:-$build/bench/bench_llm}" -t "$threads" -k "$kv" -p 512,4096 -n 32 -c 64 -d 0,2048,8192 "$model"
"${BENCH_ATTENTION:-$build/bench/bench_attention}" -t "$threads" -k "$kv" -d 8192
echo "# load: $(uptime | sed 's/.*load average: //')"
