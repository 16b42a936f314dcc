#!/bin/sh
# Issue 13 acceptance 2: any Qwen fixture set passes unchanged through the
# command line. For each set, exactly
#   videollm ask -m TEXT.gguf [--mmproj MMPROJ.gguf (--image F | --video F)] -p PROMPT [--raw]
#       --llamacpp-compat --vision ggml --image-max-tokens N -t 1 --temp 0 --seed 42
#       --print-ids --dump-logits FILE
# reproduces llama.cpp's greedy ids and its logits after the prompt (text:
# first-step logits to 1e-4, video 5e-4, image 5e-3; qwen_parity_ref.py).
# Files are found by pattern, prompts, ids, logits and image_max_tokens come
# from the set's JSON.
# Sets: $VIDEOLLM_FIXTURES if set, else the Qwen sets of tests/data (the two
# main sets and the held-back -alt sets of other shapes).
# usage: test_cli_qwen_parity.sh PATH-TO-videollm
set -u
exe="$1"
here=$(dirname "$0")
data="${VIDEOLLM_TEST_DATA:-$here/data}"
media_dir="$data/media"
ref_py="python3 $here/qwen_parity_ref.py"

if [ -n "${VIDEOLLM_FIXTURES:-}" ]; then
    sets="$VIDEOLLM_FIXTURES"
else
    sets="$data/tiny-qwen25vl $data/tiny-qwen3vl $data/tiny-qwen25vl-alt $data/tiny-qwen3vl-alt"
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0


model_in() {   # model_in SET PATTERN: first models/*PATTERN in name order
    for f in "$1"/models/*"$2"; do
        [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
    done
    echo "FAIL: no models/*$2 in the fixture set $1" >&2
    return 1
}

# run_part SET PART: 0 pass, 1 fail
run_part() {
    set_dir=$1 part=$2 w="$tmp/$(basename "$1")-$2"
    mkdir -p "$w"
    $ref_py read "$set_dir" "$part" "$w" || return 1
    . "$w/vars"
    prompt=$(cat "$w/prompt")
    text=$(model_in "$set_dir" "$text_pattern") || return 1
    if [ "$part" = text ]; then
        # llama-completion's run: the prompt verbatim, no chat template
        set -- -m "$text" -p "$prompt" --raw
    else
        mmproj=$(model_in "$set_dir" "$mmproj_pattern") || return 1
        [ -f "$media_dir/$media" ] || { echo "FAIL: no media $media_dir/$media"; return 1; }
        set -- -m "$text" --mmproj "$mmproj" "--$part" "$media_dir/$media" -p "$prompt"
    fi
    set -- "$@" --llamacpp-compat --vision ggml
    set -- "$@" --image-max-tokens "$image_max_tokens"
    set -- "$@" -t 1 --temp 0 --seed 42 -n "$n_predict" --print-ids --dump-logits "$w/logits.f32"
    echo "run: videollm ask $*" | sed "s#$set_dir/##g; s#$media_dir/##g"
    "$exe" ask "$@" >"$w/out" 2>"$w/err" || { echo "FAIL: $part: videollm exited non-zero"; cat "$w/err"; return 1; }
    $ref_py compare "$set_dir" "$part" "$w/out" "$w/logits.f32"
}

for s in $sets; do
    [ -d "$s" ] || { echo "FAIL: fixture set $s does not exist"; fail=1; continue; }
    echo "== $s"
    run_part "$s" text || fail=1
    for part in image video; do
        run_part "$s" "$part" || fail=1
    done
done
[ "$fail" = 0 ] || exit 1
exit 0
