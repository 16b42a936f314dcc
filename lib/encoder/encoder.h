/* The vision encoder: ViT + projector from an mmproj GGUF, turning
 * preprocessed tiles/frames into LLM-space embeddings. Two kinds: square
 * tiles (idefics3: vl_vision_encode) and dynamic resolution (the Qwen-VL
 * patch mergers: vl_vision_encode_frames, one temporal patch per call).
 *
 * Thread-safety: after loading (and after any vl_vision_set_precision /
 * vl_vision_set_llamacpp_compat / vl_vision_set_tap call), a vl_vision is
 * read-only; vl_vision_encode and vl_vision_encode_frames may run
 * concurrently on one model from several threads with different pools
 * (all scratch is per call). */
#ifndef VL_ENCODER_ENCODER_H
#define VL_ENCODER_ENCODER_H

#include "core/error.h"
#include "core/gguf.h"
#include "core/threadpool.h"

typedef struct vl_vision vl_vision;

typedef enum vl_vision_precision {
    /* f32 activations and f32 GEMMs (weights converted to f32 as used). */
    VL_VISION_F32 = 0,
    /* As F32, plus llama.cpp's CPU roundings: fp16 im2col (pixels and conv
     * kernel), fp16 lookup-table GELU, and activations rounded to the
     * weight's vec_dot type for non-F32 weights. Matches llama.cpp ~1e-6. */
    VL_VISION_GGML = 1,
    /* Linear layers in BF16 (AVX-512 BF16 kernel, f32 accumulation);
     * attention, norms and the patch embedding stay f32. */
    VL_VISION_BF16 = 2,
} vl_vision_precision;

/* Load with VL_VISION_F32. `g` must stay open while the model lives. */
vllm_status vl_vision_load(const vl_gguf *g, vl_vision **out);
vllm_status vl_vision_load_ex(const vl_gguf *g, vl_vision_precision precision, vl_vision **out);
/* f32_copies: keep every linear weight as a resident f32 copy instead of
 * converting it from the file a panel at a time (the same results; tests
 * compare the two). */
vllm_status vl_vision_load_opts(const vl_gguf *g, vl_vision_precision precision, int f32_copies, vl_vision **out);
void vl_vision_free(vl_vision *v);

/* Switch precision (packs BF16 weights on first use). Not thread-safe
 * against concurrent encodes. BF16 falls back to a slow scalar kernel on
 * CPUs without avx512bf16; vl_vision_precision_effective() tells. */
vllm_status vl_vision_set_precision(vl_vision *v, vl_vision_precision precision);
vl_vision_precision vl_vision_get_precision(const vl_vision *v);

/* Free the f32 copies of BF16-packed linear weights (never read again in
 * BF16 mode) now, and have later packing free them layer by layer — for
 * an F16 SigLIP-512 mmproj this halves the encoder's memory. Once
 * released, only BF16 mode is available. */
vllm_status vl_vision_release_f32(vl_vision *v);

/* Floats per output token: text n_embd, times (1 + n_deepstack) for
 * deepstack towers (row = [main | ds_0 | ds_1 ...], each n_embd_text). */
int vl_vision_n_embd_out(const vl_vision *v);
int vl_vision_n_embd_text(const vl_vision *v);     /* = text n_embd */
int vl_vision_n_deepstack(const vl_vision *v);
int vl_vision_tokens_per_tile(const vl_vision *v); /* (image_size/patch/scale)^2 */
int vl_vision_image_size(const vl_vision *v);      /* S */
int vl_vision_preproc_image_size(const vl_vision *v); /* longest edge before tiling; 0 if absent */
int vl_vision_scale_factor(const vl_vision *v);
const char *vl_vision_projector_name(const vl_vision *v);
void vl_vision_norm(const vl_vision *v, float mean[3], float std[3]);

/* Multiply-adds ×2 of one tile (for benchmarks). */
double vl_vision_flops_per_tile(const vl_vision *v);

/* pixels: n_tiles × 3 × S × S planar normalized floats;
 * out: n_tiles × tokens_per_tile × n_embd_out. */
vllm_status vl_vision_encode(vl_vision *v, vl_pool *pool, const float *pixels, int n_tiles, float *out);

/* ---- dynamic resolution (qwen2.5vl_merger, qwen3vl_merger) ----
 * Inputs of any size that is a multiple of vl_vision_align() (patch ×
 * merge: 28 for Qwen2.5-VL, 32 for Qwen3-VL); vl_vision_encode refuses
 * these towers. */
int vl_vision_is_dynamic(const vl_vision *v);
int vl_vision_align(const vl_vision *v);

/* The patch mergers' GELU (merger and deepstack mergers): transformers
 * uses PyTorch's exact erf form (the default after loading); llama.cpp
 * its tanh approximation (ggml_gelu). on = 1 follows llama.cpp. The ViT
 * blocks' own activation is the same in both (Qwen3-VL's
 * gelu_pytorch_tanh, Qwen2.5-VL's SiLU). Not thread-safe against
 * concurrent encodes. */
void vl_vision_set_llamacpp_compat(vl_vision *v, int on);

/* One temporal patch: n_frames (1 or 2) planar normalized frames
 * (3 × height × width floats each, frame after frame). A single frame goes
 * through both temporal kernels, as transformers duplicates a lone frame.
 * out: (height/align)·(width/align) tokens in merged-grid row-major order,
 * vl_vision_n_embd_out floats each. */
vllm_status vl_vision_encode_frames(vl_vision *v, vl_pool *pool, const float *pixels, int n_frames, int width,
                                    int height, float *out);

/* Multiply-adds ×2 of one temporal patch of width × height (benchmarks). */
double vl_vision_flops_frames(const vl_vision *v, int width, int height);

/* The attention windows of a width × height input (merge units; see
 * encoder/patch_order.h): unit_src gets (h/align)·(w/align) entries,
 * win_start one more than the returned window count. */
int vl_vision_window_order(const vl_vision *v, int width, int height, int32_t *unit_src, int32_t *win_start);

/* Debug tap: called with stage outputs of every batch of tiles.
 * name: "patch_bias", "pos_embed", "layer_out" (layer = block index),
 * "norm_b", "pixel_shuffle", "proj"; dynamic towers (sequence order, one
 * call per temporal patch, tile0 0): "patch_embd"/"patch_bias",
 * "inp_pos_emb", "patch_embd_win", per layer "ln1", "Qcur_rope",
 * "Kcur_rope", "attn_out", "ffn_inp", "ffn_out", "layer_out", "deepstack",
 * then "post_ln", "merger_out_win"; data: rows × cols row-major, the
 * rows of `n_tiles` consecutive tiles starting at tile `tile0`. */
typedef void (*vl_vision_tap_fn)(void *ud, const char *name, int layer, int tile0, int n_tiles, const float *data,
                                 int rows, int cols);
void vl_vision_set_tap(vl_vision *v, vl_vision_tap_fn fn, void *ud);

#endif
