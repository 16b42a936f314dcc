#!/bin/sh
# videollm argument handling, on the tiny fixture model: numbers are parsed
# strictly (whole string, range-checked) in every subcommand and a bad one
# is refused with a message naming the option and the value; bad arguments
# say what is wrong in one line plus a hint; --help goes to stdout.
# usage: test_cli_args.sh PATH-TO-videollm
set -u
exe="$1"
. "$(dirname "$0")/fixture_set.sh"
text_f32=$(fx_model -text-F32.gguf) || exit 1
mmproj_f32=$(fx_model -mmproj-F32.gguf) || exit 1
clip="$VIDEOLLM_TEST_DATA/media/test-3.mp4"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
text="-m $text_f32"

# refused CMD-ARGS... : exit status 2 and a stderr line naming $want_opt and $want_val
refused() {
    "$exe" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    if [ $rc -ne 2 ]; then
        echo "FAIL: '$*' exited $rc, want 2"; cat "$tmp/err"; fail=1; return
    fi
    grep -qF -- "$want_opt" "$tmp/err" && grep -qF -- "$want_val" "$tmp/err" \
        || { echo "FAIL: '$*': message does not name '$want_opt' and '$want_val'"; cat "$tmp/err"; fail=1; }
    [ -s "$tmp/out" ] && { echo "FAIL: '$*' wrote to stdout"; fail=1; }
}

# --- strict numbers (issue 12 item 9) -----------------------------------------
for case in "-n abc" "-n 5x" "-n 2147483648" "-n -2" "--n-predict 1.5" "--temp x" "--temp -1" "--temp nan" \
            "--fps abc" "-c -3" "-c 12abc" "-t 99999" "--top-k 1e3" "--top-p 2" "--min-p x" \
            "--repeat-penalty 0" "--repeat-last-n -1" "--seed -1" "--seed 18446744073709551616" \
            "--max-frames ' 3'" "--n-frames 3x" "--start x" "--end 1e999" "--prune-rate 1" \
            "--video-max-tokens -5" "--dedup 2" "--image-max-tokens -1" "--image-min-tokens 16385" \
            "--image-max-tokens 12x" "--image-min-tokens ''"; do
    eval "set -- $case"
    want_opt="$1"; want_val="$2"
    refused ask $text -p hi "$@"
    refused chat $text "$@"
done
for case in "--fps abc" "--fps 0" "--max-frames 3x" "--n-frames -1" "--start abc" "--end 5s"; do
    eval "set -- $case"
    want_opt="$1"; want_val="$2"
    refused frames --video "$clip" "$@"
    refused frames --video "$clip" --sheet "$tmp/s.png" "$@"
done
want_opt=--cols; want_val=0; refused frames --video "$clip" --sheet "$tmp/s.png" --cols 0
want_opt=--size; want_val=64xq; refused frames --video "$clip" --size 64xq
[ -e "$tmp/s.png" ] && { echo "FAIL: a refused --sheet wrote its file"; fail=1; }

# good numbers still work (and the value is used: -n 3 gives three ids)
"$exe" ask $text -p hi -n 3 --print-ids -t 1 >"$tmp/out" 2>"$tmp/err" || { echo "FAIL: -n 3 refused"; cat "$tmp/err"; fail=1; }
[ "$(tail -n 1 "$tmp/out" | wc -w)" -eq 3 ] || { echo "FAIL: -n 3 did not give 3 ids"; cat "$tmp/out"; fail=1; }
"$exe" frames --video "$clip" --fps 2.5 --max-frames 4 >"$tmp/out" 2>"$tmp/err" || { echo "FAIL: frames --fps 2.5"; cat "$tmp/err"; fail=1; }
[ "$(wc -l <"$tmp/out")" -eq 4 ] || { echo "FAIL: --max-frames 4 gave $(wc -l <"$tmp/out") frames"; fail=1; }

