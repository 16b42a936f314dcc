#!/bin/sh
# Video decode benchmark on 1920x1080 30 fps clips, each generated once
# into BUILD_DIR (kept for later runs):
#  - camera: panning texture, a moving disc and per-frame grain, libx264
#    crf 23 (about 6 Mbit/s: real decoding work; gen_bench_video camera);
#  - static: an 8-pixel square over flat grey (nearly all skipped
#    macroblocks: seek and conversion overheads alone);
#  - when an `ffmpeg` binary is in PATH, also the issue's reference clip
#    `testsrc2=s=1920x1080:r=30,noise=alls=3:allf=t`, libx264 veryfast
#    crf 23, GOP and 2 B frames as ours;
# then bench_video on each and on tests/data/media/test-3.mp4. Installs
# nothing: without `ffmpeg` the pipe comparison reports "ffmpeg not found".
#   bench/run_video.sh BUILD_DIR [SECONDS] [GOP]
# Environment: THREADS decoder threads on both sides (default 2),
# REPEATS runs of every mode, fastest kept (default 1), MODES a
# comma-separated subset of bench_video's modes (default all).
set -e
build=${1:-build}
secs=${2:-60}
gop=${3:-30}
threads=${THREADS:-2}
repeats=${REPEATS:-1}
src=$(cd "$(dirname "$0")/.." && pwd)
camera="$build/bench_video_camera_${secs}s_gop${gop}.mp4"
static="$build/bench_video_static_${secs}s_gop${gop}.mp4"
[ -f "$camera" ] || "$build/bench/gen_bench_video" "$camera.tmp.mp4" "$secs" "$gop" camera
[ -f "$camera" ] || mv "$camera.tmp.mp4" "$camera"
[ -f "$static" ] || "$build/bench/gen_bench_video" "$static.tmp.mp4" "$secs" "$gop" static
[ -f "$static" ] || mv "$static.tmp.mp4" "$static"
clips="$camera $static"
if command -v ffmpeg >/dev/null 2>&1; then
    ref="$build/bench_video_testsrc2_${secs}s_gop${gop}.mp4"
    if [ ! -f "$ref" ]; then
        ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=s=1920x1080:r=30:d=$secs,noise=alls=3:allf=t" \
            -c:v libx264 -preset veryfast -crf 23 -g "$gop" -bf 2 "$ref.tmp.mp4"
        mv "$ref.tmp.mp4" "$ref"
    fi
    clips="$clips $ref"
else
    echo "ffmpeg not found"
fi
echo "# machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
set -- -t "$threads" -r "$repeats"
[ -n "$MODES" ] && set -- "$@" -m "$MODES"
"$build/bench/bench_video" "$@" $clips "$src/tests/data/media/test-3.mp4"
