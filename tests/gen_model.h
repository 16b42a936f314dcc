/* videollm-gen-model internals: options, the seeded generator and the
 * tensor helper shared by the text, tokenizer and vision writers
 * (gen_text.c, gen_tokenizer.c, gen_vision.c; command line in
 * gen_model.c). */
#ifndef VL_TESTS_GEN_MODEL_H
#define VL_TESTS_GEN_MODEL_H

#include <stdint.h>

#include "gguf_writer.h"

#define GEN_MAX_LAYERS 256

typedef struct gen_opts {
    const char *arch; /* llama, qwen2, qwen2vl, qwen3, qwen3vl, clip */
    const char *name;
    const char *out;
    int32_t type;
    uint64_t seed;
    int tied;
    /* text */
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    int64_t head_dim;     /* attention.key_length; 0 = n_embd / n_head */
    int64_t sections[4];  /* rope.dimension_sections (qwen2vl, qwen3vl); all 0 = per-arch default */
    int64_t n_deepstack;  /* qwen3vl: n_deepstack_layers; -1 = one per mmproj default (min(3, n_layer)) */
    double rope_base, rms_eps;
    /* vision */
    const char *projector; /* idefics3, qwen2.5vl_merger, qwen3vl_merger */
    int64_t v_image, v_patch, v_embd, v_layer, v_head, v_ff, v_scale, v_proj, v_preproc;
    int64_t v_wa_pattern;               /* qwen2.5vl_merger: n_wa_pattern */
    int64_t v_deepstack[GEN_MAX_LAYERS]; /* qwen3vl_merger: deepstack ViT layers, increasing */
    int64_t v_n_deepstack;
    double v_eps;
} gen_opts;

/* splitmix64 + Box-Muller: every value of a file comes from one stream. */
typedef struct gen_rng {
    uint64_t s;
    int have;
    float spare;
} gen_rng;

uint64_t gen_next_u64(gen_rng *r);
float gen_normal(gen_rng *r);

enum gen_init {
    GEN_WEIGHT, /* N(0,1) * 0.02 (also biases) */
    GEN_NORM    /* 1 + 0.05 * N(0,1) */
};

/* The type a 2-D weight of row length ne0 is written in: `want`, or what
 * llama-quantize falls back to when a row is not whole blocks. */
int32_t gen_weight_type(int32_t want, int64_t ne0);

/* Draw, quantize to `type` and add one tensor; -1 (with a message) on failure. */
int gen_tensor(vl_gw *w, gen_rng *r, int32_t type, enum gen_init init, const char *name, int n_dims, int64_t ne0,
               int64_t ne1, int64_t ne2, int64_t ne3);

/* general.file_type (llama_ftype) of a weight type. */
uint32_t gen_file_type(int32_t type);

/* Tokenizer keys: SmolVLM's layout for llama/qwen2, Qwen's for the Qwen
 * families (gen_tokenizer.c). */
int gen_tokenizer(vl_gw *w, gen_rng *r, const gen_opts *o);

/* Text architecture facts shared with the option checks (gen_text.c). */
int gen_text_arch_known(const char *name);
int64_t gen_text_head_dim(const gen_opts *o);
void gen_text_sections(const gen_opts *o, int32_t out[4]);
int64_t gen_text_n_deepstack(const gen_opts *o);

/* Whole models. */
int gen_text(vl_gw *w, const gen_opts *o, gen_rng *r);
int gen_clip(vl_gw *w, const gen_opts *o, gen_rng *r);

/* Tensor helpers for the writers: stop the enclosing function on failure. */
#define GEN_T(...) do { if (gen_tensor(__VA_ARGS__) != 0) return -1; } while (0)

#endif
