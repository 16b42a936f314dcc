#!/usr/bin/env bash
# Prefill and decode speed of Qwen3-VL-2B- and Qwen2.5-VL-3B-shaped text
# models (random weights from videollm-gen-model's qwen3vl-2b / qwen25vl-3b
# presets: the real models' text hyper-parameters, 151936-row tied
# vocabulary) in Q8_0 and Q4_K, each figure next to its limit from
# bench_llm (decode: read bandwidth / bytes streamed per token; prefill:
# GFLOP/s against sgemm in the same pool).
# With LLAMA_CPP_DIR=<llama.cpp tree built into build/> the same files are
# also run through llama-bench (-p PREFILL -n 0, then -p 0 -n DECODE, same
# thread count) and one `compare` line per model gives both figures, the
# limit and the ratio ours/llama.cpp.
#   bench/run_qwen_llm.sh [BUILD_DIR] [THREADS]
# Environment: QWEN_BENCH_DIR=DIR keeps the generated files (about 7.5 GB)
# there between runs instead of a temporary directory; PREFILL (512),
# DECODE (64), LONG_CTX (512) size the runs (bench_llm -p/-n/-c);
# LLAMA_BENCH_REPS (2) is llama-bench's -r; PRESETS / TYPES narrow the
# files (default: qwen3vl-2b qwen25vl-3b / Q8_0 Q4_K).
# The machine is shared: the load average is printed before and after; at a
# load above the core count the figures are noise, not speed.
set -euo pipefail
build=${1:-build}
threads=${2:-2}
prefill=${PREFILL:-512}
decode=${DECODE:-64}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -n "${QWEN_BENCH_DIR:-}" ]]; then
  dir=$QWEN_BENCH_DIR
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
models=()
for preset in ${PRESETS:-qwen3vl-2b qwen25vl-3b}; do
  for type in ${TYPES:-Q8_0 Q4_K}; do
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
echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) cores=$(nproc)"
ours=$(mktemp)
trap 'rm -f "$ours"; [[ -n "${QWEN_BENCH_DIR:-}" ]] || rm -rf "$dir"' EXIT
"$build/bench/bench_llm" -t "$threads" -p "$prefill" -n "$decode" -c "${LONG_CTX:-512}" "${models[@]}" | tee "$ours"

if [[ -n "${LLAMA_CPP_DIR:-}" ]]; then
  lb="$LLAMA_CPP_DIR/build/bin/llama-bench"
  [[ -x "$lb" ]] || { echo "llama.cpp: no $lb" >&2; exit 1; }
  for f in "${models[@]}"; do
    pp=$("$lb" -m "$f" -p "$prefill" -n 0 -t "$threads" -r "${LLAMA_BENCH_REPS:-2}" -o json | python3 "$here/llama_bench_ts.py")
    tg=$("$lb" -m "$f" -p 0 -n "$decode" -t "$threads" -r "${LLAMA_BENCH_REPS:-2}" -o json | python3 "$here/llama_bench_ts.py")
    # our figures for this file from bench_llm's key=value lines
    read -r our_pp our_tg limit < <(awk -v f="$f" '
      $1 == "model=" f { on = 1; next }
      /^model=/ { on = 0 }
      on { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
      END { print v["prefill_tok_s"], v["decode_tok_s_ctx0"], v["decode_limit_tok_s"] }' "$ours")
    awk -v f="$f" -v p="$prefill" -v n="$decode" -v opp="$our_pp" -v otg="$our_tg" -v lim="$limit" -v lpp="$pp" -v ltg="$tg" \
      'BEGIN { printf "compare model=%s prefill_tokens=%s prefill_tok_s=%s llamacpp_prefill_tok_s=%s prefill_ratio=%.2f " \
                      "decode_tokens=%s decode_tok_s=%s llamacpp_decode_tok_s=%s decode_ratio=%.2f decode_limit_tok_s=%s\n",
                      f, p, opp, lpp, opp / lpp, n, otg, ltg, otg / ltg, lim }'
  done
fi
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) cores=$(nproc)"
