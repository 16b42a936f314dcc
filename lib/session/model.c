/* vllm_model_*: loading, metadata and the tokenizer entry points. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/cpu.h"
#include "core/log.h"
#include "model.h"

vllm_model_params vllm_model_default_params(void)
{
    vllm_model_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.use_mmap = 1;
    return p;
}

/* Copy the caller's params, honouring a struct_size from an older or
 * newer header: known fields up to struct_size are taken, the rest keep
 * their defaults. */
static vllm_status take_params(const vllm_model_params *in, vllm_model_params *out)
{
    *out = vllm_model_default_params();
    if (!in) return VLLM_OK;
    if (in->struct_size < offsetof(vllm_model_params, mmproj_path) + sizeof in->mmproj_path || in->struct_size > 4096)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_model_params.struct_size = %zu is not valid (use vllm_model_default_params())",
                        in->struct_size);
    memcpy(out, in, in->struct_size < sizeof *out ? in->struct_size : sizeof *out);
    out->struct_size = sizeof *out;
    return VLLM_OK;
}

/* The caller's bounds on visual tokens per image, checked before any file
 * is read (the family applies them; see vllm_model_params). */
static vllm_status check_image_tokens_bound(const char *field, const char *flag, int32_t v)
{
    if (v >= 0 && v <= VLLM_IMAGE_TOKENS_LIMIT) return VLLM_OK;
    return vl_error(VLLM_ERR_INVALID_ARG,
                    "vllm_model_params.%s (%s) = %d is out of range: 0 (the family's default) or 1..%d visual "
                    "tokens per image", field, flag, v, VLLM_IMAGE_TOKENS_LIMIT);
}

static vllm_status check_image_tokens(const vllm_model_params *p)
{
    VL_TRY(check_image_tokens_bound("image_min_tokens", "--image-min-tokens", p->image_min_tokens));
    VL_TRY(check_image_tokens_bound("image_max_tokens", "--image-max-tokens", p->image_max_tokens));
    if (p->image_min_tokens && p->image_max_tokens && p->image_min_tokens > p->image_max_tokens)
        return vl_error(VLLM_ERR_INVALID_ARG,
                        "vllm_model_params.image_min_tokens = %d is above image_max_tokens = %d "
                        "(--image-min-tokens must not exceed --image-max-tokens)",
                        p->image_min_tokens, p->image_max_tokens);
    return VLLM_OK;
}

/* The two files of a model swapped or mixed up give a message saying
 * so instead of the first key the wrong loader misses. A vision
 * projector (clip.cpp's mmproj) has general.architecture "clip" and
 * clip.* keys; a text model has a tokenizer and token embeddings. */
static int is_vision_projector(const vl_gguf *g)
{
    vl_str arch = {0};
    if (!vllm_is_error(vl_gguf_get_str(g, "general.architecture", "", &arch)) && vl_str_eq(arch, "clip")) return 1;
    return vl_gguf_find(g, "clip.projector_type") || vl_gguf_find(g, "clip.has_vision_encoder") ||
           vl_gguf_find(g, "clip.vision.image_size");
}

static int is_text_model(const vl_gguf *g)
{
    return !is_vision_projector(g) && (vl_gguf_find(g, "tokenizer.ggml.model") || vl_gguf_find_tensor(g, "token_embd.weight"));
}

static vllm_status check_text_model(const vl_gguf *g, const char *path)
{
    if (!is_vision_projector(g)) return VLLM_OK;
    return vl_error(VLLM_ERR_INVALID_ARG,
                    "%s is a vision projector (mmproj, general.architecture = clip), not a text model: pass it as "
                    "the mmproj (--mmproj, vllm_model_params.mmproj_path) and give the text model's GGUF as the "
                    "model (-m)", path);
}

