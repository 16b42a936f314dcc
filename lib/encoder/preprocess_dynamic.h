/* Preprocessing for the dynamic-resolution towers (Qwen2.5-VL, Qwen3-VL):
 * one RGB8 image or video frame to a single planar RGB8 frame whose sides
 * are multiples of `align` (patch × merge: 28 or 32), within a pixel
 * budget ("smart resize"). Two modes:
 *
 *  - VL_PREPROC_LLAMACPP: llama.cpp mtmd's dyn_size preprocessor
 *    (img_tool::calc_size_preserved_ratio in float32: round to multiples,
 *    then floor by sqrt(H·W/max_pixels) or ceil by sqrt(min_pixels/(H·W));
 *    its bilinear resize of the aspect-preserving fit, pasted centered on a
 *    black canvas — PAD_CEIL). min/max pixels = min/max tokens · align².
 *  - VL_PREPROC_HF: transformers' Qwen2VLImageProcessor (checked against
 *    transformers 4.57, image_processing_qwen2_vl.py smart_resize): the same
 *    rule in double precision with Python's round-half-to-even, aspect
 *    ratio at most 200, then the image is stretched (no padding) with PIL's
 *    BICUBIC, what the slow processor calls. (The fast processor's
 *    torchvision antialiased bicubic differs by about ±1 level.) */
#ifndef VL_ENCODER_PREPROCESS_DYNAMIC_H
#define VL_ENCODER_PREPROCESS_DYNAMIC_H

#include <stdint.h>

#include "preprocess.h"

typedef struct vl_frame8 {
    int width, height;
    uint8_t *u8; /* 3 × height × width planar RGB */
} vl_frame8;

/* Target size for a W × H input; VLLM_ERR_INVALID_ARG for sizes the rule
 * cannot handle (non-positive, HF aspect ratio > 200, a budget below one
 * align² unit). */
vllm_status vl_smart_size(int W, int H, int align, int64_t min_pixels, int64_t max_pixels, vl_preproc_mode mode,
                          int *out_w, int *out_h);

vllm_status vl_preprocess_dynamic(const vl_rgb8 *img, int align, int64_t min_pixels, int64_t max_pixels,
                                  vl_preproc_mode mode, vl_frame8 *out);
/* The same resize to a given w × h (a size vl_smart_size chose, e.g. for
 * all frames of a clip at once). */
vllm_status vl_preprocess_dynamic_to(const vl_rgb8 *img, int w, int h, vl_preproc_mode mode, vl_frame8 *out);
void vl_frame8_free(vl_frame8 *f);

#endif