# --- one line saying what is wrong, then the hint (issue 12 item 13) ------------
# short CMD-ARGS... : exit 2, exactly two stderr lines: a message matching $want, the hint
short() {
    "$exe" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    [ $rc -eq 2 ] || { echo "FAIL: '$*' exited $rc, want 2"; cat "$tmp/err"; fail=1; return; }
    [ "$(wc -l <"$tmp/err")" -eq 2 ] && head -n 1 "$tmp/err" | grep -q -- "$want" \
        && tail -n 1 "$tmp/err" | grep -q "videollm $1 --help" \
        || { echo "FAIL: '$*': want one line matching '$want' and the hint, got:"; cat "$tmp/err"; fail=1; }
}
img="$VIDEOLLM_TEST_DATA/media/test-1.jpeg"
pair="$text --mmproj $mmproj_f32"
want="--ctx-size: 4 .*too few"; short ask $text -p hi --ctx-size 4
want="no question: give -p"; short ask $text
want="unexpected argument 'extra'"; short ask $text -p hi extra
want="unknown option '--bogus'"; short ask $text -p hi --bogus
want="at most 16 images"; short ask $pair -p hi $(for i in $(seq 17); do printf -- '--image %s ' "$img"; done)
want="no model"; short chat -p hi
want="--video needs the vision projector"; short ask $text -p hi --video "$clip"
want="is a directory"; short ask $pair -p hi --image "$VIDEOLLM_TEST_DATA/media"
want="unexpected argument 'extra'"; short tokenize $text -p hi extra
want="unknown option '--bogus'"; short frames --video "$clip" --bogus
want="unexpected argument 'b.gguf'"; short info a.gguf b.gguf
# the bounds in range are taken (SmolVLM2 has fixed-size frames: the answer is the same as without them)
"$exe" ask $pair -p hi -n 3 --print-ids -t 1 --image "$img" >"$tmp/plain" 2>"$tmp/err" || { echo "FAIL: ask --image"; cat "$tmp/err"; fail=1; }
"$exe" ask $pair -p hi -n 3 --print-ids -t 1 --image "$img" --image-min-tokens 1 --image-max-tokens 16384 \
    >"$tmp/out" 2>"$tmp/err" || { echo "FAIL: --image-min-tokens 1 --image-max-tokens 16384 refused"; cat "$tmp/err"; fail=1; }
cmp -s "$tmp/plain" "$tmp/out" || { echo "FAIL: the token bounds changed a SmolVLM2 answer"; fail=1; }
want="--image-min-tokens 300 is above --image-max-tokens 200"
short ask $pair -p hi --image-min-tokens 300 --image-max-tokens 200
short chat $pair --image-min-tokens 300 --image-max-tokens 200
# an empty time range is named as such, not printed as [9.99, 5) (item 15)
want="--end 5 is not after --start 9.99"; short ask $pair -p hi --video "$clip" --start 9.99 --end 5
want="--end 5 is not after --start 9.99"; short frames --video "$clip" --start 9.99 --end 5
want="--end 5 is not after --start 9.99"; short frames --video "$clip" --sheet "$tmp/s.png" --start 9.99 --end 5
# --help: stdout, exit 0, for every subcommand; `videollm help CMD` is the same text
for cmd in ask chat frames info tokenize; do
    "$exe" $cmd --help >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -eq 0 ] && [ -s "$tmp/out" ] && [ ! -s "$tmp/err" ] \
        || { echo "FAIL: $cmd --help: exit $rc, stdout $(wc -c <"$tmp/out") bytes, stderr:"; cat "$tmp/err"; fail=1; }
    "$exe" help $cmd >"$tmp/out2" 2>&1 && cmp -s "$tmp/out" "$tmp/out2" || { echo "FAIL: 'videollm help $cmd' differs from --help"; fail=1; }
done
"$exe" frames --video "$clip" --sheet "$tmp/s.png" --help >"$tmp/out" 2>&1 && grep -q -- "--sheet" "$tmp/out" \
    || { echo "FAIL: frames --sheet --help"; fail=1; }
"$exe" ask --help | grep -q -- "--n-predict" || { echo "FAIL: ask --help lacks --n-predict"; fail=1; }
for cmd in ask chat; do
    for flag in --image-min-tokens --image-max-tokens; do
        "$exe" $cmd --help | grep -q -- "^  $flag N  .*visual tokens per image" || { echo "FAIL: $cmd --help lacks $flag"; fail=1; }
    done
done

