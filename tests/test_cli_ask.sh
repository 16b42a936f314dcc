#!/bin/sh
# videollm ask / chat on the tiny fixture pair: the image answer equals
# llama.cpp's greedy ids (ref/image/F32_ref_info.json), --json carries the
# same ids, chat answers one question per line, stdin frames are taken,
# and bad input exits non-zero with a message.
# usage: test_cli_ask.sh PATH-TO-videollm
set -u
exe="$1"
. "$(dirname "$0")/fixture_set.sh"
fx=$(fx_set_dir)
text_f32=$(fx_model -text-F32.gguf) || exit 1
mmproj_f32=$(fx_model -mmproj-F32.gguf) || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
pair="-m $text_f32 --mmproj $mmproj_f32"
# llama.cpp's references ran with an f32 KV cache (ours defaults to f16)

# llama.cpp's ids, straight from its JSON (no parser needed: one line)
want=$(tr -d '\n' <"$fx/ref/image/F32_ref_info.json" | sed 's/.*"generated_ids": *\[\([0-9, ]*\)\].*/\1/' | tr -d ' ' | tr ',' ' ')
$exe ask $pair --image "$VIDEOLLM_TEST_DATA/media/test-1.jpeg" --llamacpp-compat --vision ggml --kv-type f32 \
    -p "Describe this image." -n 16 --print-ids -t 1 >"$tmp/out" 2>"$tmp/err" || { echo "FAIL: ask exited non-zero"; cat "$tmp/err"; fail=1; }
got=$(tail -n 1 "$tmp/out")
[ "$got" = "$want" ] || { echo "FAIL: ids '$got' != llama.cpp '$want'"; fail=1; }

$exe ask $pair --image "$VIDEOLLM_TEST_DATA/media/test-1.jpeg" --llamacpp-compat --vision ggml --kv-type f32 \
    -p "Describe this image." -n 16 --json -t 1 >"$tmp/json" 2>"$tmp/err" || { echo "FAIL: --json exited non-zero"; fail=1; }
jids=$(sed 's/.*"tokens":\[\([0-9,]*\)\].*/\1/' "$tmp/json" | tr ',' ' ')
[ "$jids" = "$want" ] || { echo "FAIL: --json ids '$jids'"; cat "$tmp/json"; fail=1; }
grep -q '"frames_encoded":17' "$tmp/json" || { echo "FAIL: --json stats"; cat "$tmp/json"; fail=1; }

printf 'What is it?\nAnd then?\n' | $exe chat $pair --video "$VIDEOLLM_TEST_DATA/media/test-3.mp4" -n 4 --json >"$tmp/chat" 2>"$tmp/err"
[ "$(grep -c '"answer"' "$tmp/chat")" -eq 2 ] || { echo "FAIL: chat gave $(grep -c '"answer"' "$tmp/chat") answers"; cat "$tmp/err"; fail=1; }

head -c $((64 * 48 * 3 * 3)) /dev/zero | $exe ask $pair --frames-from-stdin 64x48:rgb24 -p "Hi" -n 2 --json >"$tmp/stdin" 2>"$tmp/err"
grep -q '"frames_seen":3' "$tmp/stdin" || { echo "FAIL: stdin frames"; cat "$tmp/stdin" "$tmp/err"; fail=1; }

# --json is valid UTF-8 JSON whatever bytes random weights produce (issue 12
# item 8): the answer is the streamed bytes with invalid sequences replaced
# by U+FFFD (Python's own decoder is the reference), the ids are exact.
text="-m $text_f32"
for seed in 1 2 3 4 5; do
    for temp in 0.7 1.5; do
        $exe ask $text -p "Say something" -n 48 --temp $temp --seed $seed -t 1 --json >"$tmp/j" 2>"$tmp/err" \
            || { echo "FAIL: --json seed $seed exited non-zero"; cat "$tmp/err"; fail=1; }
        $exe ask $text -p "Say something" -n 48 --temp $temp --seed $seed -t 1 --print-ids >"$tmp/raw" 2>"$tmp/err" \
            || { echo "FAIL: seed $seed exited non-zero"; cat "$tmp/err"; fail=1; }
        python3 - "$tmp/j" "$tmp/raw" <<'PY' || { echo "FAIL: --json seed $seed temp $temp"; fail=1; }
import json, sys
data = open(sys.argv[1], 'rb').read()
raw = open(sys.argv[2], 'rb').read()
obj = json.loads(data.decode('utf-8'))          # strict: raises on invalid UTF-8
text, _, ids = raw[:-1].rpartition(b'\n')        # "<answer>\n<ids>\n"
want_ids = [int(x) for x in ids.split()]
ok = obj['tokens'] == want_ids and obj['answer'] == text.decode('utf-8', 'replace')
if not ok:
    print('json:', obj['answer'], obj['tokens'], '\nraw:', text, want_ids)