static vllm_status check_projector(const vl_gguf *g, const char *path)
{
    if (!is_text_model(g)) return VLLM_OK;
    vl_str arch = {0};
    vl_gguf_get_str(g, "general.architecture", "", &arch);
    return vl_error(VLLM_ERR_INVALID_ARG,
                    "%s is a text model (general.architecture = %.*s), not a vision projector: give it as the model "
                    "(-m) and the mmproj GGUF (general.architecture = clip) as --mmproj / vllm_model_params.mmproj_path",
                    path, (int)(arch.len > 32 ? 32 : arch.len), arch.ptr ? arch.ptr : "");
}

static vl_vision_precision pick_precision(int requested)
{
    switch (requested) {
    case VLLM_VISION_F32: return VL_VISION_F32;
    case VLLM_VISION_GGML: return VL_VISION_GGML;
    case VLLM_VISION_BF16: return VL_VISION_BF16;
    default: return vl_cpu()->avx512bf16 ? VL_VISION_BF16 : VL_VISION_F32;
    }
}

static vllm_status load_vision(vllm_model *m, const vllm_model_params *p)
{
    if (p->vision_precision < VLLM_VISION_AUTO || p->vision_precision > VLLM_VISION_BF16)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_model_params.vision_precision = %d is not a VLLM_VISION_* value",
                        p->vision_precision);
    VL_TRY(vl_gguf_open(p->mmproj_path, p->use_mmap, &m->mmproj));
    VL_TRY(check_projector(m->mmproj, p->mmproj_path));
    /* A model's precision is fixed at load, so BF16 packing may drop each
     * layer's f32 weights as it goes (lower peak memory). */
    const vl_vision_precision prec = pick_precision(p->vision_precision);
    VL_TRY(vl_vision_load_ex(m->mmproj, VL_VISION_F32, &m->vision));
    if (prec == VL_VISION_BF16) VL_TRY(vl_vision_release_f32(m->vision));
    VL_TRY(vl_vision_set_precision(m->vision, prec));
    vl_vision_set_llamacpp_compat(m->vision, p->llamacpp_compat); /* the patch mergers' GELU form */
    /* deepstack towers output n_embd·(1 + n_deepstack) per token: [main | ds_0 | ...] */
    if (vl_vision_n_embd_text(m->vision) != m->llm->hp.n_embd)
        return vl_error(VLLM_ERR_FORMAT, "%s projects to %d dimensions but the text model's embeddings have %d",
                        p->mmproj_path, vl_vision_n_embd_text(m->vision), m->llm->hp.n_embd);
    if (vl_vision_n_deepstack(m->vision) != m->llm->hp.n_deepstack)
        return vl_error(VLLM_ERR_FORMAT, "%s has %d deepstack mergers but the text model takes %d deepstack layers",
                        p->mmproj_path, vl_vision_n_deepstack(m->vision), m->llm->hp.n_deepstack);
    m->preproc = p->llamacpp_compat ? VL_PREPROC_LLAMACPP : VL_PREPROC_HF;
    m->llamacpp_compat = p->llamacpp_compat != 0;
    /* the family's rules run this model's media from now on */
    m->family = vl_family_find(vl_vision_projector_name(m->vision), m->arch);
    if (!m->family)
        return vl_error(VLLM_ERR_UNSUPPORTED, "%s: no model family takes projector '%s' with text architecture '%s'",
                        p->mmproj_path, vl_vision_projector_name(m->vision), m->arch);
    return vl_media_plan_measure(m, &m->plan);
}

static int report(const vllm_model_params *p, float f)
{
    return p->progress ? p->progress(p->progress_user_data, "load", f) : 0;
}

