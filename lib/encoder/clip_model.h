/* Vision tower weights from a llama.cpp "mmproj" GGUF (clip.cpp's schema).
 *
 * Loading reads the hyper-parameters (clip.vision.*), resolves the
 * projector type through one table (projector_table[] in clip_model.c;
 * a new projector adds a row there plus a loader and a forward function),
 * and checks the shape of every tensor against the hyper-parameters before
 * anything is computed.
 *
 * Two kinds of tower: fixed-size square tiles (idefics3: learned position
 * table of the tile's grid) and dynamic resolution (the Qwen mergers: any
 * multiple of patch×merge, 2-D rotary positions, an optional learned table
 * interpolated to the grid, a temporal patch of two frames).
 *
 * Weights are row-major matrices [n_out][n_in] (y = x·Wᵀ + b). F32
 * tensors are used in place in the GGUF mapping. The linear layers of
 * other types (F16, BF16, quantized) stay in the file too and are
 * converted a panel at a time when used (linear_lazy.h), unless f32
 * copies are asked for; the small ones (patch kernels, positions, norms,
 * biases) are converted once at load. The BF16 fast path additionally
 * packs each linear weight into the kernel's panel layout (gemm_bf16.h). */
#ifndef VL_ENCODER_CLIP_MODEL_H
#define VL_ENCODER_CLIP_MODEL_H

#include <stdint.h>

#include "core/error.h"
#include "core/gguf.h"

typedef enum vl_projector_type {
    VL_PROJECTOR_IDEFICS3 = 0, /* pixel shuffle + linear (SmolVLM, Idefics3) */
    VL_PROJECTOR_QWEN25VL_MERGER, /* Qwen2.5-VL: RMSNorm/SwiGLU ViT, windows, 2x2 merger */
    VL_PROJECTOR_QWEN3VL_MERGER,  /* Qwen3-VL: LayerNorm/GELU ViT, deepstack mergers */
    VL_PROJECTOR_COUNT
} vl_projector_type;

typedef enum vl_vit_norm {
    VL_VIT_LAYERNORM = 0, /* (x - mean)/sqrt(var + eps)·w + b */
    VL_VIT_RMSNORM = 1,   /* x/sqrt(mean(x²) + eps)·w, no bias */
} vl_vit_norm;

typedef enum vl_vit_act {
    VL_VIT_GELU_TANH = 0, /* clip.use_gelu */
    VL_VIT_GELU_QUICK = 1,/* neither key (SigLIP default in clip.cpp) */
    VL_VIT_SILU = 2,      /* clip.use_silu */
} vl_vit_act;

/* A linear layer y = x·Wᵀ + b. */
typedef struct vl_linear {
    const float *w;      /* [n_out][n_in] row-major f32, or NULL when only src has it */
    float *w_owned;      /* non-NULL when w is a converted copy */
    const void *src;     /* the file's rows (src_row_bytes apart) when not F32, else NULL */
    size_t src_row_bytes;
    const float *b;      /* [n_out] or NULL */
    float *b_owned;
    void *bf16;          /* packed BF16 panels (vl_bf16_packed), NULL until packed */
    int n_in, n_out;
    int32_t src_type;    /* ggml type the weight was stored as */
} vl_linear;

typedef struct vl_vit_layer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b; /* [E] */
    vl_linear q, k, v, o;   /* E -> E (q.n_out 0 when the file has the fused qkv) */
    vl_linear qkv;          /* fused E -> 3E (rows q | k | v), or empty */
    vl_linear fc1, fc2;     /* E -> FF, FF -> E (fc1 = ffn_up) */
    vl_linear gate;         /* E -> FF ffn_gate: FFN = fc2(act(gate)·fc1), or empty */
} vl_vit_layer;

/* A deepstack merger: after ViT layer `layer`, the 2x2-concatenated patches
 * go through LayerNorm(4E) -> fc1 -> GELU -> fc2 into extra text features. */
typedef struct vl_deepstack {
    int layer;
    const float *norm_w, *norm_b; /* [4E] */
    vl_linear fc1, fc2;           /* 4E -> 4E, 4E -> proj_dim */
} vl_deepstack;

typedef struct vl_vision_hparams {
    int image_size;       /* S: side of a square ViT input */
    int patch_size;       /* P */
    int n_embd;           /* E */
    int n_ff;             /* FF */
    int n_layer;
    int n_head;
    int proj_dim;         /* projector output width = text n_embd */
    int scale_factor;     /* idefics3 pixel-shuffle factor */
    int preproc_image_size; /* HF size.longest_edge; 0 when the key is absent */
    int use_gelu;         /* clip.use_gelu */
    vl_vit_act act;       /* FFN activation */
    vl_vit_norm norm;     /* block and post norms */
    int dynamic;          /* 1: any multiple of patch×merge (the Qwen mergers) */
    int merge;            /* spatial merge (2x2) of the dynamic towers */
    int n_wa_pattern;     /* >0: windowed attention except in layers with (il+1) % n == 0 */
    int window_px;        /* attention window side in pixels (clip.vision.window_size, 112) */
    int pos_side;         /* learned position table side (0: none) */
    float eps;            /* norm epsilon */
    float mean[3], std[3];
    int n_patches_side;   /* S / P */
    int n_patches;        /* (S/P)^2 */
} vl_vision_hparams;

typedef struct vl_clip_model {
    vl_vision_hparams hp;
    vl_projector_type proj_type;
    const char *proj_name;  /* "idefics3" */

    vl_linear patch;          /* im2col row (3·P·P, ordered c,ky,kx) -> E */
    vl_linear patch1;         /* second temporal kernel (v.patch_embd.weight.1), no bias; or empty */
    const float *pos_embd;    /* [n_patches][E] (idefics3), [pos_side²][E] (qwen3vl), or NULL */
    float *pos_owned;
    vl_vit_layer *layers;     /* n_layer */
    const float *post_ln_w, *post_ln_b; /* [E] or NULL when the file has none */

    /* idefics3 */
    vl_linear mm_fc;          /* E·sf² -> proj_dim, no bias */

    /* Qwen patch mergers: post_ln per patch, 2x2 concat, mm0 -> GELU -> mm2 */
    vl_linear mm0, mm2;       /* 4E -> 4E, 4E -> proj_dim */
    vl_deepstack *ds;         /* n_ds, increasing layer */
    int n_ds;

    /* small owned f32 copies of non-f32 norm vectors */
    float **owned;
    int n_owned, cap_owned;
} vl_clip_model;

/* Parse hyper-parameters and weights. `g` must outlive the model.
 * f32_copies: also convert every linear weight to a resident f32 copy
 * (tests compare the two ways; the library keeps them in the file). */
vllm_status vl_clip_model_load(const vl_gguf *g, int f32_copies, vl_clip_model **out);
void vl_clip_model_free(vl_clip_model *m);

/* Calls fn on every linear layer of the ViT blocks and projector (not the
 * patch kernels), stopping at the first error (BF16 packing/releasing). */
vllm_status vl_clip_model_for_each_linear(vl_clip_model *m, vllm_status (*fn)(void *ud, vl_linear *l), void *ud);

/* Name -> projector type; VLLM_ERR_UNSUPPORTED naming the type if unknown. */
vllm_status vl_projector_from_name(vl_str name, vl_projector_type *out);

#endif
