#!/bin/sh
# videollm chat driven through a pipe (stdin not a terminal): lines of any
# length are one question each, an error is reported and the chat goes on,
# Ctrl-C (SIGINT) cancels the current answer and not the program, and two
# Ctrl-C at the prompt quit. With tmux installed, the terminal path (libedit)
# is driven too: a line is edited with the arrow keys, history recalls it.
# usage: test_cli_chat.sh PATH-TO-videollm
set -u
exe="$1"
text="-m $VIDEOLLM_TEST_DATA/tiny-smolvlm2/models/tiny-smolvlm2-main-text-F32.gguf"
tmp=$(mktemp -d) || exit 1
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0

# wait_for FILE PATTERN: up to 20 s for PATTERN to appear in FILE
wait_for() {
    for _ in $(seq 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# a 20,000-byte line is one question (it used to be cut into 8 KiB questions)
long=$(awk 'BEGIN { for (i = 0; i < 4000; i++) printf "word "; }')
printf '%s\nhi\n' "$long" | "$exe" chat $text -c 8192 -n 2 -t 1 --json >"$tmp/out" 2>"$tmp/err" \
    || { echo "FAIL: long line: exit non-zero"; cat "$tmp/err"; fail=1; }
[ "$(grep -c '"answer"' "$tmp/out")" -eq 2 ] || { echo "FAIL: a long line and 'hi' gave $(grep -c '"answer"' "$tmp/out") answers"; fail=1; }
grep -q '"prompt_tokens":[0-9][0-9][0-9][0-9]' "$tmp/out" || { echo "FAIL: the long question was not one prompt"; head -c 300 "$tmp/out"; fail=1; }

# an error (the question does not fit the context) is reported, the next question answered
printf '%s\nhi\n' "$long" | "$exe" chat $text -c 256 -n 2 -t 1 --json >"$tmp/out" 2>"$tmp/err"
grep -q "do not fit\|context" "$tmp/err" || { echo "FAIL: no error for a question that does not fit"; cat "$tmp/err"; fail=1; }
[ "$(grep -c '"answer"' "$tmp/out")" -eq 1 ] || { echo "FAIL: the chat did not go on after the error"; cat "$tmp/err"; fail=1; }

# Ctrl-C during an answer cancels it; the next question is answered
mkfifo "$tmp/in"
"$exe" chat $text -c 4096 -n -1 -t 1 --stats <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/in"
echo "Tell me a long story." >&3
wait_for "$tmp/out" "." || { echo "FAIL: no answer streamed"; fail=1; }
kill -INT $pid
wait_for "$tmp/err" "stopped: cancelled" || { echo "FAIL: Ctrl-C did not cancel the answer"; cat "$tmp/err"; fail=1; }
kill -0 $pid 2>/dev/null || { echo "FAIL: Ctrl-C ended the program"; fail=1; }
size=$(wc -c <"$tmp/out")
echo "Another one." >&3
# the second answer streams (the chat went on); cancel it too, so the test
# does not wait for a whole context of tokens on a slow (sanitizer) build
for _ in $(seq 200); do [ "$(wc -c <"$tmp/out")" -gt "$size" ] && break; sleep 0.1; done
[ "$(wc -c <"$tmp/out")" -gt "$size" ] || { echo "FAIL: no second answer after the cancelled one"; cat "$tmp/err"; fail=1; }
kill -INT $pid
wait_for "$tmp/err" "question 2 took" || { echo "FAIL: the second answer did not end"; cat "$tmp/err"; fail=1; }
# two Ctrl-C at the prompt quit
sleep 0.2
kill -INT $pid; sleep 0.2; kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then echo "FAIL: two Ctrl-C at the prompt did not quit"; fail=1; kill $pid; fi
wait $pid; rc=$?
pid=
exec 3>&-
[ $rc -eq 0 ] || { echo "FAIL: chat ended with $rc after Ctrl-C at the prompt"; cat "$tmp/err"; fail=1; }
grep -q "Ctrl-C again" "$tmp/err" || { echo "FAIL: the first Ctrl-C at the prompt said nothing"; fail=1; }

# the terminal path: libedit line editing and history, Ctrl-C in a terminal
if command -v tmux >/dev/null 2>&1; then
    sock="videollm-test-$$"
    trap '[ -n "$pid" ] && kill $pid 2>/dev/null; tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
    # the ids of the first answer to 'hi' with -n 3, from the pipe path
    echo hi | "$exe" chat $text -n 3 -t 1 --print-ids 2>/dev/null | tail -n 1 >"$tmp/want"
    tmux -L "$sock" new-session -d -x 150 -y 40 \
        "'$exe' chat $text -n 3 -t 1 --print-ids 2>'$tmp/tty_err'; echo EXIT=\$?; sleep 30"
    pane() { tmux -L "$sock" capture-pane -p >"$tmp/pane"; }
    wait_pane() { for _ in $(seq 200); do pane; grep -q -- "$1" "$tmp/pane" && return 0; sleep 0.1; done; return 1; }
    wait_pane "^>" || { echo "FAIL: no prompt on the terminal"; fail=1; }
    # 'hxx', erase the last x, go left over the other, erase the h, type 'hi', delete the x: 'hi'
    tmux -L "$sock" send-keys "hxx" BSpace Left BSpace "hi" Delete Enter
    wait_pane "$(cat "$tmp/want")" || { echo "FAIL: the edited line was not 'hi'"; cat "$tmp/pane"; fail=1; }
    tmux -L "$sock" send-keys Up Enter   # history: the same question again
    for _ in $(seq 100); do pane; [ "$(grep -c '^> hi$' "$tmp/pane")" -ge 2 ] && break; sleep 0.1; done
    [ "$(grep -c '^> hi$' "$tmp/pane")" -ge 2 ] || { echo "FAIL: Up did not recall the question"; cat "$tmp/pane"; fail=1; }
    wait_pane "^> *$" || fail=1
    tmux -L "$sock" send-keys C-c
    wait_for "$tmp/tty_err" "Ctrl-C again" || { echo "FAIL: Ctrl-C at the terminal prompt said nothing"; cat "$tmp/pane"; fail=1; }
    tmux -L "$sock" send-keys C-c
    wait_pane "EXIT=0" || { echo "FAIL: two Ctrl-C at the terminal prompt did not quit cleanly"; cat "$tmp/pane"; fail=1; }
    tmux -L "$sock" kill-server 2>/dev/null
else
    echo "note: tmux not installed, the terminal path is not driven"
fi
exit $fail
