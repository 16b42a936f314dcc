/* Unicode helpers for the tokenizer: UTF-8 decoding with llama.cpp's exact
 * error behaviour, codepoint classes generated from the Unicode database
 * (unicode_tables.c, by tools/gen_unicode_tables.py), and GPT-2's
 * byte <-> printable-codepoint mapping used by byte-level BPE vocabularies.
 *
 * All functions are pure and thread-safe. */
#ifndef VL_DECODER_UNICODE_H
#define VL_DECODER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Codepoint class bits. Every codepoint has exactly one category bit
 * (General_Category: Cn -> UNDEFINED, C* -> CONTROL, Z* -> SEPARATOR, ...)
 * plus WHITESPACE for the Unicode White_Space property. A position outside
 * the text has no bits at all (llama.cpp relies on that distinction). */
enum {
    VL_CPT_UNDEFINED = 0x0001,
    VL_CPT_NUMBER = 0x0002,      /* \p{N} */
    VL_CPT_LETTER = 0x0004,      /* \p{L} */
    VL_CPT_SEPARATOR = 0x0008,   /* \p{Z} */
    VL_CPT_MARK = 0x0010,        /* \p{M} */
    VL_CPT_PUNCT = 0x0020,       /* \p{P} */
    VL_CPT_SYMBOL = 0x0040,      /* \p{S} */
    VL_CPT_CONTROL = 0x0080,     /* \p{C} */
    VL_CPT_CATEGORIES = 0x00FF,
    VL_CPT_WHITESPACE = 0x0100,  /* \s */
};

#define VL_CPT_REPLACEMENT 0xFFFDu

/* Generated tables (unicode_tables.c). */
extern const uint32_t vl_ucd_range_start[];
extern const uint16_t vl_ucd_range_flags[];
extern const size_t vl_ucd_n_ranges;
extern const uint32_t vl_ucd_lower[][2];
extern const size_t vl_ucd_n_lower;
extern const uint32_t vl_class_deepseek_llm_letters[][2];
extern const size_t vl_class_deepseek_llm_letters_n;
extern const uint32_t vl_class_deepseek_llm_punct[][2];
extern const size_t vl_class_deepseek_llm_punct_n;

/* Bytes of the UTF-8 sequence a lead byte announces (1 for continuation
 * and invalid bytes), exactly llama.cpp's unicode_len_utf8. */
size_t vl_utf8_len(unsigned char lead);

/* Decode the codepoint at s[*off] (requires *off < len) and advance *off.
 * Malformed input decodes to U+FFFD and advances one byte. Overlong forms
 * are accepted as llama.cpp accepts them; values above U+10FFFF (which
 * llama.cpp cannot re-encode and would throw on) count as malformed. */
uint32_t vl_utf8_next(const char *s, size_t len, size_t *off);

/* Encode cpt (<= 0x10FFFF) into out; returns 1..4. */
size_t vl_utf8_encode(uint32_t cpt, char out[4]);

/* Class bits of a codepoint (0 above U+10FFFF). */
uint16_t vl_cpt_flags(uint32_t cpt);

/* Simple lowercase mapping; cpt itself when it has none. */
uint32_t vl_cpt_tolower(uint32_t cpt);

/* Is cpt inside one of n sorted, disjoint [first, last] ranges? */
int vl_cpt_in_ranges(uint32_t cpt, const uint32_t (*ranges)[2], size_t n);

/* GPT-2 byte-level mapping: every byte has a printable codepoint. */
uint32_t vl_gpt2_byte_to_cpt(uint8_t byte);
/* Inverse; -1 when cpt is not the image of any byte. */
int vl_gpt2_cpt_to_byte(uint32_t cpt);

#endif
