/* Vision tower weights from a llama.cpp "mmproj" GGUF (clip.cpp's schema).
 *
 * Loading reads the hyper-parameters (clip.vision.*), resolves the
 * projector type through one table (projector_table[] in clip_model.c;
 * new projectors — qwen2vl_merger, qwen2.5vl_merger, LLaVA MLP — add a row
 * there plus a loader and a forward function), and checks the shape of
 * every tensor against the hyper-parameters before anything is computed.
 *
 * Weights end up as row-major f32 matrices [n_out][n_in] (y = x·Wᵀ + b):
 * F32 tensors are used in place in the GGUF mapping, other types (F16,
 * BF16, quantized) are converted once at load time. The BF16 fast path
 * additionally packs each linear weight into the kernel's panel layout
 * (see gemm_bf16.h). */
#ifndef VL_ENCODER_CLIP_MODEL_H
#define VL_ENCODER_CLIP_MODEL_H

#include <stdint.h>

#include "core/error.h"
#include "core/gguf.h"

typedef enum vl_projector_type {
    VL_PROJECTOR_IDEFICS3 = 0, /* pixel shuffle + linear (SmolVLM, Idefics3) */
    /* later: VL_PROJECTOR_QWEN2VL_MERGER, VL_PROJECTOR_QWEN25VL_MERGER, VL_PROJECTOR_MLP */
    VL_PROJECTOR_COUNT
} vl_projector_type;

/* A linear layer y = x·Wᵀ + b. */
typedef struct vl_linear {
    const float *w;      /* [n_out][n_in] row-major f32 */
    float *w_owned;      /* non-NULL when w was converted at load time */
    const float *b;      /* [n_out] or NULL */
    float *b_owned;
    void *bf16;          /* packed BF16 panels (vl_bf16_packed), NULL until packed */
    int n_in, n_out;
    int32_t src_type;    /* ggml type the weight was stored as */
} vl_linear;

typedef struct vl_vit_layer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b; /* [E] */
    vl_linear q, k, v, o;   /* E -> E */
    vl_linear fc1, fc2;     /* E -> FF, FF -> E */
} vl_vit_layer;

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
    int use_gelu;         /* 1: tanh GELU (the only activation supported now) */
    float eps;            /* LayerNorm epsilon */
    float mean[3], std[3];
    int n_patches_side;   /* S / P */
    int n_patches;        /* (S/P)^2 */
} vl_vision_hparams;

typedef struct vl_clip_model {
    vl_vision_hparams hp;
    vl_projector_type proj_type;
    const char *proj_name;  /* "idefics3" */

    vl_linear patch;          /* im2col row (3·P·P, ordered c,ky,kx) -> E */
    const float *pos_embd;    /* [n_patches][E] */
    float *pos_owned;
    vl_vit_layer *layers;     /* n_layer */
    const float *post_ln_w, *post_ln_b; /* [E] or NULL when the file has none */

    /* idefics3 */
    vl_linear mm_fc;          /* E·sf² -> proj_dim, no bias */

    /* small owned f32 copies of non-f32 norm vectors */
    float **owned;
    int n_owned, cap_owned;
} vl_clip_model;

/* Parse hyper-parameters and weights. `g` must outlive the model. */
vllm_status vl_clip_model_load(const vl_gguf *g, vl_clip_model **out);
void vl_clip_model_free(vl_clip_model *m);

/* Name -> projector type; VLLM_ERR_UNSUPPORTED naming the type if unknown. */
vllm_status vl_projector_from_name(vl_str name, vl_projector_type *out);

#endif
