/* Fixture set lookup shared by the tests (see fixture_set.h). */
#include "fixture_set.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h" /* read_file_all */

static const char *test_data(void)
{
    const char *d = getenv("VIDEOLLM_TEST_DATA");
    return d && *d ? d : "tests/data";
}

const char *fx_set_dir(void)
{
    static char dir[4096];
    if (!dir[0]) {
        const char *env = getenv("VIDEOLLM_FIXTURES");
        if (env && *env) snprintf(dir, sizeof dir, "%s", env);
        else snprintf(dir, sizeof dir, "%s/tiny-smolvlm2", test_data());
    }
    return dir;
}

const char *fx_data_dir(void) { return test_data(); }

size_t fx_sets(const char *const *names, size_t n_names, char out[][FX_SET_PATH])
{
    const char *one = getenv("VIDEOLLM_FIXTURES");
    if (one && *one) {
        snprintf(out[0], FX_SET_PATH, "%s", one);
        return 1;
    }
    size_t n = 0;
    for (; n < n_names && n < FX_MAX_SETS; n++) snprintf(out[n], FX_SET_PATH, "%s/%s", test_data(), names[n]);
    return n;
}

size_t fx_qwen_sets(char out[][FX_SET_PATH])
{
    static const char *const qwen[] = {"tiny-qwen25vl", "tiny-qwen3vl"};
    return fx_sets(qwen, sizeof qwen / sizeof qwen[0], out);
}

const char *fx_media_dir(void)
{
    static char dir[4096];
    if (!dir[0]) snprintf(dir, sizeof dir, "%s/media", test_data());
    return dir;
}

int fx_find_in(const char *dir, const char *suffix, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    char best[1024] = "";
    const size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t n = strlen(e->d_name);
        if (n > sl && n < sizeof best && !strcmp(e->d_name + n - sl, suffix) && (!best[0] || strcmp(e->d_name, best) < 0))
            memcpy(best, e->d_name, n + 1);
    }
    closedir(d);
    return best[0] && (size_t)snprintf(out, cap, "%s/%s", dir, best) < cap;
}

int fx_find_model(const char *set, const char *suffix, char *out, size_t cap)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/models", set ? set : fx_set_dir());
    return fx_find_in(dir, suffix, out, cap);
}

void *fx_load_raw(const char *path, size_t elem, size_t n)
{
    size_t len = 0;
    char *buf = read_file_all(path, &len);
    if (buf && len != elem * n) {
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, len, elem * n);
        free(buf);
        return NULL;
    }
    return buf;
}

int fx_find_as(const char *set, const char *recorded_name, char *out, size_t cap)
{
    const char *kind = NULL;
    for (const char *mark = "-text-"; mark; mark = strcmp(mark, "-text-") ? NULL : "-mmproj-")
        for (const char *p = strstr(recorded_name, mark); p; p = strstr(p + 1, mark))
            if (!kind || p > kind) kind = p;
    return kind && fx_find_model(set, kind, out, cap);
}

void fx_require_model(const char *suffix, char *out, size_t cap)
{
    if (fx_find_model(NULL, suffix, out, cap)) return;
    fprintf(stderr, "no models/*%s in the fixture set %s (set VIDEOLLM_FIXTURES to a set directory)\n", suffix,
            fx_set_dir());
    exit(1);
}
