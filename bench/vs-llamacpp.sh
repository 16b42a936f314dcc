#!/usr/bin/env bash
# Issue 14's acceptance rows side by side with llama.cpp, in one run on the
# same generated files (random weights from videollm-gen-model): each row
# our figure, llama.cpp's and the ratio (ours / theirs for rates, theirs /
# ours for times), ours and theirs run one after the other per row so that
# drift on a shared machine hits both alike.
#   bench/vs-llamacpp.sh [BUILD_DIR] [THREADS]
# LLAMA_CPP_DIR: llama.cpp's bin directory (default /work/llama.cpp/build/bin:
# llama-bench, llama-mtmd-cli). Without it our figures are printed alone.
# Rows:
#   pp512          prefill of 512 tokens: bench_llm -p 512 vs llama-bench -p 512 -n 0
#                  (smollm2-135m and smollm2-360m shapes, Q8_0 and Q4_K)
#   tg_depthD      decode after D cached rows, f16 KV, D = 0, 2048, 8192 (135M Q8_0):
#                  bench_llm -d D -k f16 vs llama-bench -p 0 -n DECODE -d D -ctk f16 -ctv f16
#   tg_vs_limit    our decode at depth 0 / read bandwidth over the bytes streamed per token
#   pp4096_vs_512  our prefill rate of a 4096-token prompt / of a 512-token one (135M Q8_0)
#   vision_slice   one 512x512 slice through the SigLIP-512 tower (F16 file): bench_encoder's
#                  best of FRAMES in the fastest mode this CPU has vs llama-mtmd-cli's
#                  "mtmd batch encoding done in N ms" per image chunk (the best of the first
#                  MTMD_SLICES chunks of one 512x512 image; the run is stopped after them)
# Environment: DECODE (32) tokens per decode row, LLAMA_BENCH_REPS (2)
# llama-bench's -r, FRAMES (3), MTMD_SLICES (3), VS_DIR=DIR keeps the
# generated files between runs. Output: key=value lines, then a table.
# The load average is printed at the start and the end: above the core
# count the absolute figures are noise; the ratios hold better.
set -euo pipefail
build=${1:-build}
threads=${2:-2}
llama=${LLAMA_CPP_DIR:-/work/llama.cpp/build/bin}
decode=${DECODE:-32}
reps=${LLAMA_BENCH_REPS:-2}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -n "${VS_DIR:-}" ]]; then
  dir=$VS_DIR
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
peer=1
if [[ ! -x "$llama/llama-bench" ]]; then
  peer=0
  echo "peer=missing llama_cpp_dir=$llama (no llama-bench there): our figures only"
fi

gen() { # preset type file
  [[ -s "$3" ]] && return 0
  "$build/tests/videollm-gen-model" --preset "$1" --type "$2" -o "$3.tmp" >/dev/null
  mv "$3.tmp" "$3"
}
for preset in smollm2-135m smollm2-360m; do
  for type in Q8_0 Q4_K; do gen "$preset" "$type" "$dir/$preset-$type.gguf"; done
