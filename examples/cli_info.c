/* videollm info [--keys] [--no-tensors] FILE.gguf
 *
 * Describes a GGUF file: version, architecture (and for an mmproj the model
 * family it belongs to), the hyper-parameters of a text model (any
 * architecture: its <arch>.* keys) or a clip mmproj, a tokenizer
 * summary, and a tensor table with totals. A file the reader rejects
 * prints the reader's message (which names the key/tensor and byte
 * offset) and exits with 1.
 *
 * The public API has no GGUF inspection, so this uses the internal reader
 * (lib/core/gguf.h) directly. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/gguf.h"
#include "family/family.h" /* vl_family_find */

static void usage(FILE *f)
{
    fprintf(f, "usage: videollm info [--keys] [--no-tensors] FILE.gguf\n"
               "  --keys        also list every key-value pair\n"
               "  --no-tensors  skip the tensor table (totals are still printed)\n");
}

/* Printable rendering of a string value, cut at `max` bytes. */
static void put_str(vl_str s, size_t max)
{
    putchar('"');
    for (uint64_t i = 0; i < s.len && i < max; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c); /* UTF-8 passes through */
    }
    putchar('"');
    if (s.len > max) printf("... (%" PRIu64 " bytes)", s.len);
}

static void put_value(const vl_gguf_value *v)
{
    switch (v->type) {
    case VL_GGUF_UINT8: case VL_GGUF_UINT16: case VL_GGUF_UINT32: case VL_GGUF_UINT64:
        printf("%" PRIu64, v->v.u);
        break;
    case VL_GGUF_INT8: case VL_GGUF_INT16: case VL_GGUF_INT32: case VL_GGUF_INT64:
        printf("%" PRId64, v->v.i);
        break;
    case VL_GGUF_FLOAT32: case VL_GGUF_FLOAT64: printf("%g", v->v.f); break;
    case VL_GGUF_BOOL: fputs(v->v.u ? "true" : "false", stdout); break;
    case VL_GGUF_STRING: put_str(v->v.s, 80); break;
    case VL_GGUF_ARRAY: {
        uint64_t n = v->v.arr.n, shown = n < 6 ? n : 6;
        printf("[%s x %" PRIu64 "]", vl_gguf_vtype_name(v->v.arr.elem), n);
        if (!shown || v->v.arr.elem == VL_GGUF_ARRAY) break;
        fputs(" {", stdout);
        for (uint64_t i = 0; i < shown; i++) {
            if (i) fputs(", ", stdout);
            if (v->v.arr.elem == VL_GGUF_STRING) put_str(v->v.arr.strs[i], 24);
            else if (v->v.arr.elem == VL_GGUF_FLOAT32 || v->v.arr.elem == VL_GGUF_FLOAT64)
                printf("%g", vl_gguf_arr_float(v, i));
            else printf("%" PRId64, vl_gguf_arr_int(v, i));
        }
        fputs(n > shown ? ", ...}" : "}", stdout);
        break;
    }
    default: fputs("?", stdout);
    }
}

/* "  label ....... value" for a key, if present. */
static void put_key(const vl_gguf *g, const char *key, const char *label)
{
    const vl_gguf_kv *kv = vl_gguf_find(g, key);
    if (!kv) return;
    printf("  %-34s ", label);
    put_value(&kv->value);
    putchar('\n');
}

static void text_params(const vl_gguf *g, const char *arch)
{
    static const char *const keys[] = {
        "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
        "attention.head_count_kv", "attention.key_length", "rope.dimension_count", "rope.dimension_sections",
        "rope.freq_base", "attention.layer_norm_rms_epsilon", "n_deepstack_layers", "vocab_size"};
    printf("\nhyper-parameters (%s):\n", arch);
    char key[128];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", arch, keys[i]);
        put_key(g, key, keys[i]);
    }
    printf("  %-34s %s\n", "output", vl_gguf_find_tensor(g, "output.weight") ? "untied (output.weight)"
                                                                               : "tied to token_embd");
}

