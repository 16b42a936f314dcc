/* Helpers shared by the subcommands: strict option values, usage errors,
 * whole-file reads, atomic file writes. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/atomic_file.h"

/* ---- usage errors --------------------------------------------------------- */

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "videollm %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return cli_usage_hint(cmd);
}

int cli_usage_hint(const char *cmd)
{
    /* "frames --sheet" is described by `videollm frames --help` */
    const char *space = cmd;
    while (*space && *space != ' ') space++;
    fprintf(stderr, "Try 'videollm %.*s --help'.\n", (int)(space - cmd), cmd);
    return 2;
}

/* ---- strict numbers ---------------------------------------------------------
 * The whole value must be the number (no leading blanks, no trailing
 * characters), within the option's range; otherwise one line names the
 * command, the option and the value. atoi-style parsing turned "5x" into 5
 * and "abc" into 0 without a word. */

static int not_a(const char *cmd, const char *opt, const char *val, const char *what)
{
    fprintf(stderr, "videollm %s: %s: '%s' is not %s\n", cmd, opt, val, what);
    return -1;
}

int cli_parse_ll(const char *cmd, const char *opt, const char *val, long long min, long long max, long long *out)
{
    if (!*val || isspace((unsigned char)*val)) return not_a(cmd, opt, val, "an integer");
    char *end = NULL;
    errno = 0;
    const long long v = strtoll(val, &end, 10);
    if (*end) return not_a(cmd, opt, val, "an integer");
    if (errno == ERANGE || v < min || v > max) {
        fprintf(stderr, "videollm %s: %s: %s is out of range (%lld to %lld)\n", cmd, opt, val, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_i32(const char *cmd, const char *opt, const char *val, int32_t min, int32_t max, int32_t *out)
{
    long long v;
    if (cli_parse_ll(cmd, opt, val, min, max, &v)) return -1;
    *out = (int32_t)v;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *val, uint64_t *out)
{
    /* strtoull accepts "-1" (and wraps it): digits only */
    if (!isdigit((unsigned char)*val)) return not_a(cmd, opt, val, "a non-negative integer");
    char *end = NULL;
    errno = 0;
    const unsigned long long v = strtoull(val, &end, 10);
    if (*end) return not_a(cmd, opt, val, "a non-negative integer");
    if (errno == ERANGE) {
        fprintf(stderr, "videollm %s: %s: %s is out of range (0 to %llu)\n", cmd, opt, val, (unsigned long long)UINT64_MAX);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *opt, const char *val, double min, double max, double *out)
{
    if (!*val || isspace((unsigned char)*val)) return not_a(cmd, opt, val, "a number");
    char *end = NULL;
    errno = 0;
    const double v = strtod(val, &end);
    if (*end || !isfinite(v)) return not_a(cmd, opt, val, "a number");
    if (v < min || v > max) {
        fprintf(stderr, "videollm %s: %s: %s is out of range (%g to %g)\n", cmd, opt, val, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *opt, const char *val, double min, double max, float *out)
{
    double v;
    if (cli_parse_double(cmd, opt, val, min, max, &v)) return -1;
    *out = (float)v;
    return 0;
}

int cli_is_number(const char *val)
{
    char *end = NULL;
    if (!val || !*val || isspace((unsigned char)*val)) return 0;
    const double v = strtod(val, &end);
    return !*end && isfinite(v);
}

/* ---- files ------------------------------------------------------------------- */

char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *bigger = realloc(buf, 2 * cap + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* Write `len` bytes to `path` atomically through the library's one
 * implementation (lib/core/atomic_file.h): a reader, a crash or a full
 * disk sees the old file or the new one, never a part; a path that exists
 * and is not a regular file is refused. Prints the library's message
 * (it names the path and the step that failed). */
int cli_write_file(const char *path, const void *data, size_t len, const char *what)
{
    vl_atomic_file af;
    vllm_status st = vl_atomic_file_open(&af, path, what);
    if (!vllm_is_error(st)) {
        if (len && fwrite(data, 1, len, af.f) != len) {
            const int e = errno;
            vl_atomic_file_abort(&af);
            fprintf(stderr, "videollm: %s: writing %s failed (%s); the file was not changed\n", path, what, strerror(e));
            return -1;
        }
        st = vl_atomic_file_commit(&af);
    }
    if (vllm_is_error(st)) {
        fprintf(stderr, "videollm: %s\n", vllm_last_error());
        return -1;
    }
    return 0;
}
