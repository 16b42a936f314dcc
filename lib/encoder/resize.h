/* RGB8 resizers shared by the preprocessing paths: llama.cpp's own
 * (mtmd-image.cpp img_tool: bilinear and bicubic, reproduced bit for bit)
 * and PIL's fixed-point separable resampler (what transformers' slow image
 * processors call). Internal to the encoder module. */
#ifndef VL_ENCODER_RESIZE_H
#define VL_ENCODER_RESIZE_H

#include <stdint.h>

#include "core/error.h"
#include "preprocess.h"

/* Interleaved RGB8 working image. */
typedef struct {
    uint8_t *p;
    int w, h;
} vl_img8;

typedef enum { VL_FILTER_BILINEAR, VL_FILTER_BICUBIC, VL_FILTER_LANCZOS } vl_filter_kind;

vllm_status vl_img8_alloc(vl_img8 *im, int w, int h);
vllm_status vl_img8_from_view(const vl_rgb8 *v, vl_img8 *im);

/* llama.cpp's resize_bilinear (align-corners ratios, truncating cast) and
 * resize_bicubic, source s to the size of d. */
void vl_resize_bilinear_llama(const vl_img8 *s, vl_img8 *d);
void vl_resize_bicubic_llama(const vl_img8 *s, vl_img8 *d);

/* PIL Image.resize((d->w, d->h), filter). */
vllm_status vl_resize_pil(const vl_img8 *s, vl_img8 *d, vl_filter_kind f);

#endif
