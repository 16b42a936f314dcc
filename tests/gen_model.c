/* videollm-gen-model: writes random-weight GGUF models in llama.cpp's
 * schema, for tests and benchmarks (no real weights needed).
 *
 *   videollm-gen-model --preset smollm2-135m --type Q8_0 -o text.gguf
 *   videollm-gen-model --preset siglip-512 -o mmproj.gguf
 *   videollm-gen-model --preset qwen3vl-2b --type Q4_K -o text.gguf
 *   videollm-gen-model --preset qwen3vl-2b-mmproj --type F16 -o mmproj.gguf
 *   videollm-gen-model --arch qwen2 --n-embd 64 --n-layer 2 ... -o t.gguf
 *
 * Text architectures and their keys: gen_text.c; tokenizers:
 * gen_tokenizer.c; mmprojs (idefics3, qwen2.5vl_merger, qwen3vl_merger):
 * gen_vision.c.
 *
 * Weights are N(0,1)*0.02, norm weights 1 + 0.05*N(0,1), biases
 * N(0,1)*0.02, all from one seeded generator, like the fixtures (the
 * values themselves differ: a different generator). 2-D weights are
 * written in --type; where a row is not a whole number of the type's
 * blocks the tensor falls back like llama-quantize does (Q4_K -> Q5_0,
 * Q5_K -> Q5_1, Q6_K -> Q8_0, then F16). Norms and biases stay F32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "gen_model.h"
#include "quantize_ref.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: videollm-gen-model [--preset NAME] [options] -o FILE\n"
            "presets (text; NAME-mmproj writes the matching mmproj):\n"
            "  smollm2-135m, smollm2-360m (llama), tiny (the tiny-smolvlm2 text shape)\n"
            "  qwen25vl-3b (qwen2vl text of Qwen2.5-VL-3B; mmproj qwen2.5vl_merger)\n"
            "  qwen3vl-2b (qwen3vl text of Qwen3-VL-2B; mmproj qwen3vl_merger)\n"
            "  qwen3-1.7b (qwen3 text)\n"
            "  tiny-qwen25vl, tiny-qwen3vl (the shapes of the tiny-qwen25vl / tiny-qwen3vl fixtures)\n"
            "mmproj-only presets: siglip-512 (idefics3), tiny-mmproj\n"
            "  --arch llama|qwen2|qwen2vl|qwen3|qwen3vl|clip\n"
            "  --type F32|F16|BF16|Q8_0|Q4_0|Q4_1|Q5_0|Q5_1|Q4_K|Q5_K|Q6_K\n"
            "  --seed N  --name S  --tied | --untied\n"
            "  text:   --n-embd --n-layer --n-head --n-head-kv --n-ff --n-vocab --n-ctx --rope-base --rms-eps\n"
            "          --head-dim N (attention.key_length; default n-embd/n-head)\n"
            "          --rope-sections T,H,W[,E] (qwen2vl, qwen3vl; rotary pairs summing to <= head-dim/2)\n"
            "          --n-deepstack N (qwen3vl; default min(3, n-layer))\n"
            "  vision: --projector idefics3|qwen2.5vl_merger|qwen3vl_merger\n"
            "          --v-image-size --v-patch --v-embd --v-layer --v-head --v-ff --v-proj --v-eps\n"
            "          idefics3: --v-scale --v-preproc; qwen2.5vl_merger: --v-wa-pattern N;\n"
            "          qwen3vl_merger: --v-deepstack I,J,.. (ViT layers, increasing) or none\n");
}

static void preset_tiny(gen_opts *o)
{
    o->arch = "llama";
    o->n_embd = 64, o->n_layer = 2, o->n_head = 4, o->n_head_kv = 2, o->n_ff = 192, o->n_vocab = 4139;
    o->n_ctx = 2048, o->rope_base = 100000, o->rms_eps = 1e-5, o->tied = 0;
    o->head_dim = 0, o->n_deepstack = -1;
    memset(o->sections, 0, sizeof o->sections);
}

static void preset_tiny_mmproj(gen_opts *o)
{
    o->projector = "idefics3";
    o->v_image = 64, o->v_patch = 16, o->v_embd = 32, o->v_layer = 2, o->v_head = 4, o->v_ff = 64;
    o->v_scale = 2, o->v_proj = 64, o->v_preproc = 256, o->v_eps = 1e-6;
    o->v_wa_pattern = 2, o->v_n_deepstack = 0;
}

static void set_sections(gen_opts *o, int64_t t, int64_t h, int64_t w)
{
    o->sections[0] = t, o->sections[1] = h, o->sections[2] = w, o->sections[3] = 0;
}

static void set_deepstack(gen_opts *o, int n, const int64_t *layers)
{
    o->v_n_deepstack = n;
    for (int i = 0; i < n; i++) o->v_deepstack[i] = layers[i];
}

/* Hyper-parameters of the real models are those of their config.json on
 * Hugging Face (Qwen/Qwen2.5-VL-3B-Instruct, Qwen/Qwen3-VL-2B-Instruct,
 * Qwen/Qwen3-1.7B), mapped as llama.cpp's converter maps them:
 * n_wa_pattern = fullatt_block_indexes[0] + 1, image_size 560 for
 * Qwen2.5-VL (the converter's default) and sqrt(num_position_embeddings)
 * * patch_size for Qwen3-VL, the vision epsilon = the text rms_norm_eps,
 * n_deepstack_layers = len(deepstack_visual_indexes). */