static void clip_params(const vl_gguf *g)
{
    static const char *const keys[] = {
        "clip.projector_type", "clip.has_vision_encoder", "clip.use_gelu", "clip.use_silu", "clip.vision.image_size",
        "clip.vision.patch_size", "clip.vision.embedding_length", "clip.vision.feed_forward_length",
        "clip.vision.block_count", "clip.vision.attention.head_count", "clip.vision.attention.layer_norm_epsilon",
        "clip.vision.projection_dim", "clip.vision.projector.scale_factor", "clip.vision.preproc_image_size",
        "clip.vision.spatial_merge_size", "clip.vision.n_wa_pattern", "clip.vision.is_deepstack_layers",
        "clip.vision.image_mean", "clip.vision.image_std"};
    printf("\nhyper-parameters (clip):\n");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) put_key(g, keys[i], keys[i] + 5);
}

/* The model family an mmproj makes (the name vllm_model_info.family
 * reports once it is loaded), from its projector type. */
static void put_family(const vl_gguf *g)
{
    vl_str type = {0};
    char name[64] = "";
    if (!vllm_is_error(vl_gguf_get_str(g, "clip.projector_type", "", &type)) && type.ptr)
        snprintf(name, sizeof name, "%.*s", (int)(type.len > 63 ? 63 : type.len), type.ptr);
    const vl_family *family = vl_family_find(name, NULL);
    if (family) printf("family:        %s\n", family->name);
    else printf("family:        - (projector type '%s' is not supported)\n", name);
}

/* Token id with its text, e.g. 4137 "<|im_start|>". */
static void put_token(const vl_gguf *g, const char *key, const char *label, const vl_gguf_value *toks)
{
    int64_t id = -1;
    if (!vl_gguf_find(g, key) || vl_gguf_get_int(g, key, -1, &id) != VLLM_OK) return;
    printf("  %-34s %" PRId64, label, id);
    if (toks && id >= 0 && (uint64_t)id < toks->v.arr.n) {
        putchar(' ');
        put_str(toks->v.arr.strs[id], 40);
    } else if (toks) {
        fputs(" (out of range!)", stdout);
    }
    putchar('\n');
}

static void tokenizer_summary(const vl_gguf *g)
{
    if (!vl_gguf_find(g, "tokenizer.ggml.model")) return;
    const vl_gguf_value *toks = NULL, *merges = NULL;
    if (vl_gguf_get_arr(g, "tokenizer.ggml.tokens", VL_GGUF_STRING, &toks) != VLLM_OK) toks = NULL;
    if (vl_gguf_get_arr(g, "tokenizer.ggml.merges", VL_GGUF_STRING, &merges) != VLLM_OK) merges = NULL;
    printf("\ntokenizer:\n");
    put_key(g, "tokenizer.ggml.model", "model");
    put_key(g, "tokenizer.ggml.pre", "pre");
    printf("  %-34s %" PRIu64 "\n", "vocabulary size", toks ? toks->v.arr.n : 0);
    printf("  %-34s %" PRIu64 "\n", "merges", merges ? merges->v.arr.n : 0);
    put_token(g, "tokenizer.ggml.bos_token_id", "bos", toks);
    put_token(g, "tokenizer.ggml.eos_token_id", "eos", toks);
    put_token(g, "tokenizer.ggml.eot_token_id", "eot", toks);
    put_token(g, "tokenizer.ggml.padding_token_id", "pad", toks);
    put_token(g, "tokenizer.ggml.unknown_token_id", "unk", toks);
    put_key(g, "tokenizer.ggml.add_bos_token", "add_bos");
    put_key(g, "tokenizer.ggml.add_eos_token", "add_eos");
    if (vl_gguf_find(g, "tokenizer.chat_template")) printf("  %-34s yes\n", "chat template");
}

