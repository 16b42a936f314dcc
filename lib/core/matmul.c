#include "matmul.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aligned_alloc.h"
#include "blas.h"
#include "dtype.h"
#include "error.h"
#include "gemm.h"
#include "igemm.h"
#include "kernels.h"
#include "quant.h"
#include "vecdot.h"

/* Bytes of dequantized weights per GEMM tile: the tile is re-read by the
 * sgemm once per block of tokens, so it should stay in the 1 MB L2 next to
 * OpenBLAS's own packed panels. */
#define TILE_BYTES (512u * 1024u)

/* GEMV row chunk when several tokens reuse it: small enough to stay in L1/L2
 * while every token's dot products run over it. */
#define GEMV_CHUNK_BYTES (48u * 1024u)

/* Refuse scratch requests above this (a wrong shape, not a real model). */
#define SCRATCH_LIMIT ((size_t)1 << 34)

struct vl_matmul_scratch {
    void *xq;       /* n_tok activation rows in vec_dot_type */
    size_t xq_cap;
    float *xe;      /* n_tok emulated activation rows (GEMM path) */
    size_t xe_cap;
    float *tiles;   /* one dequantized tile per pool thread */
    size_t tiles_cap;
    uint8_t *xu;    /* integer GEMM: biased activations, their scales, packed panels */
    size_t xu_cap;
    float *dx;
    size_t dx_cap;
    uint8_t *panels;
    size_t panels_cap;
};

vl_matmul_scratch *vl_matmul_scratch_new(void) { return calloc(1, sizeof(vl_matmul_scratch)); }

void vl_matmul_scratch_free(vl_matmul_scratch *s)
{
    if (!s) return;
    free(s->xq);
    free(s->xe);
    free(s->tiles);
    free(s->xu);
    free(s->dx);
    free(s->panels);
    free(s);
}

/* Grow *buf to at least `bytes` (64-byte aligned, contents not kept). */
static vllm_status grow(void **buf, size_t *cap, size_t bytes, const char *what)
{
    if (bytes <= *cap) return VLLM_OK;
    if (bytes > SCRATCH_LIMIT) return vl_error(VLLM_ERR_NOMEM, "matmul scratch for %s: %zu bytes is absurd", what, bytes);
    size_t want = (bytes + 63) & ~(size_t)63;
    void *p = vl_aligned_alloc(64, want);
    if (!p) return vl_error(VLLM_ERR_NOMEM, "matmul scratch for %s: %zu bytes", what, want);
    free(*buf);
    *buf = p;
    *cap = want;
    return VLLM_OK;
}

int64_t vl_matmul_gemm_min_tokens(int32_t type)
{
    /* From bench_gemm's crossover lines (Zen 4, 576 -> 1536): the GEMV path
     * costs about one in-cache pass per token, the GEMM path a fixed
     * dequantize + sgemm call. The int8 kernels (VNNI) stay ahead up to ~32
     * tokens, f16/bf16 dots (two conversions per element) only to ~4. */
    switch (type) {
    case VL_TYPE_F16:
    case VL_TYPE_BF16: return 4;
    case VL_TYPE_F32: return 8;
    case VL_TYPE_Q8_0:
    case VL_TYPE_Q4_0:
    case VL_TYPE_Q5_0: return 32;
    default: return 16;
    }
}

/* ---- GEMV path ------------------------------------------------------------------ */

typedef struct gemv_job {
    const vl_weight *W;
    const char *xq;
    size_t xq_stride;
    int64_t n_tok;
    float *y;
} gemv_job;

static void gemv_part(void *ctx, int ith, int nth)
{
    const gemv_job *j = ctx;
    const vl_weight *W = j->W;
    long long b, e;
    vl_split_range(W->n_out, ith, nth, 16, &b, &e);
    if (j->n_tok == 1) {
        vl_gemv(W->type, W->data, W->row_bytes, j->xq, W->n_in, j->y + b, b, e);
        return;
    }
    int64_t chunk = (int64_t)(GEMV_CHUNK_BYTES / W->row_bytes);
    if (chunk < 4) chunk = 4;
    for (int64_t c0 = b; c0 < e; c0 += chunk) {
        const int64_t c1 = c0 + chunk < e ? c0 + chunk : e;
        for (int64_t t = 0; t < j->n_tok; t++)
            vl_gemv(W->type, W->data, W->row_bytes, j->xq + (size_t)t * j->xq_stride, W->n_in, j->y + t * W->n_out + c0,
                    c0, c1);
    }
}