static int apply_text_preset(gen_opts *o, const char *p)
{
    if (strcmp(p, "tiny") == 0) {
        preset_tiny(o);
    } else if (strcmp(p, "smollm2-135m") == 0) {
        preset_tiny(o);
        o->n_embd = 576, o->n_layer = 30, o->n_head = 9, o->n_head_kv = 3, o->n_ff = 1536, o->n_vocab = 49152;
        o->n_ctx = 8192, o->tied = 1;
    } else if (strcmp(p, "smollm2-360m") == 0) {
        preset_tiny(o);
        o->n_embd = 960, o->n_layer = 32, o->n_head = 15, o->n_head_kv = 5, o->n_ff = 2560, o->n_vocab = 49152;
        o->n_ctx = 8192, o->tied = 1;
    } else if (strcmp(p, "qwen25vl-3b") == 0) {
        preset_tiny(o);
        o->arch = "qwen2vl";
        o->n_embd = 2048, o->n_layer = 36, o->n_head = 16, o->n_head_kv = 2, o->n_ff = 11008, o->n_vocab = 151936;
        o->n_ctx = 128000, o->rope_base = 1000000, o->rms_eps = 1e-6, o->tied = 1;
        set_sections(o, 16, 24, 24);
        o->projector = "qwen2.5vl_merger";
        o->v_image = 560, o->v_patch = 14, o->v_embd = 1280, o->v_layer = 32, o->v_head = 16, o->v_ff = 3420;
        o->v_proj = 2048, o->v_eps = 1e-6, o->v_wa_pattern = 8; /* fullatt_block_indexes [7, 15, 23, 31] */
    } else if (strcmp(p, "qwen3vl-2b") == 0) {
        preset_tiny(o);
        o->arch = "qwen3vl";
        o->n_embd = 2048, o->n_layer = 28, o->n_head = 16, o->n_head_kv = 8, o->head_dim = 128, o->n_ff = 6144;
        o->n_vocab = 151936, o->n_ctx = 262144, o->rope_base = 5000000, o->rms_eps = 1e-6, o->tied = 1;
        set_sections(o, 24, 20, 20);
        o->n_deepstack = 3;
        o->projector = "qwen3vl_merger";
        o->v_image = 768, o->v_patch = 16, o->v_embd = 1024, o->v_layer = 24, o->v_head = 16, o->v_ff = 4096;
        o->v_proj = 2048, o->v_eps = 1e-6; /* num_position_embeddings 2304 = 48 x 48 */
        set_deepstack(o, 3, (const int64_t[]){5, 11, 17});
    } else if (strcmp(p, "qwen3-1.7b") == 0) {
        preset_tiny(o);
        o->arch = "qwen3";
        o->n_embd = 2048, o->n_layer = 28, o->n_head = 16, o->n_head_kv = 8, o->head_dim = 128, o->n_ff = 6144;
        o->n_vocab = 151936, o->n_ctx = 40960, o->rope_base = 1000000, o->rms_eps = 1e-6, o->tied = 1;
    } else if (strcmp(p, "tiny-qwen25vl") == 0) { /* tiny-qwen25vl README 1.1 and 1.6 */
        preset_tiny(o);
        o->arch = "qwen2vl";
        o->n_embd = 64, o->n_layer = 2, o->n_head = 4, o->n_head_kv = 2, o->n_ff = 160, o->n_vocab = 4112;
        o->n_ctx = 4096, o->rope_base = 1000000, o->rms_eps = 1e-6;
        set_sections(o, 2, 3, 3);
        o->projector = "qwen2.5vl_merger";
        o->v_image = 560, o->v_patch = 14, o->v_embd = 32, o->v_layer = 4, o->v_head = 2, o->v_ff = 64;
        o->v_proj = 64, o->v_eps = 1e-6, o->v_wa_pattern = 2;
    } else if (strcmp(p, "tiny-qwen3vl") == 0) { /* tiny-qwen3vl README 1.1 and 1.5 */
        preset_tiny(o);
        o->arch = "qwen3vl";
        o->n_embd = 64, o->n_layer = 3, o->n_head = 4, o->n_head_kv = 2, o->head_dim = 32, o->n_ff = 192;
        o->n_vocab = 4114, o->n_ctx = 4096, o->rope_base = 5000000, o->rms_eps = 1e-6;
        set_sections(o, 8, 4, 4);
        o->n_deepstack = 2;
        o->projector = "qwen3vl_merger";
        o->v_image = 128, o->v_patch = 16, o->v_embd = 32, o->v_layer = 4, o->v_head = 2, o->v_ff = 64;
        o->v_proj = 64, o->v_eps = 1e-6;
        set_deepstack(o, 2, (const int64_t[]){0, 2});
    } else {
        return -1;
    }
    return 0;
}

