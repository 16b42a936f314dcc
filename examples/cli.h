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
/* cli_sheet.c: `frames --sheet` (the contact sheet) */
int cli_sheet_wanted(int argc, char **argv);
int cli_sheet(int argc, char **argv);

/* Whole file into a malloc'ed, NUL-terminated buffer (*len excludes the
 * NUL); NULL on failure. */
char *cli_read_file(const char *path, size_t *len);

/* Packed RGB24 pixels to a PNG file through libavcodec; 0 on success. */
int cli_write_png(const char *path, const uint8_t *rgb, int width, int height, int stride);

#endif
