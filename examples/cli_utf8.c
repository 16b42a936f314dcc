/* Valid UTF-8 from the raw bytes of token pieces. A piece may hold part of
 * a character (completed by the next piece) or bytes that never form one;
 * the caller assembles the whole text first, then this replaces each
 * maximal invalid subsequence with U+FFFD (the Unicode/WHATWG rule), so a
 * character split across tokens survives and garbage costs one U+FFFD. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Bytes of a well-formed sequence starting at s[0] (n available), or 0
 * when s[0..] starts an invalid one; *bad_len gets the length of the
 * maximal invalid subpart (>= 1) in that case. */
static size_t valid_sequence(const unsigned char *s, size_t n, size_t *bad_len)
{
    const unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range (Unicode table 3-7) */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if (c == 0xED) need = 2, hi = 0x9F; /* no surrogates */
    else if (c >= 0xE1 && c <= 0xEF) need = 2;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) need = 3, hi = 0x8F; /* nothing above U+10FFFF */
    else {
        *bad_len = 1;
        return 0;
    }
    size_t k = 0;
    while (k < need && 1 + k < n) {
        const unsigned char b = s[1 + k];
        if (b < (k ? 0x80 : lo) || b > (k ? 0xBF : hi)) break;
        k++;
    }
    if (k == need) return 1 + need;
    *bad_len = 1 + k;
    return 0;
}

char *cli_utf8_sanitize(const char *text, size_t n, size_t *out_len)
{
    /* worst case: every byte becomes the 3-byte U+FFFD */
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t bad = 0, good = valid_sequence(s + i, n - i, &bad);
        if (good) {
            memcpy(out + o, s + i, good);
            o += good;
            i += good;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}