static int apply_preset(gen_opts *o, const char *p)
{
    static const char suffix[] = "-mmproj";
    const size_t n = strlen(p), ns = sizeof suffix - 1;
    if (strcmp(p, "tiny-mmproj") == 0) {
        preset_tiny_mmproj(o);
        o->arch = "clip";
    } else if (strcmp(p, "siglip-512") == 0) {
        preset_tiny_mmproj(o);
        o->arch = "clip";
        o->v_image = 512, o->v_patch = 16, o->v_embd = 768, o->v_layer = 12, o->v_head = 12, o->v_ff = 3072;
        o->v_scale = 4, o->v_proj = 576, o->v_preproc = 2048;
    } else if (n > ns && strcmp(p + n - ns, suffix) == 0) {
        char text[64];
        if (n - ns >= sizeof text) return -1;
        memcpy(text, p, n - ns);
        text[n - ns] = 0;
        if (strncmp(text, "qwen", 4) && strncmp(text, "tiny-qwen", 9)) return -1;
        if (apply_text_preset(o, text) != 0 || !strcmp(o->arch, "qwen3")) return -1;
        o->arch = "clip";
    } else if (apply_text_preset(o, p) != 0) {
        return -1;
    }
    o->name = p;
    return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    long long x = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || x < 0) return -1;
    *v = x;
    return 0;
}

static int parse_f64(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s == '\0' || *end != '\0' ? -1 : 0;
}

/* "a,b,c" into at most max non-negative integers; the count, or -1. */
static int parse_list(const char *s, int64_t *out, int max)
{
    if (strcmp(s, "none") == 0) return 0;
    int n = 0;
    while (*s) {
        char *end;
        long long x = strtoll(s, &end, 10);
        if (end == s || x < 0 || n >= max || (*end != ',' && *end != '\0')) return -1;
        out[n++] = x;
        s = *end == ',' ? end + 1 : end;
        if (*end == ',' && !*s) return -1;
    }
    return n;
}

static int fail(const char *msg)
{
    fprintf(stderr, "videollm-gen-model: %s\n", msg);
    return -1;
}