done
gen siglip-512 F16 "$dir/siglip-512-F16.gguf"
python3 - "$dir/image-512.ppm" <<'EOF'
import sys
w = h = 512
px = bytearray()
for y in range(h):
    for x in range(w):
        px += bytes(((x * 255) // w, (y * 255) // h, (x ^ y) & 255))
open(sys.argv[1], 'wb').write(b'P6\n%d %d\n255\n' % (w, h) + bytes(px))
EOF

echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) cores=$(nproc) threads=$threads"
table=$(mktemp)
trap 'rm -f "$table"; [[ -n "${VS_DIR:-}" ]] || rm -rf "$dir"' EXIT

# key=value field $2 of bench_llm's output in file $1
field() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k { print $2; exit }'; }
lbench() { "$llama/llama-bench" -t "$threads" -r "$reps" -o json "$@" | python3 "$here/llama_bench_ts.py"; }
# row NAME OURS THEIRS HIGHER_IS_BETTER(1|0) TARGET UNIT
row() {
  local ratio=-
  if [[ "$3" != - ]]; then
    ratio=$(awk -v o="$2" -v t="$3" -v h="$4" 'BEGIN { printf "%.2f", h ? o / t : t / o }')
  fi
  echo "row=$1 ours=$2 llamacpp=$3 ratio=$ratio unit=$6 target=$5"
  printf '%-28s %10s %10s %7s  %s\n' "$1" "$2" "$3" "$ratio" "$5" >>"$table"
}
ours=$(mktemp)

# prefill pp512, every text file
for preset in smollm2-135m smollm2-360m; do
  for type in Q8_0 Q4_K; do
    f="$dir/$preset-$type.gguf"
    "$build/bench/bench_llm" -t "$threads" -k f16 -p 512 -n 4 -c 8 "$f" >"$ours"
    o=$(field "$ours" prefill_tok_s)
    t=-
    [[ $peer == 1 ]] && t=$(lbench -m "$f" -p 512 -n 0)
    row "pp512_${preset#smollm2-}_$type" "$o" "$t" 1 "ratio>=2.5" tok/s
  done
done

# decode at depth, f16 KV, 135M Q8_0
f="$dir/smollm2-135m-Q8_0.gguf"
for D in 0 2048 8192; do
  "$build/bench/bench_llm" -t "$threads" -k f16 -p 16 -n "$decode" -c $((decode + 1)) -d "$D" "$f" >"$ours"
  o=$(field "$ours" "decode_tok_s_depth$D")
  t=-
  [[ $peer == 1 ]] && t=$(lbench -m "$f" -p 0 -n "$decode" -d "$D" -ctk f16 -ctv f16)
  row "tg${decode}_depth${D}_135m_Q8_0" "$o" "$t" 1 "$([[ $D == 0 ]] && echo - || echo 'ratio>=2')" tok/s
  if [[ $D == 0 ]]; then
    echo "row=tg_depth0_vs_read_limit ours=$(field "$ours" decode_vs_limit_depth0) limit_tok_s=$(field "$ours" decode_limit_tok_s_depth0) target=0.85"
    printf '%-28s %10s %10s %7s  %s\n' tg_depth0_vs_read_limit "$(field "$ours" decode_vs_limit_depth0)" - - ">=0.85" >>"$table"
  fi
done

# prefill of 4096 tokens against 512, ours
"$build/bench/bench_llm" -t "$threads" -k f16 -p 512,4096 -n 4 -c 8 "$f" >"$ours"
r=$(field "$ours" prefill_rate_4096_vs_512)
echo "row=pp4096_vs_pp512_135m_Q8_0 ours=$r prefill_tok_s_512=$(field "$ours" prefill_tok_s_512) prefill_tok_s_4096=$(field "$ours" prefill_tok_s_4096) target=0.7"
printf '%-28s %10s %10s %7s  %s\n' pp4096_vs_pp512_135m_Q8_0 "$r" - - ">=0.7" >>"$table"

# vision: one 512x512 slice
mm="$dir/siglip-512-F16.gguf"
"$build/bench/bench_encoder" -t "$threads" -n "${FRAMES:-3}" "$mm" >"$ours"
grep '^encoder ' "$ours" | sed 's/^/ours_/'
# the fastest mode's best time
o=$(awk '/^encoder / { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          if (best == "" || v["ms_per_frame_best"] + 0 < best + 0) { best = v["ms_per_frame_best"]; mode = v["mode"] } }
         END { print best, mode }' "$ours")
mode=${o#* }
o=${o% *}
t=-
if [[ $peer == 1 && -x "$llama/llama-mtmd-cli" ]]; then
  log="$dir/mtmd.log"
  "$llama/llama-mtmd-cli" -m "$dir/smollm2-135m-Q8_0.gguf" --mmproj "$mm" --image "$dir/image-512.ppm" -p "Describe." \
    -n 1 -t "$threads" --temp 0 >"$log" 2>&1 &
  pid=$!
  want=${MTMD_SLICES:-3}
  while kill -0 "$pid" 2>/dev/null && (( $(grep -c 'mtmd batch encoding done in' "$log" || true) < want )); do sleep 1; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  t=$(grep -o 'mtmd batch encoding done in [0-9]* ms' "$log" | awk '{ print $6 }' | sort -n | head -1)
  n=$(grep -c 'mtmd batch encoding done in' "$log" || true)
  if [[ -z "$t" ]]; then
    echo "llamacpp_vision=not_measured reason=no 'mtmd batch encoding done' line in llama-mtmd-cli's log ($log)"
    t=-
  else
    echo "llamacpp_vision_slices_timed=$n llamacpp_vision_ms_best=$t"
  fi
fi
row "vision_slice_ms_$mode" "$o" "$t" 0 "ratio>=2.4" ms

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
echo
printf '%-28s %10s %10s %7s  %s\n' row ours llama.cpp ratio target
cat "$table"
rm -f "$ours"
