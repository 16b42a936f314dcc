#!/usr/bin/env bash
# Prefill and decode speed of Qwen3-VL-2B- and Qwen2.5-VL-3B-shaped text
# models (random weights from videollm-gen-model's qwen3vl-2b / qwen25vl-3b
# presets: the real models' text hyper-parameters, 151936-row tied
# vocabulary) in Q8_0 and Q4_K, each figure next to its limit from
# bench_llm (decode: read bandwidth / bytes streamed per token; prefill:
# GFLOP/s against sgemm in the same pool).
#   bench/run_qwen_llm.sh [BUILD_DIR] [THREADS]
# Environment: QWEN_BENCH_DIR=DIR keeps the generated files (about 7.5 GB)
# there between runs instead of a temporary directory; PREFILL (128),
# DECODE (16), LONG_CTX (512) size the runs (bench_llm -p/-n/-c).
set -euo pipefail
build=${1:-build}
threads=${2:-2}
if [[ -n "${QWEN_BENCH_DIR:-}" ]]; then
  dir=$QWEN_BENCH_DIR
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
models=()
for preset in qwen3vl-2b qwen25vl-3b; do
  for type in Q8_0 Q4_K; do
    f="$dir/$preset-$type.gguf"
    if [[ ! -s "$f" ]]; then
      start=$(date +%s)
      "$build/tests/videollm-gen-model" --preset "$preset" --type "$type" -o "$f.tmp" >/dev/null
      mv "$f.tmp" "$f"
      echo "generated=$f seconds=$(( $(date +%s) - start ))"
    fi
    models+=("$f")
  done
done
"$build/bench/bench_llm" -t "$threads" -p "${PREFILL:-128}" -n "${DECODE:-16}" -c "${LONG_CTX:-512}" "${models[@]}"
