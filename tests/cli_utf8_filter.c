/* Test helper for test_cli_utf8.sh: runs the CLI's UTF-8 sanitizer
 * (examples/cli_utf8.c) over records read from stdin. Each record is a
 * 4-byte little-endian length and that many bytes; each output record is
 * the same framing around the sanitized bytes. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int read_u32(unsigned long *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, stdin) != 4) return -1;
    *v = b[0] | (unsigned long)b[1] << 8 | (unsigned long)b[2] << 16 | (unsigned long)b[3] << 24;
    return 0;
}

static void write_u32(size_t v)
{
    const unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    fwrite(b, 1, 4, stdout);
}

int main(void)
{
    unsigned long n;
    while (!read_u32(&n)) {
        if (n > (1u << 20)) return 1; /* records are small */
        char *in = malloc(n ? n : 1);
        if (!in || fread(in, 1, n, stdin) != n) return 1;
        size_t len = 0;
        char *out = cli_utf8_sanitize(in, n, &len);
        if (!out) return 1;
        write_u32(len);
        fwrite(out, 1, len, stdout);
        free(out);
        free(in);
    }
    return ferror(stdout) ? 1 : 0;
}
