/* Learned absolute position embeddings resized to a patch grid (Qwen3-VL:
 * a side × side table stretched to each input's ph × pw grid).
 *
 * Bilinear with aligned corners, computed as ggml_interpolate
 * (GGML_SCALE_MODE_BILINEAR | GGML_SCALE_FLAG_ALIGN_CORNERS) does on the
 * CPU: source coordinate i / ((dst-1)/(src-1)) in float, clamped
 * neighbours, weights (1-dx)(1-dy), dx(1-dy), (1-dx)dy, dx·dy. This is
 * transformers' fast_pos_embed_interpolate up to float rounding. */
#ifndef VL_ENCODER_POS_INTERP_H
#define VL_ENCODER_POS_INTERP_H

/* table: side·side rows of E floats (row-major grid); out: ph·pw rows of
 * E floats, grid row-major. */
void vl_pos_interp_bilinear(const float *table, int side, int E, int ph, int pw, float *out);

#endif
