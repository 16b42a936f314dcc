#!/bin/sh
# videollm info on a fixture (values from tests/data/tiny-smolvlm2/README.md)
# and on damaged copies (must fail with the reader's message, exit 1).
# usage: test_cli_info.sh PATH-TO-videollm
set -u
exe="$1"
. "$(dirname "$0")/fixture_set.sh"
text_q8=$(fx_model -text-Q8_0.gguf) || exit 1
mmproj_f32=$(fx_model -mmproj-F32.gguf) || exit 1
set_name=$(basename "$text_q8" -text-Q8_0.gguf) # the files are named after the model (general.name)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
expect() { # file pattern...
    f="$1"; shift
    for p in "$@"; do
        grep -q -e "$p" "$f" || { echo "FAIL: '$p' not in output:"; cat "$f"; fail=1; }
    done
}

"$exe" info "$text_q8" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] || { echo "FAIL: info on the Q8_0 fixture exited non-zero"; cat "$tmp/err"; fail=1; }
expect "$tmp/out" "GGUF v3, alignment 32, 25 key-value pairs, 21 tensors" "^architecture: *llama" \
    "^name: *$set_name" "^file type: *7" "embedding_length  *64\$" "block_count  *2\$" \
    "attention.head_count_kv  *2\$" "rope.freq_base  *100000\$" "vocab_size  *4139\$" "merges  *3840\$" \
    "bos  *4137 \"<|im_start|>\"" "eos  *4136 \"<end_of_utterance>\"" \
    "^token_embd.weight  *Q8_0  *\[64, 4139\]  *281452\$" "^blk.1.ffn_down.weight  *Q8_0  *\[192, 64\]" \
    "^totals: 21 tensors"

"$exe" info "$mmproj_f32" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 0 ] || { echo "FAIL: info on the mmproj exited non-zero"; cat "$tmp/err"; fail=1; }
expect "$tmp/out" "^architecture: *clip" "^family: *smolvlm2\$" "projector_type  *\"idefics3\"" "vision.projector.scale_factor  *2\$" \
    "vision.image_mean  *\[float32 x 3\] {0.5, 0.5, 0.5}" "^v.patch_embd.weight  *F32  *\[16, 16, 3, 32\]" \
    "^mm.model.fc.weight  *F32  *\[128, 64\]" "^totals: 38 tensors"

# the family an mmproj belongs to, for each tiny set of tests/data (the
# names vllm_model_info.family reports); a text model names none and shows
# its hyper-parameters whatever its architecture (qwen2vl, qwen3vl too)
data=${VIDEOLLM_TEST_DATA:-tests/data}
for pair in tiny-smolvlm2:smolvlm2 tiny-qwen25vl:qwen2.5-vl tiny-qwen3vl:qwen3-vl; do
    set_dir=$data/${pair%%:*} family=${pair#*:}
    mm=$(VIDEOLLM_FIXTURES=$set_dir fx_model -mmproj-F32.gguf) || exit 1
    text=$(VIDEOLLM_FIXTURES=$set_dir fx_model -text-F32.gguf) || exit 1
    "$exe" info --no-tensors "$mm" >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 0 ] || { echo "FAIL: info on $mm exited non-zero"; cat "$tmp/err"; fail=1; }
    expect "$tmp/out" "^family: *$family\$"
    "$exe" info --no-tensors "$text" >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 0 ] || { echo "FAIL: info on $text exited non-zero"; cat "$tmp/err"; fail=1; }
    ! grep -q "^family:" "$tmp/out" || { echo "FAIL: a family line for the text model $text"; fail=1; }
    expect "$tmp/out" "^hyper-parameters ([a-z0-9]*):\$" "^  block_count  *[0-9]"
done

# the M-RoPE sections and deepstack layers of Qwen3-VL (its README: mrope_sections [8, 4, 4, 0], 2 deepstack layers)
"$exe" info --no-tensors "$data"/tiny-qwen3vl/models/*-text-F32.gguf >"$tmp/out" 2>&1
expect "$tmp/out" "^hyper-parameters (qwen3vl):" "rope.dimension_sections  *\[int32 x 4\] {8, 4, 4, 0}" "n_deepstack_layers  *2\$"

# damaged: truncated in the metadata, and wrong magic
head -c 1000 "$text_q8" >"$tmp/cut.gguf"
"$exe" info "$tmp/cut.gguf" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || { echo "FAIL: truncated file: exit $rc, want 1"; fail=1; }
expect "$tmp/err" "^videollm info: .*cut.gguf: .*tokenizer.ggml.tokens.*byte offset"
printf 'GGML\003\000\000\000' >"$tmp/magic.gguf"
"$exe" info "$tmp/magic.gguf" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || { echo "FAIL: bad magic: exit $rc, want 1"; fail=1; }
expect "$tmp/err" "not a GGUF file"
"$exe" info "$tmp/missing.gguf" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] || { echo "FAIL: missing file accepted"; fail=1; }
"$exe" info >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] || { echo "FAIL: usage error not 2"; fail=1; }
exit $fail
