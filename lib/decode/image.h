/* Still-image decoding (PNG, JPEG, BMP, WebP, TIFF, ... whatever the
 * linked libavcodec decodes) to packed RGB8, in process.
 *
 * The file is read into memory (at most VL_IMAGE_MAX_FILE_BYTES) and its
 * format is probed from the content, never from the name. The decoder is
 * told the pixel limit before it allocates a frame (AVCodecContext
 * max_pixels), so a header announcing 20000×20000 is refused with
 * VLLM_ERR_UNSUPPORTED without allocating it. Corrupt or truncated data is
 * VLLM_ERR_DECODE (decoder errors are fatal: AV_EF_EXPLODE).
 *
 * Conversion: grayscale is replicated to RGB, 16-bit samples are rounded
 * to 8 bits, YUV (JPEG) is converted with libswscale (full-range for JPEG,
 * accurate rounding, full chroma interpolation). Alpha is dropped by
 * default, as llama.cpp's stb_image loader does; VL_IMAGE_ALPHA_WHITE
 * composites over white instead, as transformers' convert_to_rgb does. */
#ifndef VL_DECODE_IMAGE_H
#define VL_DECODE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define VL_IMAGE_MAX_PIXELS (64LL * 1024 * 1024)        /* 64 Mpx (e.g. 8192×8192) */
#define VL_IMAGE_MAX_FILE_BYTES (256LL * 1024 * 1024)

typedef struct vl_image {
    uint8_t *data;  /* RGB8, row-major */
    int width, height;
    size_t stride;  /* bytes between rows (= 3·width) */
} vl_image;

enum { VL_IMAGE_ALPHA_DROP = 0, VL_IMAGE_ALPHA_WHITE = 1 };

vllm_status vl_image_load(const char *path, vl_image *out);
vllm_status vl_image_load_ex(const char *path, int alpha_mode, vl_image *out);
/* Decode from memory the caller keeps alive during the call. */
vllm_status vl_image_decode(const void *data, size_t size, int alpha_mode, vl_image *out);
void vl_image_free(vl_image *img);

#endif
