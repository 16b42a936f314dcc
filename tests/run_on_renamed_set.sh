#!/bin/sh
# Run one test program on a copy of a fixture set whose files carry
# another name (models/other-set-text-F32.gguf, ...), through
# VIDEOLLM_FIXTURES: a test that still names one set's files, rather than
# finding them by pattern, fails here.
# usage: run_on_renamed_set.sh SET-DIR TEST-PROGRAM [ARGS...]
set -eu
set_dir=$1
shift
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cp -R "$set_dir" "$tmp/renamed"
old=$(basename "$set_dir")
for f in "$tmp"/renamed/models/*; do
    base=$(basename "$f")
    # tiny-smolvlm2-main-text-F32.gguf -> other-set-text-F32.gguf
    new=$(printf '%s\n' "$base" | sed "s/^$old-[a-z0-9]*-/other-set-/")
    [ "$new" = "$base" ] || mv "$f" "$tmp/renamed/models/$new"
done
if ls "$tmp"/renamed/models | grep -q "$old"; then
    echo "run_on_renamed_set: files still named after $old:" >&2
    ls "$tmp"/renamed/models >&2
    exit 1
fi
VIDEOLLM_FIXTURES="$tmp/renamed" "$@"
