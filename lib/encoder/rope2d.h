/* 2-D rotary position embedding of the Qwen vision towers (ggml_rope_multi
 * in GGML_ROPE_TYPE_VISION mode with sections {d/4, d/4, d/4, d/4} and
 * positions [y | x | y | x]; = transformers' VisionRotaryEmbedding with
 * rotate_half).
 *
 * A head vector of d values rotates pairs (i, i + d/2) for i < d/2 by
 *   theta_i = y · base^(-4i/d)          for i <  d/4
 *   theta_i = x · base^(-4(i-d/4)/d)    for d/4 <= i < d/2
 * (the frequencies restart for the x half). Angles are built as ggml
 * builds them (theta *= base^(-2/(d/2)) pair after pair, in float) so the
 * result matches llama.cpp to the last bit of cosf/sinf. */
#ifndef VL_ENCODER_ROPE2D_H
#define VL_ENCODER_ROPE2D_H

#include <stdint.h>

/* Rotate `rows` rows of n_head heads of d floats (row stride ld floats)
 * in place; row r sits at grid position (py[r], px[r]). d % 4 == 0. */
void vl_rope2d_rows(float *x, int64_t rows, int64_t ld, int n_head, int d, const int32_t *py, const int32_t *px,
                    float base);

#endif
