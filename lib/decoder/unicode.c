#include "unicode.h"

size_t vl_utf8_len(unsigned char lead)
{
    static const unsigned char lookup[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
    return lookup[lead >> 4];
}

/* Mirrors llama.cpp's unicode_cpt_from_utf8 + the U+FFFD fallback of
 * unicode_cpts_from_utf8, so splitting and byte-encoding see the same
 * codepoints llama.cpp sees. */
uint32_t vl_utf8_next(const char *s, size_t len, size_t *off)
{
    const unsigned char *u = (const unsigned char *)s + *off;
    size_t left = len - *off;
    uint32_t c;
    if (!(u[0] & 0x80)) {
        *off += 1;
        return u[0];
    }
    if (!(u[0] & 0x40)) goto bad;
    if (!(u[0] & 0x20)) {
        if (left < 2 || (u[1] & 0xC0) != 0x80) goto bad;
        *off += 2;
        return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    }
    if (!(u[0] & 0x10)) {
        if (left < 3 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80) goto bad;
        *off += 3;
        return ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    if (!(u[0] & 0x08)) {
        if (left < 4 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80 || (u[3] & 0xC0) != 0x80) goto bad;
        c = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
            (u[3] & 0x3F);
        if (c > 0x10FFFF) goto bad;
        *off += 4;
        return c;
    }
bad:
    *off += 1;
    return VL_CPT_REPLACEMENT;
}

size_t vl_utf8_encode(uint32_t cpt, char out[4])
{
    if (cpt <= 0x7F) {
        out[0] = (char)cpt;
        return 1;
    }
    if (cpt <= 0x7FF) {
        out[0] = (char)(0xC0 | (cpt >> 6));
        out[1] = (char)(0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt <= 0xFFFF) {
        out[0] = (char)(0xE0 | (cpt >> 12));
        out[1] = (char)(0x80 | ((cpt >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cpt & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | ((cpt >> 18) & 0x07));
    out[1] = (char)(0x80 | ((cpt >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cpt >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cpt & 0x3F));
    return 4;
}

uint16_t vl_cpt_flags(uint32_t cpt)
{
    if (cpt > 0x10FFFF) return 0;
    /* last range whose start <= cpt (range 0 starts at 0) */
    size_t lo = 0, hi = vl_ucd_n_ranges;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (vl_ucd_range_start[mid] <= cpt)
            lo = mid;
        else
            hi = mid;
    }
    return vl_ucd_range_flags[lo];
}

uint32_t vl_cpt_tolower(uint32_t cpt)
{
    size_t lo = 0, hi = vl_ucd_n_lower;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vl_ucd_lower[mid][0] < cpt)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < vl_ucd_n_lower && vl_ucd_lower[lo][0] == cpt) return vl_ucd_lower[lo][1];
    return cpt;
}

int vl_cpt_in_ranges(uint32_t cpt, const uint32_t (*ranges)[2], size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ranges[mid][1] < cpt)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ranges[lo][0] <= cpt;
}

/* GPT-2's bytes_to_unicode(): the printable Latin-1 bytes (0x21-0x7E,
 * 0xA1-0xAC, 0xAE-0xFF) map to themselves; the other 68 bytes (0x00-0x20,
 * 0x7F-0xA0, 0xAD), in byte order, map to U+0100.. U+0143. */
uint32_t vl_gpt2_byte_to_cpt(uint8_t b)
{
    if (b <= 0x20) return 256u + b;
    if (b >= 0x7F && b <= 0xA0) return 256u + 33u + (b - 0x7Fu);
    if (b == 0xAD) return 256u + 67u;
    return b;
}

int vl_gpt2_cpt_to_byte(uint32_t cpt)
{
    if (cpt < 256) {
        if (cpt <= 0x20 || (cpt >= 0x7F && cpt <= 0xA0) || cpt == 0xAD) return -1;
        return (int)cpt;
    }
    uint32_t n = cpt - 256;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7F + (n - 33));
    if (n == 67) return 0xAD;
    return -1;
}
