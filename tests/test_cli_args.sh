#!/bin/sh
# videollm argument handling, on the tiny fixture model: numbers are parsed
# strictly (whole string, range-checked) in every subcommand and a bad one
# is refused with a message naming the option and the value; bad arguments
# say what is wrong in one line plus a hint; --help goes to stdout.
# usage: test_cli_args.sh PATH-TO-videollm
set -u
exe="$1"
m="$VIDEOLLM_TEST_DATA/tiny-smolvlm2/models"
clip="$VIDEOLLM_TEST_DATA/media/test-3.mp4"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
text="-m $m/tiny-smolvlm2-main-text-F32.gguf"

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
            "--video-max-tokens -5" "--dedup 2"; do
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

exit $fail