vllm_status vllm_model_load(const char *path, const vllm_model_params *params, vllm_model **out_model)
{
    if (!out_model) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_model_load: out_model is NULL");
    *out_model = NULL;
    if (!path) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_model_load: path is NULL");
    vllm_model_params p;
    VL_TRY(take_params(params, &p));
    VL_TRY(check_image_tokens(&p));

    vllm_model *m = calloc(1, sizeof *m);
    if (!m) return vl_error(VLLM_ERR_NOMEM, "out of memory");
    m->image_min_tokens = p.image_min_tokens; /* before the vision load: the family sizes frames with them */
    m->image_max_tokens = p.image_max_tokens;
    vllm_status st = vl_gguf_open(path, p.use_mmap, &m->gguf);
    if (!vllm_is_error(st)) st = check_text_model(m->gguf, path);
    if (!vllm_is_error(st) && report(&p, 0.1f)) st = vl_error(VLLM_ERR_CANCELLED, "model load cancelled");
    if (!vllm_is_error(st)) {
        vl_str s;
        st = vl_gguf_get_str(m->gguf, "general.architecture", "", &s);
        if (!vllm_is_error(st)) snprintf(m->arch, sizeof m->arch, "%.*s", (int)(s.len < 31 ? s.len : 31), s.ptr);
    }
    if (!vllm_is_error(st)) {
        vl_str s;
        st = vl_gguf_get_str(m->gguf, "general.name", "", &s);
        if (!vllm_is_error(st)) snprintf(m->name, sizeof m->name, "%.*s", (int)(s.len < 127 ? s.len : 127), s.ptr);
    }
    if (!vllm_is_error(st)) st = vl_tokenizer_load(m->gguf, &m->tok);
    if (!vllm_is_error(st) && !p.vocab_only) {
        const vl_llm_options lo = {.llamacpp_compat = p.llamacpp_compat}; /* text-side quirks too (the text RMSNorm epsilon) */
        st = vl_llm_load_ex(m->gguf, &lo, &m->llm);
        if (!vllm_is_error(st) && m->llm->hp.n_vocab != vl_tokenizer_n_vocab(m->tok))
            st = vl_error(VLLM_ERR_FORMAT, "%s: the tokenizer has %d tokens but token_embd.weight has %d rows", path,
                          vl_tokenizer_n_vocab(m->tok), m->llm->hp.n_vocab);
    }
    if (!vllm_is_error(st) && p.mmproj_path && !p.vocab_only) st = load_vision(m, &p);
    if (!vllm_is_error(st) && report(&p, 1.0f)) st = vl_error(VLLM_ERR_CANCELLED, "model load cancelled");
    if (vllm_is_error(st)) {
        vllm_model_free(m);
        return st;
    }
    m->chat = vl_chat_detect(m->gguf);
    VL_LOG_INFO("loaded %s (%s), chat format %s", path, m->arch, vl_chat_format_name(m->chat));
    *out_model = m;
    return VLLM_OK;
}

void vl_model_release_vision_pages(const vllm_model *m)
{
    const vl_gguf *g = m->mmproj;
    if (!g || !g->mapped) return; /* a file read into memory is the only copy: keep it */
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t b = ((uintptr_t)g->base + g->data_offset + page - 1) & ~(page - 1);
    const uintptr_t e = ((uintptr_t)g->base + g->size) & ~(page - 1);
    /* a read-only private mapping never written: the pages come back from
     * the page cache when read again, so this cannot lose data */
    if (e > b) madvise((void *)b, e - b, MADV_DONTNEED);
}

void vllm_model_free(vllm_model *m)
{
    if (!m) return;
    vl_vision_free(m->vision);
    vl_gguf_close(m->mmproj);
    vl_llm_free(m->llm);
    vl_tokenizer_free(m->tok);
    vl_gguf_close(m->gguf);
    free(m);
}