/* ---- GEMM path ------------------------------------------------------------------ */

typedef struct gemm_job {
    const vl_weight *W;
    int32_t vdt;
    const float *x;   /* original activations */
    float *xe_out;    /* where emulate_part writes the emulated activations */
    const float *xe;  /* the sgemm's A: xe_out, or x itself for F32 weights */
    int64_t n_tok;
    float *y;
    float *tiles;
    int64_t tile_rows;
    int direct;       /* F32 weights with float-aligned rows: no tile copy */
} gemm_job;

static void emulate_part(void *ctx, int ith, int nth)
{
    const gemm_job *j = ctx;
    long long b, e;
    vl_split_range(j->n_tok, ith, nth, 1, &b, &e);
    const int64_t n = j->W->n_in;
    for (long long t = b; t < e; t++) vl_activations_emulate(j->vdt, j->x + t * n, j->xe_out + t * n, n);
}

static void gemm_part(void *ctx, int ith, int nth)
{
    const gemm_job *j = ctx;
    const vl_weight *W = j->W;
    const int64_t n = W->n_in;
    long long b, e;
    vl_split_range(W->n_out, ith, nth, j->tile_rows < 16 ? j->tile_rows : 16, &b, &e);
    if (j->direct) {
        if (e > b)
            vl_blas_sgemm(1, j->n_tok, e - b, n, j->xe, n, (const float *)((const char *)W->data + (size_t)b * W->row_bytes),
                          (int64_t)(W->row_bytes / sizeof(float)), j->y + b, W->n_out);
        return;
    }
    float *tile = j->tiles + (size_t)ith * (size_t)j->tile_rows * (size_t)n;
    for (int64_t o0 = b; o0 < e; o0 += j->tile_rows) {
        const int64_t rows = o0 + j->tile_rows < e ? j->tile_rows : e - o0;
        for (int64_t r = 0; r < rows; r++)
            vl_dequantize_row(W->type, (const char *)W->data + (size_t)(o0 + r) * W->row_bytes, tile + r * n, n);
        vl_blas_sgemm(1, j->n_tok, rows, n, j->xe, n, tile, n, j->y + o0, W->n_out);
    }
}

/* ---- driver ------------------------------------------------------------------------ */

static vllm_status check_args(const vl_matmul_scratch *s, const vl_weight *W, const float *x, int64_t n_tok,
                              const float *y)
{
    if (!s || !W || (n_tok > 0 && (!x || !y)))
        return vl_error(VLLM_ERR_INVALID_ARG, "vl_matmul: NULL %s", !s ? "scratch" : !W ? "weight" : "x or y");
    if (n_tok < 0 || W->n_in <= 0 || W->n_out <= 0)
        return vl_error(VLLM_ERR_INVALID_ARG, "vl_matmul: bad shape n_tok=%lld n_in=%lld n_out=%lld",
                        (long long)n_tok, (long long)W->n_in, (long long)W->n_out);
    const vl_type_traits *tr = vl_type_traits_of(W->type);
    if (!tr || !tr->can_dequantize || vl_vec_dot_type(W->type) < 0)
        return vl_error(VLLM_ERR_UNSUPPORTED, "vl_matmul: weight type %s (%d) not supported", vl_type_name(W->type),
                        (int)W->type);
    const int32_t vdt = vl_vec_dot_type(W->type);
    const size_t rs = vl_row_size(W->type, W->n_in);
    if (rs == 0 || vl_row_size(vdt, W->n_in) == 0)
        return vl_error(VLLM_ERR_FORMAT, "vl_matmul: n_in=%lld is not a multiple of the %s block", (long long)W->n_in,
                        rs == 0 ? vl_type_name(W->type) : vl_type_name(vdt));
    if (W->row_bytes < rs)
        return vl_error(VLLM_ERR_INVALID_ARG, "vl_matmul: row_bytes %zu < %zu needed for %lld %s values", W->row_bytes,
                        rs, (long long)W->n_in, vl_type_name(W->type));
    if (!W->data) return vl_error(VLLM_ERR_INVALID_ARG, "vl_matmul: weight data is NULL");
    if (W->n_in > INT32_MAX || W->n_out > INT32_MAX || n_tok > INT32_MAX)
        return vl_error(VLLM_ERR_UNSUPPORTED, "vl_matmul: dimension above 2^31 (BLAS int)");
    return VLLM_OK;
}

