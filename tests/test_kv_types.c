/* KV cache storage types on a generated model with head_dim 64: the
 * logits of a 200-token sequence with f16 and Q8_0 caches, against the
 * f32 cache, and the memory each type takes per token. The tolerances are
 * the formats' own: f16 keeps 11 significant bits (~5e-4 relative per
 * value), Q8_0 one scale per 32 values and 8-bit steps (~4e-3 of a
 * block's largest value), Q4_0 4-bit steps (~6e-2); attention averages
 * many such values, so the logits move by a few times that at most. The tiny fixture (head_dim 16)
 * cannot use Q8_0: that is a clean error.
 * usage: test_kv_types PATH-TO-videollm-gen-model */
#define VLLM_EXPERIMENTAL
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_set.h"
#include "harness.h"
#include "core/dtype.h"
#include "core/quant.h"
#include "vllm/videollm.h"

enum { N = 200 };

static float *run(vllm_model *m, vllm_kv_type kv, const int32_t *ids, int n_vocab)
{
    vllm_session_params sp = vllm_session_default_params();
    sp.n_ctx = N + 8;
    sp.kv_type = kv;
    vllm_session *s = NULL;
    REQUIRE(vllm_session_create(m, &sp, &s) == VLLM_OK, "%s", vllm_last_error());
    float *out = malloc(sizeof(float) * 4 * (size_t)n_vocab);
    /* logits at four points along the sequence */
    const int at[4] = {20, 80, 150, N};
    int done = 0;
    for (int k = 0; k < 4; k++) {
        REQUIRE(vllm_session_eval_tokens(s, ids + done, (size_t)(at[k] - done)) == VLLM_OK, "%s", vllm_session_last_error(s));
        done = at[k];
        memcpy(out + (size_t)k * n_vocab, vllm_session_logits(s), sizeof(float) * (size_t)n_vocab);
    }
    vllm_session_free(s);
    return out;
}

TEST_MAIN_BEGIN
    REQUIRE(argc > 1, "usage: test_kv_types PATH-TO-videollm-gen-model");
    char path[] = "/tmp/videollm-kv-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0, "mkstemp");
    close(fd);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' --preset tiny --n-embd 128 --n-head 2 --n-head-kv 1 --n-vocab 1024 --type F32 -o '%s' >/dev/null",
             argv[1], path);
    REQUIRE(system(cmd) == 0, "generator failed: %s", cmd);
    vllm_model *m = NULL;
    REQUIRE(vllm_model_load(path, NULL, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_model_info mi = {.struct_size = sizeof mi};
    vllm_model_get_info(m, &mi);
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 131 + 7) % 1000;

    float *ref = run(m, VLLM_KV_F32, ids, mi.n_vocab);
    const struct { vllm_kv_type kv; const char *name; double tol; double bytes; } types[] = {
        {VLLM_KV_F16, "f16", 5e-3, 2.0}, {VLLM_KV_Q8_0, "q8_0", 3e-2, 34.0 / 32.0}, {VLLM_KV_Q4_0, "q4_0", 1.5e-1, 18.0 / 32.0}};
    double mag = 0;
    for (int i = 0; i < 4 * mi.n_vocab; i++) mag = fmax(mag, fabs(ref[i]));
    for (int t = 0; t < 3; t++) {
        float *got = run(m, types[t].kv, ids, mi.n_vocab);
        double err = 0;
        int top1 = 0;
        for (int k = 0; k < 4; k++) {
            int a = 0, b = 0;
            for (int i = 0; i < mi.n_vocab; i++) {
                const size_t o = (size_t)k * mi.n_vocab + i;
                err = fmax(err, fabs((double)got[o] - ref[o]));
                if (got[o] > got[(size_t)k * mi.n_vocab + a]) a = i;
                if (ref[o] > ref[(size_t)k * mi.n_vocab + b]) b = i;
            }
            top1 += a == b;
        }
        const double per_token = 2.0 * mi.n_layer * mi.n_head_kv * (mi.n_embd / mi.n_head) * types[t].bytes;
        printf("kv %-5s: logits max |diff| vs f32 %.3g (max |logit| %.3g), top-1 agrees at %d of 4 points, %.0f bytes/token (f32: %.0f)\n",
               types[t].name, err, mag, top1, per_token, per_token / types[t].bytes * 4.0);
        CHECK(err <= types[t].tol * (mag > 1 ? mag : 1), "kv %s: logits differ by %.3g", types[t].name, err);
        free(got);
    }
    free(ref);
    vllm_model_free(m);
    remove(path);

    /* the Q4_0 storage quantizer on a hand-made block: values j-16, so the
     * largest magnitude is -16 at j=0 -> d = -16/-8 = 2, q = (int)(x/2 + 8.5)
     * clamped to 15, each value decodes to (q-8)*2, within d/2 = 1 of x */
    float x[32], back[32];
    unsigned char blk[18];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16);
    vl_quantize_row_q4_0(x, blk, 32);
    vl_dequantize_row_ref(VL_TYPE_Q4_0, blk, back, 32);
    int q_ok = 1;
    for (int j = 0; j < 32; j++) {
        int q = (int)(x[j] / 2.0f + 8.5f);
        q = q > 15 ? 15 : q;
        q_ok &= back[j] == (float)((q - 8) * 2) && fabsf(back[j] - x[j]) <= 1.0f + (x[j] > 13);
    }
    CHECK(q_ok, "Q4_0 storage quantizer disagrees with the format's rule");

    /* head_dim 16 has no room for 32-value blocks */
    char tiny[1024];
    fx_require_model("-text-F32.gguf", tiny, sizeof tiny);
    REQUIRE(vllm_model_load(tiny, NULL, &m) == VLLM_OK, "%s", vllm_last_error());
    vllm_session_params sp = vllm_session_default_params();
    sp.kv_type = VLLM_KV_Q8_0;
    vllm_session *s = NULL;
    CHECK(vllm_session_create(m, &sp, &s) == VLLM_ERR_UNSUPPORTED && s == NULL, "Q8_0 KV with head_dim 16");
    CHECK(strstr(vllm_last_error(), "multiple of 32") != NULL, "message: %s", vllm_last_error());
    vllm_model_free(m);
TEST_MAIN_END
