/* The `videollm` command-line tool: one file per subcommand (cli_<name>.c),
 * dispatched by videollm.c. Each subcommand gets argv with argv[0] set to
 * its own name and returns the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef VL_EXAMPLES_CLI_H
#define VL_EXAMPLES_CLI_H

#include <stddef.h>
#include <stdint.h>

int cli_info(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_ask(int argc, char **argv);
int cli_chat(int argc, char **argv);
int cli_frames(int argc, char **argv);
int cli_watch(int argc, char **argv);
/* cli_sheet.c: `frames --sheet` (the contact sheet) */
int cli_sheet_wanted(int argc, char **argv);
int cli_sheet(int argc, char **argv);

/* ---- cli_util.c ---------------------------------------------------------- */

/* A bad argument: "videollm CMD: <message>" and the --help hint on stderr;
 * returns 2 (the usage exit code). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Just the hint line ("Try 'videollm CMD --help'."); returns 2. */
int cli_usage_hint(const char *cmd);

/* Strict option values: the whole string is the number and lies in
 * [min, max]; otherwise "videollm CMD: OPT: 'VAL' is not an integer" (or
 * "... is out of range (MIN to MAX)") is printed and -1 returned. */
int cli_parse_ll(const char *cmd, const char *opt, const char *val, long long min, long long max, long long *out);
int cli_parse_i32(const char *cmd, const char *opt, const char *val, int32_t min, int32_t max, int32_t *out);
int cli_parse_u64(const char *cmd, const char *opt, const char *val, uint64_t *out);
int cli_parse_double(const char *cmd, const char *opt, const char *val, double min, double max, double *out);
int cli_parse_float(const char *cmd, const char *opt, const char *val, double min, double max, float *out);
/* Non-zero when `val` is a whole finite number (for options whose value is optional). */
int cli_is_number(const char *val);

/* Whole file into a malloc'ed, NUL-terminated buffer (*len excludes the
 * NUL); NULL on failure. */
char *cli_read_file(const char *path, size_t *len);

/* Replace `path` atomically with `len` bytes (lib/core/atomic_file: temporary file in the same
 * directory, fsync, rename); 0 on success, -1 after a message. Refuses a
 * path that exists and is not a regular file. */
int cli_write_file(const char *path, const void *data, size_t len, const char *what);

/* ---- cli_utf8.c ------------------------------------------------------------ */

/* `n` raw bytes as valid UTF-8 (malloc'ed, NUL-terminated, *out_len bytes):
 * each maximal invalid subsequence becomes U+FFFD. NULL when out of memory. */
char *cli_utf8_sanitize(const char *text, size_t n, size_t *out_len);

/* ---- cli_png.c ------------------------------------------------------------- */

/* Packed RGB24 pixels to a PNG file through libavcodec; 0 on success. */
int cli_write_png(const char *path, const uint8_t *rgb, int width, int height, int stride);

#endif