static vllm_status mul_size(size_t a, size_t b, size_t c, size_t *out)
{
    if (a && b > SIZE_MAX / a) return vl_error(VLLM_ERR_NOMEM, "vl_matmul: size overflow");
    size_t ab = a * b;
    if (ab && c > SIZE_MAX / ab) return vl_error(VLLM_ERR_NOMEM, "vl_matmul: size overflow");
    *out = ab * c;
    return VLLM_OK;
}

/* Quantized weights on a CPU with fast int8 dot products: the integer
 * GEMM (igemm.h), ggml's own integer math. */
static vllm_status igemm_path(vl_pool *pool, vl_matmul_scratch *s, vl_igemm_fn kernel, const vl_weight *W,
                              const float *x, int64_t n_tok, float *y)
{
    vl_igemm_sizes sz;
    vl_igemm_buffer_sizes(W, n_tok, vl_pool_size(pool), &sz);
    VL_TRY(grow(&s->xq, &s->xq_cap, sz.xq, "quantized activations"));
    VL_TRY(grow((void **)&s->xu, &s->xu_cap, sz.xu, "biased activations"));
    VL_TRY(grow((void **)&s->dx, &s->dx_cap, sz.dx, "activation scales"));
    VL_TRY(grow((void **)&s->panels, &s->panels_cap, sz.panels, "packed weight panels"));
    vl_igemm_matmul(pool, kernel, W, x, n_tok, y, s->xq, s->xu, s->dx, s->panels);
    return VLLM_OK;
}

vllm_status vl_matmul_path_run(vl_pool *pool, vl_matmul_scratch *s, const vl_weight *W, const float *x,
                               int64_t n_tok, float *y, vl_matmul_path path)
{
    VL_TRY(check_args(s, W, x, n_tok, y));
    if (n_tok == 0) return VLLM_OK;
    const int32_t vdt = vl_vec_dot_type(W->type);
    if (path == VL_MATMUL_AUTO) path = n_tok >= vl_matmul_gemm_min_tokens(W->type) ? VL_MATMUL_GEMM : VL_MATMUL_GEMV;

    if (path == VL_MATMUL_GEMV) {
        const size_t stride = vl_activation_row_size(vdt, W->n_in);
        size_t bytes = 0;
        VL_TRY(mul_size(stride, (size_t)n_tok, 1, &bytes));
        VL_TRY(grow(&s->xq, &s->xq_cap, bytes, "quantized activations"));
        for (int64_t t = 0; t < n_tok; t++)
            vl_quantize_activations(vdt, x + t * W->n_in, (char *)s->xq + (size_t)t * stride, W->n_in);
        gemv_job j = {W, s->xq, stride, n_tok, y};
        /* Tiny matrices are not worth waking the pool. */
        if ((size_t)W->n_out * W->row_bytes * (size_t)n_tok < 16384) gemv_part(&j, 0, 1);
        else vl_pool_run(pool, gemv_part, &j);
        return VLLM_OK;
    }

    const vl_kernel_table *kt = vl_kernels_active();
    if (path == VL_MATMUL_GEMM_INT8 && (!vl_igemm_supports(W->type) || !kt->igemm))
        return vl_error(VLLM_ERR_UNSUPPORTED, "vl_matmul: no integer GEMM for %s weights with the %s kernels",
                        vl_type_name(W->type), kt->name);
    if (path == VL_MATMUL_GEMM_INT8 || (path == VL_MATMUL_GEMM && vl_igemm_supports(W->type) && kt->igemm_preferred[W->type]))
        return igemm_path(pool, s, kt->igemm, W, x, n_tok, y);

    vl_sgemm_init();
    const int nth = vl_pool_size(pool);
    gemm_job j = {W, vdt, x, NULL, x, n_tok, y, NULL, 0, 0};
    j.direct = W->type == VL_TYPE_F32 && W->row_bytes % sizeof(float) == 0;
    if (vdt != VL_TYPE_F32) {
        size_t bytes = 0;
        VL_TRY(mul_size((size_t)n_tok, (size_t)W->n_in, sizeof(float), &bytes));
        VL_TRY(grow((void **)&s->xe, &s->xe_cap, bytes, "emulated activations"));
        j.xe_out = s->xe;
        j.xe = s->xe;
        vl_pool_run(n_tok * W->n_in >= 16384 ? pool : NULL, emulate_part, &j);
    }
    int64_t rows = (int64_t)(TILE_BYTES / ((size_t)W->n_in * sizeof(float)));
    rows = rows < 64 ? 64 : rows & ~(int64_t)15; /* narrower panels starve the sgemm kernel */
    j.tile_rows = rows;
    if (!j.direct) {
        size_t bytes = 0;
        VL_TRY(mul_size((size_t)nth * (size_t)rows, (size_t)W->n_in, sizeof(float), &bytes));
        VL_TRY(grow((void **)&s->tiles, &s->tiles_cap, bytes, "weight tiles"));
        j.tiles = s->tiles;
    }
    vl_pool_run(pool, gemm_part, &j);
    return VLLM_OK;
}

