/* vl_llm_state_remove: removing positions shifts the rest down and
 * re-rotates their keys (and vl_llm_state_read/insert, below, move a span
 * elsewhere). In layer 0 a key depends only on its token and
 * position, so after the shift every layer-0 key and value must equal
 * what a fresh evaluation of the remaining tokens puts there, to the
 * rounding of the second rotation (f32 cache) or of two f16 roundings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/f16.h"
#include "core/quant.h"
#include "decoder/llm.h"
#include "fixture_set.h"
#include "harness.h"

static double row_diff(vl_llm_state *x, vl_llm_state *y, int kvh, int which, int pos, int hd)
{
    size_t rb;
    const uint8_t *a = vl_llm_state_kv_head(x, 0, kvh, which, &rb);
    const uint8_t *b = vl_llm_state_kv_head(y, 0, kvh, which, NULL);
    float ra[1024], rbuf[1024];
    const int32_t type = vl_llm_state_kv_type(x) == VL_KV_F16 ? VL_TYPE_F16 : vl_llm_state_kv_type(x) == VL_KV_Q8_0 ? VL_TYPE_Q8_0 : VL_TYPE_F32;
    vl_dequantize_row(type, a + (size_t)pos * rb, ra, hd);
    vl_dequantize_row(type, b + (size_t)pos * rb, rbuf, hd);
    double m = 0, norm = 0; /* max |diff| relative to the row's largest element */
    for (int i = 0; i < hd; i++) {
        const float va = ra[i], vb = rbuf[i];
        m = fmax(m, fabs((double)va - vb));
        norm = fmax(norm, fabs((double)vb));
    }
    return norm > 0 ? m / norm : m;
}

