/* The fixture set a test runs on, and its files found by pattern.
 *
 * A set is a directory laid out like tests/data/tiny-smolvlm2 (see its
 * README): models/<name>-text-<TYPE>.gguf, models/<name>-mmproj-F32.gguf,
 * models/<name>-config.json, ref/... Tests find the set from
 * $VIDEOLLM_FIXTURES (default $VIDEOLLM_TEST_DATA/tiny-smolvlm2, else
 * tests/data/tiny-smolvlm2) and its model files by their suffix, never by
 * one set's file names, so any set of the same layout (renamed, or another
 * generator's) runs the same tests; expected values come from the set's
 * own JSON and ref files. */
#ifndef VL_TESTS_FIXTURE_SET_H
#define VL_TESTS_FIXTURE_SET_H

#include <stddef.h>

/* The set directory (see above); the string lives for the process. */
const char *fx_set_dir(void);

/* The test data directory ($VIDEOLLM_TEST_DATA, else tests/data). */
const char *fx_data_dir(void);

/* The sets a test that runs over several sets uses: the one
 * $VIDEOLLM_FIXTURES names, else each of the n_names sets (directory
 * names such as "tiny-qwen3vl") under the test data directory. Returns
 * how many were written to out (at most FX_MAX_SETS). */
#define FX_MAX_SETS 8
#define FX_SET_PATH 1024
size_t fx_sets(const char *const *names, size_t n_names, char out[][FX_SET_PATH]);
/* fx_sets over the two main Qwen-VL sets (tiny-qwen25vl, tiny-qwen3vl). */
size_t fx_qwen_sets(char out[][FX_SET_PATH]);

/* The directory of the shared test media ($VIDEOLLM_TEST_DATA/media, else
 * tests/data/media). */
const char *fx_media_dir(void);

/* The file of directory `dir` whose name ends with `suffix`, the first in
 * name order. 1 if found (path in out), else 0. */
int fx_find_in(const char *dir, const char *suffix, char *out, size_t cap);

/* A whole raw reference file of exactly n elements of elem bytes (malloc'd),
 * or NULL with a message naming the file and both sizes. */
void *fx_load_raw(const char *path, size_t elem, size_t n);

/* The file of `set`/models whose name ends with `suffix` (e.g.
 * "-text-F32.gguf", "-mmproj-F32.gguf", "-config.json"); set NULL means
 * fx_set_dir(). With several matches the first in name order, so the
 * choice does not depend on the directory's order. 1 if found (path in
 * out), else 0. */
int fx_find_model(const char *set, const char *suffix, char *out, size_t cap);

/* The file of `set` (NULL: fx_set_dir()) of the kind a reference file
 * records by name ("tiny-x-text-Q8_0.gguf" -> models/ *-text-Q8_0.gguf,
 * "...-mmproj-F32.gguf" -> models/ *-mmproj-F32.gguf): the name's part from
 * its last "-text-" or "-mmproj-" is the pattern. 1 if found. */
int fx_find_as(const char *set, const char *recorded_name, char *out, size_t cap);

/* fx_find_model in fx_set_dir(), exiting with a message naming the pattern
 * and the set when there is no such file (a test cannot run without it). */
void fx_require_model(const char *suffix, char *out, size_t cap);

#endif