sys.exit(0 if ok else 1)
PY
    done
done

# why generation stopped, and frames_evicted, in --json and --stats (item 7)
chk="python3 $(dirname "$0")/cli_json_check.py"
$exe ask $text -p hi -n 3 -t 1 --json >"$tmp/j" 2>"$tmp/err" && $chk stop "$tmp/j" max_tokens || fail=1
$exe ask $text -p hi -n 3 -t 1 --stats >/dev/null 2>"$tmp/err"
grep -q "stopped: max tokens" "$tmp/err" && grep -q "0 evicted" "$tmp/err" \
    || { echo "FAIL: --stats does not say why it stopped / evicted frames"; cat "$tmp/err"; fail=1; }
greedy=$($exe ask $text -p hi -n 2 -t 1 2>/dev/null | head -n 1)   # the first two pieces of the greedy answer
$exe ask $text -p hi -n 10 -t 1 --stop "${greedy#?}" --json >"$tmp/j" 2>"$tmp/err" && $chk stop "$tmp/j" stop_string || fail=1
$exe ask $text -p hi -n -1 -c 64 -t 1 --json >"$tmp/j" 2>"$tmp/err" && $chk stop "$tmp/j" context_full || fail=1
$exe ask $text -p hi -n -1 -c 64 -t 1 --stats >/dev/null 2>"$tmp/err"
grep -q "stopped: context full" "$tmp/err" || { echo "FAIL: --stats does not say the context is full"; cat "$tmp/err"; fail=1; }

# every second of ask is accounted to a named stage; chat reports per question (item 11)
$exe ask $pair --video "$VIDEOLLM_TEST_DATA/media/test-3.mp4" -p hi -n 4 -t 1 --json >"$tmp/j" 2>"$tmp/err" \
    && $chk stages "$tmp/j" || fail=1
$exe ask $text -p hi -n 4 -t 1 --stats >/dev/null 2>"$tmp/err"
grep -q "wall .* = load .* + decode .* + encode .* + media prefill .* + prompt .* + generate .* + other" "$tmp/err" \
    && grep -q "prompt [0-9]* tokens in [0-9.]* ms" "$tmp/err" \
    || { echo "FAIL: --stats wall time line / sub-second times in ms"; cat "$tmp/err"; fail=1; }
printf 'What is it?\nAnd then?\nAnd?\n' | $exe chat $pair --video "$VIDEOLLM_TEST_DATA/media/test-3.mp4" -n 4 -t 1 --json \
    >"$tmp/j" 2>"$tmp/err" && $chk per_question "$tmp/j" || fail=1

# --temp without --seed seeds from the clock and reports it; the seed repeats the answer (item 12)
r1=; r2=
$exe ask $text -p hi -n 24 --temp 1.5 -t 1 --json >"$tmp/j1" 2>/dev/null
sleep 0.01
$exe ask $text -p hi -n 24 --temp 1.5 -t 1 --json >"$tmp/j2" 2>/dev/null
r1=$($chk seed "$tmp/j1") && r2=$($chk seed "$tmp/j2") || { echo "FAIL: no seed in --json"; fail=1; }
[ "${r1%% *}" != "${r2%% *}" ] || { echo "FAIL: two runs without --seed used the same seed ${r1%% *}"; fail=1; }
$exe ask $text -p hi -n 24 --temp 1.5 -t 1 --seed "${r1%% *}" --json >"$tmp/j3" 2>/dev/null
[ "$($chk seed "$tmp/j3")" = "$r1" ] || { echo "FAIL: --seed ${r1%% *} did not repeat the answer"; fail=1; }
$exe ask $text -p hi -n 4 --temp 1.5 -t 1 --stats >/dev/null 2>"$tmp/err"
grep -q "seed [0-9]* (from the clock" "$tmp/err" || { echo "FAIL: --stats does not print the seed"; cat "$tmp/err"; fail=1; }

# --frames-from-stdin edges (item 17): 1x1 frames work, a trailing partial
# frame is reported with its byte count, empty input fails saying so
head -c 6 /dev/zero | $exe ask $pair --frames-from-stdin 1x1:rgb24 -p hi -n 1 -t 1 --json >"$tmp/j" 2>"$tmp/err" \
    || { echo "FAIL: 1x1:rgb24 refused"; cat "$tmp/err"; fail=1; }