vllm_status vllm_model_get_info(const vllm_model *m, vllm_model_info *info)
{
    if (!m || !info) return vl_error(VLLM_ERR_INVALID_ARG, "vllm_model_get_info: NULL argument");
    if (info->struct_size < sizeof(size_t) || info->struct_size > 4096)
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_model_info.struct_size = %zu is not valid", info->struct_size);
    vllm_model_info full;
    memset(&full, 0, sizeof full);
    full.struct_size = info->struct_size;
    full.architecture = m->arch;
    full.name = m->name;
    full.n_vocab = vl_tokenizer_n_vocab(m->tok);
    full.token_bos = vl_tokenizer_bos(m->tok);
    full.token_eos = vl_tokenizer_eos(m->tok);
    if (m->llm) {
        const vl_llm_hparams *hp = &m->llm->hp;
        full.n_ctx_train = hp->n_ctx_train;
        full.n_embd = hp->n_embd;
        full.n_layer = hp->n_layer;
        full.n_head = hp->n_head;
        full.n_head_kv = hp->n_head_kv;
        full.n_params = m->llm->n_params;
        full.weight_bytes = m->llm->weight_bytes;
    }
    full.has_vision = m->vision != NULL;
    if (m->vision) {
        /* dynamic-resolution towers: the count follows the frame's size */
        full.tokens_per_frame = vl_vision_is_dynamic(m->vision) ? 0 : vl_vision_tokens_per_tile(m->vision);
        full.image_size = vl_vision_image_size(m->vision);
        m->family->video_defaults(m, &full.video_fps, &full.video_max_frames);
        full.family = m->family->name;
    }
    size_t n = info->struct_size < sizeof full ? info->struct_size : sizeof full;
    memcpy(info, &full, n);
    return VLLM_OK;
}

vllm_status vllm_tokenize(const vllm_model *m, const char *text, size_t len, unsigned flags, int32_t *tokens,
                          size_t capacity, size_t *n_tokens)
{
    if (!m || (!text && len) || !n_tokens || (!tokens && capacity))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_tokenize: NULL argument");
    *n_tokens = 0;
    vl_tokens out = {0};
    vllm_status st = vl_tokenizer_encode(m->tok, text ? text : "", len, (flags & VLLM_TOKENIZE_ADD_SPECIAL) != 0,
                                         (flags & VLLM_TOKENIZE_PARSE_SPECIAL) != 0, &out);
    if (vllm_is_error(st)) {
        free(out.ids);
        return st;
    }
    *n_tokens = out.n;
    if (out.n > capacity) {
        free(out.ids);
        return vl_error(VLLM_ERR_BUFFER_TOO_SMALL, "vllm_tokenize: %zu tokens do not fit in %zu", out.n, capacity);
    }
    if (out.n) memcpy(tokens, out.ids, out.n * sizeof *tokens);
    free(out.ids);
    return VLLM_OK;
}

vllm_status vllm_detokenize(const vllm_model *m, const int32_t *tokens, size_t n, unsigned flags, char *buf,
                            size_t capacity, size_t *len)
{
    if (!m || (!tokens && n) || !len || (!buf && capacity))
        return vl_error(VLLM_ERR_INVALID_ARG, "vllm_detokenize: NULL argument");
    *len = 0;
    size_t total = 0;
    int too_small = 0;
    for (size_t i = 0; i < n; i++) {
        size_t piece = 0;
        size_t room = (!too_small && total < capacity) ? capacity - total : 0;
        vllm_status st = vl_tokenizer_piece(m->tok, tokens[i], (flags & VLLM_DETOKENIZE_SPECIAL) != 0,
                                            room ? buf + total : NULL, room, &piece);
        if (st == VLLM_ERR_BUFFER_TOO_SMALL) too_small = 1;
        else if (vllm_is_error(st)) return vl_error_prefix(st, "vllm_detokenize: token %zu", i);
        total += piece;
    }
    *len = total;
    if (too_small || total > capacity)
        return vl_error(VLLM_ERR_BUFFER_TOO_SMALL, "vllm_detokenize: %zu bytes do not fit in %zu", total, capacity);
    return VLLM_OK;
}

int vllm_token_is_eog(const vllm_model *m, int32_t token)
{
    return m && vl_tokenizer_is_eog(m->tok, token);
}
