#!/bin/sh
# Video decode benchmark: generates a 5-minute 1920x1080 clip (libx264 if
# libavcodec has it, else MPEG-4) unless it exists, then runs bench_video on
# it and on tests/data/media/test-3.mp4. Installs nothing: without an
# `ffmpeg` binary in PATH the pipe comparison reports "ffmpeg not found".
#   bench/run_video.sh BUILD_DIR [SECONDS] [GOP]
set -e
build=${1:-build}
secs=${2:-300}
gop=${3:-30}
src=$(cd "$(dirname "$0")/.." && pwd)
clip="$build/bench_video_${secs}s_gop${gop}.mp4"
[ -f "$clip" ] || "$build/bench/gen_bench_video" "$clip" "$secs" "$gop"
command -v ffmpeg >/dev/null 2>&1 || echo "ffmpeg not found"
"$build/bench/bench_video" "$clip" "$src/tests/data/media/test-3.mp4"
