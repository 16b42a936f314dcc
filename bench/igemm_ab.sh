#!/bin/sh
# A/B of the two prefill GEMM paths for quantized weights: the integer GEMM
# (VIDEOLLM_IGEMM=1) against dequantized tiles + sgemm (VIDEOLLM_IGEMM=0),
# interleaved per model and repeated, so a shared machine's load hits both
# alike; llama.cpp's pp512 on the same file in the same round when a build
# directory is given. The load average is printed with every round.
# VIDEOLLM_IGEMM=1 forces every supported type through the integer GEMM,
# including the Q8_0/Q5_0 tensors a K-quant file keeps where n_in is not a
# multiple of 256; the library's default picks per type (kernels.h).
#
#   bench/igemm_ab.sh BUILD_DIR [-r ROUNDS] [-p TOKENS] [-l LLAMA_CPP_BUILD_DIR] MODEL.gguf...
#
# Output, one line per run:
#   igemm_ab round=R model=M path=int8|f32|llama.cpp prefill_tok_s=X load1=L
# then per model the median of each path and int8/f32, int8/llama.cpp.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR [-r ROUNDS] [-p TOKENS] [-l LLAMA_CPP_BUILD_DIR] MODEL.gguf..." >&2; exit 2; }
build=$1
shift
rounds=3 tokens=512 llama=
while [ $# -gt 0 ]; do
    case $1 in
    -r) rounds=$2; shift 2 ;;
    -p) tokens=$2; shift 2 ;;
    -l) llama=$2; shift 2 ;;
    *) break ;;
    esac
done
bench="$build/bench/bench_llm"
[ -x "$bench" ] || { echo "$0: no $bench (build first)" >&2; exit 2; }
if [ -n "$llama" ] && [ ! -x "$llama/bin/llama-bench" ]; then
    echo "$0: no $llama/bin/llama-bench; llama.cpp skipped" >&2
    llama=
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }

r=1
while [ "$r" -le "$rounds" ]; do
    for m in "$@"; do
        for path in int8 f32; do
            ig=1
            [ $path = f32 ] && ig=0
            tok=$(VIDEOLLM_IGEMM=$ig "$bench" -t 2 -p "$tokens" -n 1 -c 2 "$m" 2>/dev/null |
                sed -n 's/.*prefill_tok_s=\([0-9.]*\).*/\1/p' | head -1)
            echo "igemm_ab round=$r model=$(basename "$m") path=$path prefill_tok_s=${tok:-0} load1=$(load1)" | tee -a "$out"
        done
        if [ -n "$llama" ]; then
            # llama-bench's markdown row: "| ... | pp512 | 123.45 ± 1.2 |"
            tok=$("$llama/bin/llama-bench" -m "$m" -t 2 -p "$tokens" -n 0 -r 2 2>/dev/null |
                sed -n "s/.*pp$tokens *| *\([0-9.]*\) .*/\1/p" | head -1)
            echo "igemm_ab round=$r model=$(basename "$m") path=llama.cpp prefill_tok_s=${tok:-0} load1=$(load1)" | tee -a "$out"
        fi
    done
    r=$((r + 1))
done

# medians per model and path
awk '
{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
  k = f["model"] SUBSEP f["path"]; n[k]++; v[k, n[k]] = f["prefill_tok_s"] + 0; models[f["model"]] = 1 }
function median(k,   i, j, t, c) {
    c = n[k]; if (!c) return 0
    for (i = 1; i <= c; i++) a[i] = v[k, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
END {
    for (m in models) {
        i8 = median(m SUBSEP "int8"); f3 = median(m SUBSEP "f32"); l = median(m SUBSEP "llama.cpp")
        printf "igemm_ab median model=%s int8_tok_s=%.1f f32_tok_s=%.1f int8_vs_f32=%.2f", m, i8, f3, (f3 > 0 ? i8 / f3 : 0)
        if (l > 0) printf " llama_cpp_tok_s=%.1f int8_vs_llama_cpp=%.2f f32_vs_llama_cpp=%.2f", l, i8 / l, f3 / l
        printf "\n"
    }
}' "$out"