# --- sampler values are checked before any video is decoded (item 14) ------------
# (a clip that cannot be opened: had the video come first, the message would name it)
for case in "--top-p 2" "--temp -0.5" "--repeat-penalty 0" "--min-p 1.5" "--top-k -1"; do
    eval "set -- $case"
    want="$1"; short ask $pair -p hi --video "$tmp/missing.mp4" "$@"
done

# --- llama.cpp spellings, -f, -v, warnings (issue 12 item 19) ---------------------
"$exe" ask $text -p "Describe it." -n 5 -t 1 --print-ids 2>/dev/null | tail -n 1 >"$tmp/want"
"$exe" ask --model "$text_f32" --prompt "Describe it." --n-predict 5 --threads 1 \
    --ctx-size 1024 --print-ids 2>"$tmp/err" | tail -n 1 >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" && [ -s "$tmp/want" ] || { echo "FAIL: long options give other ids"; cat "$tmp/err"; fail=1; }
printf 'Describe it.\n' >"$tmp/q.txt"
"$exe" ask $text -f "$tmp/q.txt" -n 5 -t 1 --print-ids 2>"$tmp/err" | tail -n 1 >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" || { echo "FAIL: -f FILE is not the same question as -p"; cat "$tmp/err"; fail=1; }
"$exe" ask $text --file "$tmp/q.txt" -n 5 -t 1 --print-ids 2>/dev/null | tail -n 1 >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" || { echo "FAIL: --file FILE"; fail=1; }
want="-f .*cannot read"; short ask $text -f "$tmp/nonexistent.txt"
want="-p or -f, not both"; short ask $text -p hi -f "$tmp/q.txt"
"$exe" ask $text -p hi -n 1 -t 1 -v >/dev/null 2>"$tmp/err"
grep -q "\[info\]" "$tmp/err" || { echo "FAIL: -v shows no library log"; cat "$tmp/err"; fail=1; }
"$exe" ask $text -p hi -n 1 -t 1 --verbose >/dev/null 2>"$tmp/err"
grep -q "\[info\]" "$tmp/err" || { echo "FAIL: --verbose shows no library log"; fail=1; }
# the fixture was trained on 2048 positions (its GGUF says so)
"$exe" ask $text -p hi -n 1 -t 1 -c 4096 >/dev/null 2>"$tmp/err" || { echo "FAIL: -c 4096 refused"; fail=1; }
grep -q "warning: -c 4096 is above the 2048 positions" "$tmp/err" || { echo "FAIL: no warning for -c above training"; cat "$tmp/err"; fail=1; }
cores=$(getconf _NPROCESSORS_ONLN)
"$exe" ask $text -p hi -n 1 -t $((cores + 1)) >/dev/null 2>"$tmp/err" || { echo "FAIL: -t cores+1 refused"; fail=1; }
grep -q "warning: -t $((cores + 1)) is above the $cores CPU cores" "$tmp/err" || { echo "FAIL: no warning for -t"; cat "$tmp/err"; fail=1; }
"$exe" ask $text -p hi -n 1 -t 1 -c 2048 >/dev/null 2>"$tmp/err"
[ -s "$tmp/err" ] && { echo "FAIL: a warning without cause"; cat "$tmp/err"; fail=1; }
# -sys: the same answer as the SmolVLM2 template's system + user text given raw
"$exe" ask $text -p hi -sys "Be brief." -n 4 -t 1 --print-ids 2>"$tmp/err" | tail -n 1 >"$tmp/got"
"$exe" ask $text --raw -p "$(printf '<|im_start|>System: Be brief.<end_of_utterance>\nUser: hi<end_of_utterance>\nAssistant:')" \
    -n 4 -t 1 --print-ids 2>/dev/null | tail -n 1 >"$tmp/want"
"$exe" ask $text -p hi -n 4 -t 1 --print-ids 2>/dev/null | tail -n 1 >"$tmp/plain"
[ -s "$tmp/got" ] && cmp -s "$tmp/want" "$tmp/got" || { echo "FAIL: -sys is not the template's system turn"; cat "$tmp/err"; fail=1; }
cmp -s "$tmp/plain" "$tmp/got" && { echo "FAIL: -sys changed nothing"; fail=1; }

exit $fail
