/* Image and video-frame preprocessing for idefics3-style encoders
 * (SmolVLM / SmolVLM2): RGB8 in, S×S planar tiles out, plus the prompt
 * layout that goes with them.
 *
 * Still images, two modes:
 *  - VL_PREPROC_LLAMACPP reproduces llama.cpp's mtmd_image_preprocessor_idefics3
 *    (what the fixtures were made with): refined size w' = ceil(W·s/S)·S,
 *    h' likewise with s = min(L/W, L/H) (L = preproc_image_size; small images
 *    are upscaled too); tiles cut from llama.cpp's own bicubic resize pasted
 *    centered on a black w'×h' canvas (PAD_CEIL); overview = llama.cpp's
 *    bilinear stretch to S×S. Tiles row-major, overview last.
 *  - VL_PREPROC_HF follows transformers' SmolVLMImageProcessor /
 *    Idefics3ImageProcessor (checked against transformers main, 2025,
 *    image_processing_smolvlm.py): longest edge resized to L keeping aspect
 *    (odd short side +1), then both sides to multiples of S (the short side
 *    from int(new_long / aspect)), tiles = exact S×S crops, global image =
 *    the resized image resized to S×S; every resize is PIL's LANCZOS
 *    (reproduced with PIL's fixed-point separable resampler). An image that
 *    ends up exactly S×S is not split (rows = cols = 0, one tile).
 * Video frames (SmolVLM2, transformers video_processing_smolvlm.py): no
 *    splitting; the frame is resized so its longest edge is `longest_edge`
 *    (aspect kept, odd short side +1), then to S×S. transformers does this
 *    with torchvision's antialiased BICUBIC (LANCZOS is mapped to BICUBIC for
 *    tensors); here PIL's fixed-point bicubic (a = -0.5), which agrees to
 *    about ±1. */
#ifndef VL_ENCODER_PREPROCESS_H
#define VL_ENCODER_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Largest accepted input side (pixels); larger inputs are
 * VLLM_ERR_INVALID_ARG before anything is allocated. */
#define VL_PREPROC_MAX_SIDE 32768
/* Most tiles a still image may produce (llama.cpp's vocab has markers up
 * to row/col 6 for SmolVLM; HF caps the resized image at 4096 px). */
#define VL_PREPROC_MAX_TILES 4096

typedef enum vl_preproc_mode { VL_PREPROC_LLAMACPP = 0, VL_PREPROC_HF = 1 } vl_preproc_mode;

typedef struct vl_rgb8 {
    const uint8_t *data; /* row-major RGB, 3 bytes per pixel */
    int width, height;
    size_t stride;       /* bytes between rows (>= 3·width) */
} vl_rgb8;

typedef struct vl_tiles {
    int size;     /* S */
    int rows;     /* tile grid; 0 when the image was not split */
    int cols;
    int n_tiles;  /* rows·cols (+1 overview when split), or 1 */
    uint8_t *u8;  /* n_tiles × 3 × S × S planar RGB, prompt order */
} vl_tiles;

/* Split a still image. image_size = S, longest_edge = preproc_image_size
 * (0: llama.cpp rounds each side to a multiple of S; HF mode requires > 0). */
vllm_status vl_preprocess_image(const vl_rgb8 *img, int image_size, int longest_edge, vl_preproc_mode mode,
                                vl_tiles *out);
void vl_tiles_free(vl_tiles *t);

/* One video frame to a single S×S planar tile (out: 3·S·S bytes).
 * longest_edge <= 0 means S. */
vllm_status vl_preprocess_video_frame(const vl_rgb8 *img, int image_size, int longest_edge, uint8_t *out);

/* (u8/255 - mean[c]) / std[c] in f32, planar, n_tiles × 3 × S × S. */
void vl_normalize_planar(const uint8_t *u8, size_t n_tiles, int S, const float mean[3], const float std[3], float *out);
/* The same for images of `plane` = width × height pixels each. */
void vl_normalize_planes(const uint8_t *u8, size_t n_tiles, size_t plane, const float mean[3], const float std[3],
                         float *out);

/* ---- prompt layout --------------------------------------------------------- */

typedef struct vl_prompt_piece {
    int tile;       /* >= 0: this piece is the embeddings of tile `tile`; -1: text */
    char text[48];  /* text piece, tokenized on its own with special tokens parsed */
} vl_prompt_piece;

/* The idefics3 layout for a rows×cols split (llama.cpp mtmd's
 * MTMD_SLICE_TMPL_IDEFICS3 = transformers' _prompt_split_image):
 *   per tile (r, c), row-major: "<fake_token_around_image>" "<row_r_col_c>" [tile]
 *   after every row but the last: "\n"
 *   then "\n\n" "<fake_token_around_image>" "<global-img>" [overview] "<fake_token_around_image>"
 * rows = cols = 0 (unsplit image or video frame):
 *   "<fake_token_around_image>" "<global-img>" [tile 0] "<fake_token_around_image>"
 * Returns the number of pieces written (needs at most
 * vl_idefics3_layout_size(rows, cols)), or -1 if `max` is too small. */
int vl_idefics3_layout_size(int rows, int cols);
int vl_idefics3_layout(int rows, int cols, vl_prompt_piece *out, int max);

#endif
