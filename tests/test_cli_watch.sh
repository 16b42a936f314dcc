#!/bin/sh
# videollm watch and `ask --video URL --until S` on live sources made by the
# ffmpeg CLI: a generated clip on a pipe (static, a scene change at 4 s,
# static) and a UDP MPEG-TS stream on the loopback. Checks the JSON lines'
# triggers and stream times (the tiny random model's answers mean nothing),
# the text lines, the answer about a live stream, and errors.
# usage: test_cli_watch.sh PATH-TO-videollm
set -u
exe="$1"
command -v ffmpeg >/dev/null || { echo "SKIP: no ffmpeg program"; exit 77; }
. "$(dirname "$0")/fixture_set.sh"
text=$(fx_model -text-F32.gguf) || exit 1
mmproj=$(fx_model -mmproj-F32.gguf) || exit 1
tmp=$(mktemp -d) || exit 1
ffpid=
trap '[ -n "$ffpid" ] && kill $ffpid 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
pair="-m $text --mmproj $mmproj -t 1"
clip="color=c=0x404040:s=64x48:r=4:d=4[a];color=c=0xd0d0d0:s=64x48:r=4:d=4[b];[a][b]concat=n=2:v=1:a=0[out0]"
gen() { ffmpeg -hide_banner -loglevel error -nostdin -f lavfi -i "$clip" -c:v mpeg2video -f mpegts -; }

# 1. change-triggered yes/no watch, every evaluation printed: the first frame and the cut
gen | timeout 120 $exe watch $pair --video - --fps 2 --every 0 --change 0.1 --yes-no --all --json \
    -p "Did the scene change?" >"$tmp/json" 2>"$tmp/err" || { echo "FAIL: watch --json exited non-zero"; cat "$tmp/err"; fail=1; }
python3 - "$tmp/json" <<'PY' || fail=1
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
got = [(e["trigger"], e["stream_seconds"]) for e in ev]
ok = len(ev) == 2 and got[0] == ("first", 0.0) and got[1][0] == "change" and 4.0 <= got[1][1] <= 4.5
ok = ok and all(e["answer"] in ("yes", "no") and 0 <= e["yes_probability"] <= 1 and e["question"] == "Did the scene change?" for e in ev)
if not ok:
    print("FAIL: watch events", got, ev)
    sys.exit(1)
PY

# 2. a periodic text watch: lines "[   t s] Q1: answer" at multiples of 2 s, the first at 0
gen | timeout 120 $exe watch $pair --video - --fps 2 --every 2 --change 0 -n 4 -p "What is on screen?" \
    >"$tmp/text" 2>"$tmp/err" || { echo "FAIL: watch exited non-zero"; cat "$tmp/err"; fail=1; }
python3 - "$tmp/text" <<'PY' || fail=1
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
times = []
for l in lines:
    m = re.match(r"^\[ *([0-9.]+) s\] Q1: ", l)
    if not m:
        print("FAIL: line %r" % l); sys.exit(1)
    times.append(float(m.group(1)))
if not times or times[0] != 0.0 or any(t not in (0.0, 2.0, 4.0, 6.0) for t in times) or times != sorted(set(times)):
    print("FAIL: text watch times", times); sys.exit(1)
PY

# 3. ask about a live UDP stream after 2 s of stream time
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ffmpeg -hide_banner -loglevel error -nostdin -re -f lavfi -i testsrc2=size=64x48:rate=5 -c:v mpeg2video -f mpegts \
    "udp://127.0.0.1:$port?pkt_size=1316" &
ffpid=$!
timeout 60 $exe ask $pair --video "udp://127.0.0.1:$port" --until 2 -p "What happens?" -n 4 --json >"$tmp/ask" 2>"$tmp/err" ||
    { echo "FAIL: ask --until exited non-zero"; cat "$tmp/err"; fail=1; }
kill $ffpid; wait $ffpid 2>/dev/null; ffpid=
python3 - "$tmp/ask" <<'PY' || fail=1
import json, sys
j = json.load(open(sys.argv[1]))
if j["stats"]["frames_seen"] < 2 or j["stats"]["generated_tokens"] < 1:
    print("FAIL: ask --until", j); sys.exit(1)
PY

# 4. errors name the argument
$exe watch $pair --video - >/dev/null 2>"$tmp/err" </dev/null; rc=$?
[ $rc -eq 2 ] && grep -q -- "-p QUESTION" "$tmp/err" || { echo "FAIL: watch without -p: rc $rc"; cat "$tmp/err"; fail=1; }
$exe watch $pair --video - -p Q --every 0 --change 0 >/dev/null 2>"$tmp/err" </dev/null; rc=$?
[ $rc -eq 2 ] && grep -q "never be evaluated" "$tmp/err" || { echo "FAIL: --every 0 --change 0: rc $rc"; cat "$tmp/err"; fail=1; }
timeout 30 $exe watch $pair --video "$tmp/missing.ts" -p Q >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "missing.ts" "$tmp/err" || { echo "FAIL: missing source: rc $rc"; cat "$tmp/err"; fail=1; }
$exe ask $pair --until 3 -p Q >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--until needs" "$tmp/err" || { echo "FAIL: --until without --video: rc $rc"; cat "$tmp/err"; fail=1; }
exit $fail
