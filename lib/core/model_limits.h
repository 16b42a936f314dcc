/* Upper limits on every size a model or mmproj file controls, checked at
 * load before anything is allocated from them, so a hostile or broken
 * file gets a message naming the key, its value and the limit instead of
 * a multi-gigabyte allocation. Each limit is well above the largest real
 * model of its kind (in parentheses); sizes that also shape tensors are
 * further held to the tensors actually in the file. */
#ifndef VL_MODEL_LIMITS_H
#define VL_MODEL_LIMITS_H

/* text model (llama/qwen2 keys) */
#define VL_LIMIT_TEXT_N_EMBD 16384         /* (16384: Llama-3.1-405B) */
#define VL_LIMIT_TEXT_N_LAYER 256          /* (126) */
#define VL_LIMIT_TEXT_N_FF 131072          /* (53248) */
#define VL_LIMIT_TEXT_N_HEAD 256           /* (128) */
#define VL_LIMIT_TEXT_HEAD_DIM 1024        /* (256) */
#define VL_LIMIT_TEXT_CTX (1 << 21)        /* (1,010,000: Qwen2.5-1M); the KV cache is sized from it */
#define VL_LIMIT_TEXT_VOCAB (1 << 21)      /* (256,000) */

/* vision encoder (clip.vision.* keys) */
#define VL_LIMIT_VISION_IMAGE_SIZE 2048    /* (512: SmolVLM2) */
#define VL_LIMIT_VISION_PATCH_SIZE 256     /* (16) */
#define VL_LIMIT_VISION_N_PATCHES 4096     /* (1024); attention scratch is n_patches^2 floats per thread */
#define VL_LIMIT_VISION_N_EMBD 8192        /* (1152: SigLIP-so400m) */
#define VL_LIMIT_VISION_N_FF 65536         /* (4304) */
#define VL_LIMIT_VISION_N_LAYER 128        /* (27) */
#define VL_LIMIT_VISION_N_HEAD 128         /* (16) */
#define VL_LIMIT_VISION_PROJ_DIM VL_LIMIT_TEXT_N_EMBD /* the text model's embedding width */
#define VL_LIMIT_VISION_SCALE_FACTOR 16    /* (4) */
#define VL_LIMIT_VISION_TOKENS_PER_FRAME 1024 /* (64; 729 for LLaVA-style towers); the default context grows with it */
#define VL_LIMIT_VISION_PREPROC_SIZE 8192  /* (2048) still-image longest edge */
#define VL_LIMIT_VISION_TILES_SIDE 16      /* (4) preproc_image_size / image_size: image tiles per side */

#endif