/* ---- several weights, one input ------------------------------------------------ */

typedef struct gemv_multi_job {
    const vl_weight *const *W;
    int nw;
    const char *xq;
    size_t xq_stride;
    int64_t n_tok, total;
    float *const *y;
} gemv_multi_job;

/* Rows of all weights form one range split across the threads, so the
 * whole group costs one trip through the pool. */
static void gemv_multi_part(void *ctx, int ith, int nth)
{
    const gemv_multi_job *j = ctx;
    long long b, e;
    vl_split_range(j->total, ith, nth, 16, &b, &e);
    int64_t base = 0;
    for (int w = 0; w < j->nw && base < e; base += j->W[w]->n_out, w++) {
        const vl_weight *W = j->W[w];
        const int64_t lb = b > base ? b - base : 0, le = e - base < W->n_out ? e - base : W->n_out;
        if (le <= lb) continue;
        for (int64_t t = 0; t < j->n_tok; t++)
            vl_gemv(W->type, W->data, W->row_bytes, j->xq + (size_t)t * j->xq_stride, W->n_in,
                    j->y[w] + t * W->n_out + lb, lb, le);
    }
}

vllm_status vl_matmul_multi(vl_pool *pool, vl_matmul_scratch *s, const vl_weight *const *W, int nw, const float *x,
                            int64_t n_tok, float *const *y)
{
    if (!W || !y || nw < 1) return vl_error(VLLM_ERR_INVALID_ARG, "vl_matmul_multi: no weights");
    int same = 1;
    int64_t total = 0;
    for (int i = 0; i < nw; i++) {
        VL_TRY(check_args(s, W[i], x, n_tok, y[i]));
        same &= W[i]->type == W[0]->type && W[i]->n_in == W[0]->n_in;
        total += W[i]->n_out;
    }
    if (!same || n_tok == 0 || n_tok >= vl_matmul_gemm_min_tokens(W[0]->type)) {
        for (int i = 0; i < nw; i++) VL_TRY(vl_matmul(pool, s, W[i], x, n_tok, y[i]));
        return VLLM_OK;
    }
    const int32_t vdt = vl_vec_dot_type(W[0]->type);
    const size_t stride = vl_activation_row_size(vdt, W[0]->n_in);
    size_t bytes = 0;
    VL_TRY(mul_size(stride, (size_t)n_tok, 1, &bytes));
    VL_TRY(grow(&s->xq, &s->xq_cap, bytes, "quantized activations"));
    for (int64_t t = 0; t < n_tok; t++)
        vl_quantize_activations(vdt, x + t * W[0]->n_in, (char *)s->xq + (size_t)t * stride, W[0]->n_in);
    gemv_multi_job j = {W, nw, s->xq, stride, n_tok, total, y};
    vl_pool_run(pool, gemv_multi_part, &j);
    return VLLM_OK;
}

vllm_status vl_matmul(vl_pool *pool, vl_matmul_scratch *s, const vl_weight *W, const float *x, int64_t n_tok,
                      float *y)
{
    return vl_matmul_path_run(pool, s, W, x, n_tok, y, VL_MATMUL_AUTO);
}