static int check_vision(const gen_opts *o)
{
    if (o->v_patch <= 0 || o->v_image % o->v_patch || o->v_embd <= 0 || o->v_head <= 0 || o->v_embd % o->v_head ||
        o->v_ff <= 0 || o->v_proj <= 0 || o->v_layer < 0 || o->v_layer > GEN_MAX_LAYERS)
        return fail("inconsistent vision shape (image %% patch, embd %% heads must be 0; sizes positive; at most 256 "
                    "blocks)");
    if (!strcmp(o->projector, "idefics3")) {
        if (o->v_scale <= 0 || (o->v_image / o->v_patch) % o->v_scale)
            return fail("inconsistent vision shape (grid %% scale factor must be 0)");
        return 0;
    }
    const int qwen25 = !strcmp(o->projector, "qwen2.5vl_merger");
    if (!qwen25 && strcmp(o->projector, "qwen3vl_merger")) {
        fprintf(stderr, "videollm-gen-model: unknown --projector %s\n", o->projector);
        return -1;
    }
    /* 2-D rotary embedding: a quarter of each head for y, a quarter for x */
    if ((o->v_embd / o->v_head) % 4) return fail("vision head dimension must be a multiple of 4 (2-D rope)");
    if (qwen25 && (o->v_wa_pattern < 1 || o->v_wa_pattern > o->v_layer))
        return fail("--v-wa-pattern must be between 1 and --v-layer (the loader refuses others)");
    if (!qwen25) {
        if (o->v_image / o->v_patch < 2) return fail("qwen3vl_merger needs a position grid of at least 2x2");
        for (int64_t i = 0; i < o->v_n_deepstack; i++)
            if (o->v_deepstack[i] >= o->v_layer || (i && o->v_deepstack[i] <= o->v_deepstack[i - 1]))
                return fail("--v-deepstack layers must be increasing and below --v-layer");
    }
    return 0;
}

static int check_text(const gen_opts *o)
{
    if (!gen_text_arch_known(o->arch)) {
        fprintf(stderr, "videollm-gen-model: unknown --arch %s\n", o->arch);
        return -1;
    }
    if (o->n_embd <= 0 || o->n_head <= 0 || (o->head_dim == 0 && o->n_embd % o->n_head) || o->n_head_kv <= 0 ||
        o->n_head % o->n_head_kv || o->n_ff <= 0 || o->n_layer < 0 || o->n_ctx <= 0)
        return fail("inconsistent text shape (n_embd %% n_head, n_head %% n_head_kv must be 0)");
    const int64_t hd = gen_text_head_dim(o);
    if (hd % 2) return fail("head dimension must be even");
    /* only qwen3 and qwen3vl write attention.key_length; elsewhere readers derive it */
    if (strncmp(o->arch, "qwen3", 5) && o->head_dim && o->head_dim * o->n_head != o->n_embd)
        return fail("--head-dim other than n-embd / n-head needs arch qwen3 or qwen3vl (attention.key_length)");
    if (!strcmp(o->arch, "qwen2vl") || !strcmp(o->arch, "qwen3vl")) {
        int32_t s[4];
        gen_text_sections(o, s);
        int64_t sum = (int64_t)s[0] + s[1] + s[2] + s[3];
        if (s[0] < 0 || s[1] < 0 || s[2] < 0 || s[3] < 0 || sum < 1 || sum > hd / 2) {
            fprintf(stderr, "videollm-gen-model: rope sections %d,%d,%d,%d must sum to 1..%lld (head dim / 2)\n", s[0],
                    s[1], s[2], s[3], (long long)(hd / 2));
            return -1;
        }
    }
    if (!strcmp(o->arch, "qwen3vl") && gen_text_n_deepstack(o) > o->n_layer)
        return fail("--n-deepstack is above --n-layer");
    return 0;
}

