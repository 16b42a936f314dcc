/* Rotary position embeddings of the text models: the classic 1-D kinds
 * (llama pairs (2i, 2i+1), NEOX pairs (i, i + n_rot/2)) and the
 * multi-section kinds of the Qwen-VL families, where every token carries
 * four positions (t, h, w, e) and each rotated pair takes its angle from
 * one of them (ggml_rope_multi: MROPE = contiguous sections, Qwen2-VL /
 * Qwen2.5-VL; IMROPE = interleaved sections, Qwen3-VL). */
#ifndef VL_DECODER_LLM_ROPE_H
#define VL_DECODER_LLM_ROPE_H

#include <stdint.h>

typedef enum vl_rope_kind {
    VL_ROPE_NORM = 0,  /* pairs (2i, 2i+1), position = section t */
    VL_ROPE_NEOX = 1,  /* pairs (i, i + n_rot/2), position = section t */
    VL_ROPE_MROPE = 2, /* NEOX pairs, contiguous sections [t | h | w | e] */
    VL_ROPE_IMROPE = 3 /* NEOX pairs, sections interleaved t h w t h w ... */
} vl_rope_kind;

typedef struct vl_rope {
    vl_rope_kind kind;
    int head_dim, n_rot;
    float base;
    int32_t sections[4]; /* pairs per section (t, h, w, e); multi-section kinds only */
} vl_rope_cfg;

/* Number of position sections a token carries. */
#define VL_POS_SECTIONS 4

/* Which position section (0 = t .. 3 = e) rotates pair i (0 <= i < n_rot/2). */
int vl_rope_section_of(const vl_rope_cfg *r, int i);

/* Rotate n_heads consecutive head vectors of x by the positions pos[4]
 * (a negative position rotates back: rotations compose, so rotating by
 * new - old moves a cached key from old to new positions). */
void vl_rope_apply(const vl_rope_cfg *r, float *x, int n_heads, const int32_t pos[VL_POS_SECTIONS]);

#endif