grep -q '"frames_seen":2' "$tmp/j" || { echo "FAIL: 1x1:rgb24 frames"; cat "$tmp/j"; fail=1; }
head -c 40 /dev/zero | $exe ask $pair --frames-from-stdin 3x3:yuv420p -p hi -n 1 -t 1 --json >"$tmp/j" 2>"$tmp/err" \
    || { echo "FAIL: 3x3:yuv420p with a partial frame"; cat "$tmp/err"; fail=1; }
grep -q '"frames_seen":2' "$tmp/j" && grep -q "6 of 17 bytes" "$tmp/err" \
    || { echo "FAIL: the trailing 6 bytes (2 frames of 17 bytes, then 6) are not reported"; cat "$tmp/err"; fail=1; }
$exe ask $pair --frames-from-stdin 64x48:rgb24 -p hi -n 1 -t 1 </dev/null >"$tmp/out" 2>"$tmp/err" \
    && { echo "FAIL: no frames on stdin accepted"; fail=1; }
grep -q "no frames" "$tmp/err" || { echo "FAIL: empty stdin does not say 'no frames'"; cat "$tmp/err"; fail=1; }
$exe ask $pair --frames-from-stdin 0x48:rgb24 -p hi </dev/null >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] \
    && grep -q "width: 0 is out of range" "$tmp/err" || { echo "FAIL: 0x48 message"; cat "$tmp/err"; fail=1; }

# files are replaced atomically (item 1): a failed write (a file size limit)
# leaves the old file byte-identical and no stray file; a FIFO is refused,
# not opened (which blocked) and not replaced
$exe ask $text -p hi -n 1 -t 1 --dump-logits "$tmp/logits.bin" >/dev/null 2>"$tmp/err" \
    || { echo "FAIL: --dump-logits"; cat "$tmp/err"; fail=1; }
printf 'old snapshot\n' >"$tmp/keep.bin"
cp "$tmp/keep.bin" "$tmp/keep.orig"
(trap '' XFSZ; ulimit -f 4; exec $exe ask $text -p hi -n 1 -t 1 --dump-logits "$tmp/keep.bin") >/dev/null 2>"$tmp/err" \
    && { echo "FAIL: --dump-logits over the size limit succeeded"; fail=1; }
cmp -s "$tmp/keep.bin" "$tmp/keep.orig" || { echo "FAIL: a failed --dump-logits changed the old file"; fail=1; }
ls "$tmp" | grep -q "keep.bin." && { echo "FAIL: a stray file after a failed write"; ls "$tmp"; fail=1; }
mkfifo "$tmp/fifo"
timeout 20 $exe ask $text -p hi -n 1 -t 1 --dump-logits "$tmp/fifo" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -p "$tmp/fifo" ] && grep -q "not a regular file" "$tmp/err" \
    || { echo "FAIL: --dump-logits to a FIFO: exit $rc"; cat "$tmp/err"; fail=1; }
$exe frames --video "$VIDEOLLM_TEST_DATA/media/test-3.mp4" --sheet "$tmp/sheet.png" >/dev/null 2>&1 \
    || { echo "FAIL: --sheet"; fail=1; }
cp "$tmp/sheet.png" "$tmp/sheet.orig"
(trap '' XFSZ; ulimit -f 4; exec $exe frames --video "$VIDEOLLM_TEST_DATA/media/test-3.mp4" --sheet "$tmp/sheet.png" --cols 2) \
    >/dev/null 2>&1 && { echo "FAIL: --sheet over the size limit succeeded"; fail=1; }
cmp -s "$tmp/sheet.png" "$tmp/sheet.orig" || { echo "FAIL: a failed --sheet changed the old file"; fail=1; }
ls "$tmp" | grep -q "sheet.png." && { echo "FAIL: a stray file after a failed --sheet"; ls "$tmp"; fail=1; }

$exe ask $pair --video /nonexistent.mp4 -p x >/dev/null 2>"$tmp/err" && { echo "FAIL: missing video accepted"; fail=1; }
grep -q "nonexistent.mp4" "$tmp/err" || { echo "FAIL: message does not name the file"; cat "$tmp/err"; fail=1; }
$exe ask -m "$text_f32" --image "$VIDEOLLM_TEST_DATA/media/test-1.jpeg" -p x >/dev/null 2>"$tmp/err" \
    && { echo "FAIL: image without mmproj accepted"; fail=1; }
grep -q "mmproj" "$tmp/err" || { echo "FAIL: message does not say mmproj"; cat "$tmp/err"; fail=1; }
$exe ask $pair --frames-from-stdin 64x48:bogus -p x </dev/null >/dev/null 2>&1 && { echo "FAIL: bad stdin format accepted"; fail=1; }
$exe ask >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: usage error must exit 2"; fail=1; }
exit $fail