int main(int argc, char **argv)
{
    static gen_opts o;
    preset_tiny(&o);
    preset_tiny_mmproj(&o);
    o.arch = "llama";
    o.name = "videollm-gen-model";
    o.type = VL_TYPE_F32;
    o.seed = 1234;

    /* presets first, so explicit options override them in any order */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--preset") == 0 && apply_preset(&o, argv[i + 1]) != 0) {
            fprintf(stderr, "videollm-gen-model: unknown preset %s\n", argv[i + 1]);
            return 2;
        }
    struct { const char *name; int64_t *v; } ints[] = {
        {"--n-embd", &o.n_embd}, {"--n-layer", &o.n_layer}, {"--n-head", &o.n_head},
        {"--n-head-kv", &o.n_head_kv}, {"--n-ff", &o.n_ff}, {"--n-vocab", &o.n_vocab}, {"--n-ctx", &o.n_ctx},
        {"--head-dim", &o.head_dim}, {"--n-deepstack", &o.n_deepstack},
        {"--v-image-size", &o.v_image}, {"--v-patch", &o.v_patch}, {"--v-embd", &o.v_embd},
        {"--v-layer", &o.v_layer}, {"--v-head", &o.v_head}, {"--v-ff", &o.v_ff}, {"--v-scale", &o.v_scale},
        {"--v-proj", &o.v_proj}, {"--v-preproc", &o.v_preproc}, {"--v-wa-pattern", &o.v_wa_pattern}};
    struct { const char *name; double *v; } dbls[] = {
        {"--rope-base", &o.rope_base}, {"--rms-eps", &o.rms_eps}, {"--v-eps", &o.v_eps}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--tied") == 0) { o.tied = 1; continue; }
        if (strcmp(a, "--untied") == 0) { o.tied = 0; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "videollm-gen-model: %s needs a value (or is unknown)\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        int ok = 0, known = 0;
        if (strcmp(a, "--preset") == 0) known = ok = 1;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) known = ok = 1, o.out = v;
        else if (strcmp(a, "--arch") == 0) known = ok = 1, o.arch = v;
        else if (strcmp(a, "--projector") == 0) known = ok = 1, o.projector = v;
        else if (strcmp(a, "--name") == 0) known = ok = 1, o.name = v;
        else if (strcmp(a, "--seed") == 0) {
            int64_t s = 0;
            known = 1, ok = parse_i64(v, &s) == 0;
            o.seed = (uint64_t)s;
        } else if (strcmp(a, "--type") == 0) {
            known = 1;
            o.type = vl_qref_type_from_name(v);
            ok = vl_qref_supported(o.type);
        } else if (strcmp(a, "--rope-sections") == 0) {
            int64_t s[4] = {0};
            int n = parse_list(v, s, 4);
            known = 1, ok = n >= 3;
            if (ok) memcpy(o.sections, s, sizeof s);
        } else if (strcmp(a, "--v-deepstack") == 0) {
            int n = parse_list(v, o.v_deepstack, GEN_MAX_LAYERS);
            known = 1, ok = n >= 0;
            o.v_n_deepstack = n < 0 ? 0 : n;
        }
        for (size_t k = 0; !known && k < sizeof ints / sizeof ints[0]; k++)
            if (strcmp(a, ints[k].name) == 0) known = 1, ok = parse_i64(v, ints[k].v) == 0;
        for (size_t k = 0; !known && k < sizeof dbls / sizeof dbls[0]; k++)
            if (strcmp(a, dbls[k].name) == 0) known = 1, ok = parse_f64(v, dbls[k].v) == 0;
        if (!known || !ok) {
            fprintf(stderr, "videollm-gen-model: %s %s: %s\n", a, v, known ? "bad value" : "unknown option");
            usage(stderr);
            return 2;
        }
    }
    if (!o.out) {
        usage(stderr);
        return 2;
    }
    const int clip = strcmp(o.arch, "clip") == 0;
    if ((clip ? check_vision(&o) : check_text(&o)) != 0) return 2;

    vl_gw *w = vl_gw_new();
    gen_rng r = {.s = o.seed};
    int rc = !w || (clip ? gen_clip(w, &o, &r) : gen_text(w, &o, &r)) != 0;
    if (!rc && vl_gw_write_file(w, o.out) != 0) {
        fprintf(stderr, "videollm-gen-model: cannot write %s\n", o.out);
        rc = 1;
    }
    vl_gw_free(w);
    return rc;
}