TEST_MAIN_BEGIN
    char path[4400];
    fx_require_model("-text-F32.gguf", path, sizeof path);
    vl_gguf *g = NULL;
    vl_llm *m = NULL;
    REQUIRE(vl_gguf_open(path, 1, &g) == VLLM_OK && vl_llm_load(g, &m) == VLLM_OK, "%s", vllm_last_error());
    /* row buffers below: a head, and the mean key over all KV heads */
    REQUIRE(m->hp.head_dim <= 1024 && m->hp.n_head_kv * m->hp.head_dim <= 1024 && m->hp.n_vocab > 1,
            "%s: head_dim %d x %d KV heads (this test holds 1024 floats), vocab %d", path, m->hp.head_dim,
            m->hp.n_head_kv, m->hp.n_vocab);
    vl_pool *pool = vl_pool_create(1);
    enum { N = 1500 };
    static int32_t ids[N], kept[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 37 + 11) % (m->hp.n_vocab < 4000 ? m->hp.n_vocab : 4000);
    const int cuts[][2] = {{10, 30}, {0, 700}, {200, 1400}, {1499, 1500}};
    for (int kv = 0; kv < 2; kv++)
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            const int a = cuts[c][0], b = cuts[c][1];
            vl_llm_state *s1 = NULL, *s2 = NULL;
            REQUIRE(vl_llm_state_new(m, N + 8, (vl_kv_type)kv, &s1) == VLLM_OK, "state");
            REQUIRE(vl_llm_state_new(m, N + 8, (vl_kv_type)kv, &s2) == VLLM_OK, "state");
            REQUIRE(vl_llm_eval(m, s1, pool, ids, NULL, N, 0) == VLLM_OK, "%s", vllm_last_error());
            CHECK(vl_llm_state_remove(s1, a, b) == VLLM_OK, "remove");
            int n = 0;
            for (int i = 0; i < N; i++)
                if (i < a || i >= b) kept[n++] = ids[i];
            REQUIRE(vl_llm_eval(m, s2, pool, kept, NULL, n, 0) == VLLM_OK, "%s", vllm_last_error());
            CHECK(vl_llm_state_n_past(s1) == n, "n_past %d after removing %d..%d, want %d", vl_llm_state_n_past(s1), a, b, n);
            double dk = 0, dv = 0;
            for (int h = 0; h < m->hp.n_head_kv; h++)
                for (int p = 0; p < n; p++) {
                    dk = fmax(dk, row_diff(s1, s2, h, 0, p, m->hp.head_dim));
                    dv = fmax(dv, row_diff(s1, s2, h, 1, p, m->hp.head_dim));
                }
            const double tol = kv ? 2e-3 : 1e-4; /* f16: rounding twice, an ulp is 4.9e-4 relative */
            printf("%s cache, remove [%d,%d) of %d: layer-0 keys rel. diff %.2g, values %.2g\n", kv ? "f16" : "f32", a, b,
                   N, dk, dv);
            CHECK(dk <= tol && dv <= tol, "shifted layer-0 K/V differ from a fresh evaluation: %.3g / %.3g", dk, dv);
            vl_llm_state_free(s1);
            vl_llm_state_free(s2);
        }
    /* The offload tier's pair: read a span, remove it, insert it back
     * elsewhere. Layer-0 K/V must equal a fresh evaluation of the tokens in
     * their new order (the inserted keys re-rotated from their old
     * positions, everything after them up by the span's length); the
     * un-rotated mean key and the captured queries of the span's tokens do
     * not depend on where they sit. */
    for (int kv = 0; kv < 2; kv++) {
        enum { M = 300 };
        const int a = 40, b = 90, at = 180; /* [a,b) moves to position `at` of what is left */
        vl_llm_state *s1 = NULL, *s2 = NULL;
        REQUIRE(vl_llm_state_new(m, M + 8, (vl_kv_type)kv, &s1) == VLLM_OK, "state");
        REQUIRE(vl_llm_state_new(m, M + 8, (vl_kv_type)kv, &s2) == VLLM_OK, "state");
        const int hd = m->hp.head_dim, nkv = m->hp.n_head_kv;
        float *q1 = malloc(sizeof(float) * (size_t)m->hp.n_layer * m->hp.n_head * hd);
        float *q2 = malloc(sizeof(float) * (size_t)m->hp.n_layer * m->hp.n_head * hd);
        REQUIRE(vl_llm_eval(m, s1, pool, ids, NULL, a, 0) == VLLM_OK, "%s", vllm_last_error());
        vl_llm_state_capture_queries(s1, q1);
        REQUIRE(vl_llm_eval(m, s1, pool, ids + a, NULL, b - a, 0) == VLLM_OK, "%s", vllm_last_error());
        vl_llm_state_capture_queries(s1, NULL);
        REQUIRE(vl_llm_eval(m, s1, pool, ids + b, NULL, M - b, 0) == VLLM_OK, "%s", vllm_last_error());
        float km1[1024], km2[1024];
        vl_llm_state_key_mean(s1, a, b, 0, km1);
        void *buf = malloc(vl_llm_state_span_bytes(s1, b - a));
        CHECK(vl_llm_state_read(s1, a, b, buf) == VLLM_OK, "read");
        CHECK(vl_llm_state_remove(s1, a, b) == VLLM_OK, "remove");
        CHECK(vl_llm_state_insert(s1, at, b - a, buf, a) == VLLM_OK, "insert: %s", vllm_last_error());
        int n = 0;
        for (int i = 0; i < M; i++) {
            if (n == at) /* the moved span lands here */
                for (int j = a; j < b; j++) kept[n++] = ids[j];
            if (i < a || i >= b) kept[n++] = ids[i];
        }
        REQUIRE(n == M, "order");
        REQUIRE(vl_llm_eval(m, s2, pool, kept, NULL, at, 0) == VLLM_OK, "%s", vllm_last_error());
        vl_llm_state_capture_queries(s2, q2);
        REQUIRE(vl_llm_eval(m, s2, pool, kept + at, NULL, b - a, 0) == VLLM_OK, "%s", vllm_last_error());
        vl_llm_state_capture_queries(s2, NULL);
        REQUIRE(vl_llm_eval(m, s2, pool, kept + at + (b - a), NULL, M - at - (b - a), 0) == VLLM_OK, "%s",
                vllm_last_error());
        CHECK(vl_llm_state_n_past(s1) == M, "n_past %d after the round trip", vl_llm_state_n_past(s1));
        double dk = 0, dv = 0;
        for (int h = 0; h < nkv; h++)
            for (int p = 0; p < M; p++) {
                dk = fmax(dk, row_diff(s1, s2, h, 0, p, hd));
                dv = fmax(dv, row_diff(s1, s2, h, 1, p, hd));
            }
        vl_llm_state_key_mean(s2, at, at + (b - a), 0, km2);
        double dm = 0, nm = 0, dq = 0, nq = 0;
        for (int i = 0; i < nkv * hd; i++) dm = fmax(dm, fabs(km1[i] - km2[i])), nm = fmax(nm, fabs(km2[i]));
        for (int i = 0; i < m->hp.n_head * hd; i++) dq = fmax(dq, fabs(q1[i] - q2[i])), nq = fmax(nq, fabs(q2[i]));
        const double tol = kv ? 2e-3 : 1e-4;
        printf("%s cache, span [%d,%d) moved to %d: layer-0 keys rel. diff %.2g, values %.2g, mean key %.2g, queries %.2g\n",
               kv ? "f16" : "f32", a, b, at, dk, dv, dm / nm, dq / nq);
        CHECK(dk <= tol && dv <= tol, "moved span: layer-0 K/V differ from a fresh evaluation: %.3g / %.3g", dk, dv);
        CHECK(nm > 0 && dm / nm <= tol && nq > 0 && dq / nq <= 1e-4, "summaries depend on position: %.3g / %.3g",
              dm / nm, dq / nq);
        CHECK(vl_llm_state_insert(s1, 0, 20, buf, a) == VLLM_ERR_CONTEXT_FULL, "insert past n_ctx accepted");
        CHECK(vl_llm_state_read(s1, 10, M + 1, buf) == VLLM_ERR_INVALID_ARG, "read past n_past accepted");
        free(buf);
        free(q1);
        free(q2);
        vl_llm_state_free(s1);
        vl_llm_state_free(s2);
    }

    vl_llm_state *s = NULL;
    REQUIRE(vl_llm_state_new(m, 16, VL_KV_F32, &s) == VLLM_OK, "state");
    vl_llm_eval(m, s, pool, ids, NULL, 8, 0);
    CHECK(vl_llm_state_remove(s, 4, 9) == VLLM_ERR_INVALID_ARG, "range past n_past accepted");
    CHECK(vl_llm_state_remove(s, 5, 4) == VLLM_ERR_INVALID_ARG, "reversed range accepted");
    vl_llm_state_free(s);
    vl_pool_free(pool);
    vl_llm_free(m);
    vl_gguf_close(g);
TEST_MAIN_END
