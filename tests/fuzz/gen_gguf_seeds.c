/* Writes the seed corpus for fuzz_gguf: small valid GGUF files covering
 * every value type, nested arrays, v2/v3, a custom alignment and tensors
 * of several types.  usage: gen_gguf_seeds OUTDIR */
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "gguf_writer.h"

static int save(vl_gw *w, const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = vl_gw_write_file(w, path);
    vl_gw_free(w);
    if (rc) fprintf(stderr, "cannot write %s\n", path);
    return rc;
}

static void tensors(vl_gw *w)
{
    static float f[64];
    static uint8_t q[4 * 34];
    for (int i = 0; i < 64; i++) f[i] = (float)i / 8;
    int64_t a[1] = {8}, b[2] = {32, 4}, c[4] = {2, 2, 2, 2};
    vl_gw_add_tensor(w, "a.weight", VL_TYPE_F32, 1, a, f);
    vl_gw_add_tensor(w, "blk.0.q.weight", VL_TYPE_Q8_0, 2, b, q);
    vl_gw_add_tensor(w, "c.weight", VL_TYPE_F16, 4, c, f);
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *dir = argv[1];
    int rc = 0;

    vl_gw *w = vl_gw_new();
    vl_gw_add_str(w, "general.architecture", "llama");
    vl_gw_add_u8(w, "t.u8", 1);
    vl_gw_add_i8(w, "t.i8", -1);
    vl_gw_add_u16(w, "t.u16", 2);
    vl_gw_add_i16(w, "t.i16", -2);
    vl_gw_add_u32(w, "llama.block_count", 2);
    vl_gw_add_i32(w, "t.i32", -3);
    vl_gw_add_f32(w, "llama.rope.freq_base", 10000.0f);
    vl_gw_add_bool(w, "t.bool", 1);
    vl_gw_add_u64(w, "t.u64", 4);
    vl_gw_add_i64(w, "t.i64", -4);
    vl_gw_add_f64(w, "t.f64", 0.5);
    const char *toks[] = {"a", "b", "ab", "<s>"};
    vl_gw_add_arr_str(w, "tokenizer.ggml.tokens", 4, toks);
    const int32_t types[4] = {1, 1, 1, 3};
    vl_gw_add_arr(w, "tokenizer.ggml.token_type", VL_GGUF_INT32, 4, types);
    const float mean[3] = {0.5f, 0.5f, 0.5f};
    vl_gw_add_arr(w, "clip.vision.image_mean", VL_GGUF_FLOAT32, 3, mean);
    vl_gwb b = {0};
    vl_gwb_arr_header(&b, VL_GGUF_ARRAY, 2);
    vl_gwb_arr_header(&b, VL_GGUF_UINT8, 2);
    vl_gwb_u8(&b, 1);
    vl_gwb_u8(&b, 2);
    vl_gwb_arr_header(&b, VL_GGUF_ARRAY, 1);
    vl_gwb_arr_header(&b, VL_GGUF_STRING, 1);
    vl_gwb_str(&b, "x");
    vl_gw_add_val(w, "t.nested", VL_GGUF_ARRAY, b.data, b.len);
    vl_gwb_free(&b);
    tensors(w);
    rc |= save(w, dir, "all-types-v3.gguf");

    w = vl_gw_new();
    vl_gw_set_version(w, 2);
    vl_gw_add_str(w, "general.architecture", "clip");
    tensors(w);
    rc |= save(w, dir, "v2.gguf");

    w = vl_gw_new();
    vl_gw_set_alignment(w, 64);
    vl_gw_add_str(w, "general.name", "aligned");
    tensors(w);
    rc |= save(w, dir, "align64.gguf");

    w = vl_gw_new();
    vl_gw_add_str(w, "tokenizer.ggml.model", "gpt2");
    rc |= save(w, dir, "kv-only.gguf");
    return rc;
}
