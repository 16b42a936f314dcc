# Fixture set lookup for the shell tests, as tests/fixture_set.c does it:
# the set is $VIDEOLLM_FIXTURES, else $VIDEOLLM_TEST_DATA/tiny-smolvlm2
# (tests/data/tiny-smolvlm2 when neither is set); a model is the first
# models/*SUFFIX of the set in name order, whatever the set calls its files.
# Source it: . "$(dirname "$0")/fixture_set.sh"

fx_set_dir() {
    if [ -n "${VIDEOLLM_FIXTURES:-}" ]; then
        printf '%s\n' "$VIDEOLLM_FIXTURES"
    else
        printf '%s\n' "${VIDEOLLM_TEST_DATA:-tests/data}/tiny-smolvlm2"
    fi
}

# fx_model SUFFIX: the path of models/*SUFFIX in the set; fails with a
# message naming the set when there is none.
fx_model() {
    for f in "$(fx_set_dir)"/models/*"$1"; do
        [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
    done
    echo "no models/*$1 in the fixture set $(fx_set_dir) (set VIDEOLLM_FIXTURES to a set directory)" >&2
    return 1
}