static void tensor_table(const vl_gguf *g, int list)
{
    uint64_t bytes_by_type[VL_TYPE_COUNT] = {0}, count_by_type[VL_TYPE_COUNT] = {0}, total = 0, params = 0;
    if (list && g->n_tensors) printf("\n%-40s %-6s %-26s %12s\n", "tensor", "type", "shape (ggml ne)", "bytes");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const vl_gguf_tensor *t = &g->tensors[i];
        int64_t n = 1;
        for (int d = 0; d < t->n_dims; d++) n *= t->ne[d];
        params += (uint64_t)n;
        total += t->size;
        if (t->type >= 0 && t->type < VL_TYPE_COUNT) {
            bytes_by_type[t->type] += t->size;
            count_by_type[t->type]++;
        }
        if (!list) continue;
        char shape[64];
        int off = snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->n_dims && off < (int)sizeof shape; d++)
            off += snprintf(shape + off, sizeof shape - (size_t)off, "%s%" PRId64, d ? ", " : "", t->ne[d]);
        if (off < (int)sizeof shape) snprintf(shape + off, sizeof shape - (size_t)off, "]");
        printf("%-40s %-6s %-26s %12" PRIu64 "\n", t->name, vl_type_name(t->type), shape, t->size);
    }
    printf("\ntotals: %" PRIu64 " tensors, %" PRIu64 " parameters, %" PRIu64 " bytes (%.2f MiB)\n", g->n_tensors,
           params, total, (double)total / (1024.0 * 1024.0));
    for (int t = 0; t < VL_TYPE_COUNT; t++)
        if (count_by_type[t])
            printf("  %-6s %5" PRIu64 " tensors %14" PRIu64 " bytes\n", vl_type_name(t), count_by_type[t],
                   bytes_by_type[t]);
}

int cli_info(int argc, char **argv)
{
    const char *path = NULL;
    int keys = 0, tensors = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keys")) keys = 1;
        else if (!strcmp(argv[i], "--no-tensors")) tensors = 0;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        } else if (path) {
            return cli_usage_error("info", "unexpected argument '%s' (one FILE.gguf at a time)", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return cli_usage_error("info", "no file: give FILE.gguf");
    vl_gguf *g = NULL;
    vllm_status st = vl_gguf_open(path, 1, &g);
    if (vllm_is_error(st)) {
        fprintf(stderr, "videollm info: %s\n", vl_error_message());
        return 1;
    }
    printf("file:          %s (%" PRIu64 " bytes)\n", path, g->size);
    printf("format:        GGUF v%u, alignment %u, %" PRIu64 " key-value pairs, %" PRIu64
           " tensors, data at byte %" PRIu64 "\n",
           g->version, g->alignment, g->n_kv, g->n_tensors, g->data_offset);
    vl_str arch = {0}, name = {0}, type = {0};
    vl_gguf_get_str(g, "general.architecture", NULL, &arch);
    vl_gguf_get_str(g, "general.name", NULL, &name);
    vl_gguf_get_str(g, "general.type", NULL, &type);
    printf("architecture:  %.*s\n", arch.ptr ? (int)(arch.len > 64 ? 64 : arch.len) : 1, arch.ptr ? arch.ptr : "-");
    printf("name:          %.*s\n", name.ptr ? (int)(name.len > 120 ? 120 : name.len) : 1, name.ptr ? name.ptr : "-");
    if (type.ptr) printf("type:          %.*s\n", (int)(type.len > 64 ? 64 : type.len), type.ptr);
    int64_t ftype = -1;
    if (vl_gguf_find(g, "general.file_type") && vl_gguf_get_int(g, "general.file_type", -1, &ftype) == VLLM_OK)
        printf("file type:     %" PRId64 "\n", ftype);

    if (arch.ptr && vl_str_eq(arch, "clip")) put_family(g);

    char arch_name[64] = "", block_count_key[96] = "";
    if (arch.ptr && arch.len < sizeof arch_name) snprintf(arch_name, sizeof arch_name, "%.*s", (int)arch.len, arch.ptr);
    snprintf(block_count_key, sizeof block_count_key, "%s.block_count", arch_name);
    if (!strcmp(arch_name, "clip")) clip_params(g);
    else if (arch_name[0] && vl_gguf_find(g, block_count_key)) text_params(g, arch_name); /* any text architecture */
    tokenizer_summary(g);
    if (keys) {
        printf("\nkeys:\n");
        for (uint64_t i = 0; i < g->n_kv; i++) {
            printf("  ");
            put_str(g->kv[i].key, 60);
            printf(" = ");
            put_value(&g->kv[i].value);
            putchar('\n');
        }
    }
    tensor_table(g, tensors);
    vl_gguf_close(g);
    return 0;
}
