#include "linear_lazy.h"

#include <stdlib.h>

#include "core/gemm.h"
#include "core/quant.h"

void vl_linear_rows_f32(const vl_linear *l, int64_t r0, int64_t r1, float *dst)
{
    const uint8_t *src = l->src;
    for (int64_t r = r0; r < r1; r++)
        vl_dequantize_row(l->src_type, src + (size_t)r * l->src_row_bytes, dst + (size_t)(r - r0) * l->n_in, l->n_in);
}

float *vl_linear_to_f32(const vl_linear *l)
{
    float *w = malloc((size_t)l->n_out * l->n_in * sizeof *w);
    if (w) vl_linear_rows_f32(l, 0, l->n_out, w);
    return w;
}

static vllm_status largest(void *ud, vl_linear *l)
{
    size_t *n = ud;
    const size_t here = (size_t)l->n_out * l->n_in;
    if (!l->w && l->src && here > *n) *n = here;
    return VLLM_OK;
}

size_t vl_linear_lazy_scratch_floats(vl_clip_model *m)
{
    size_t n = 0;
    vl_clip_model_for_each_linear(m, largest, &n);
    return n;
}

typedef struct convert_job {
    const vl_linear *l;
    float *dst;
} convert_job;

static void convert_part(void *ctx, int ith, int nth)
{
    const convert_job *j = ctx;
    long long b, e;
    vl_split_range(j->l->n_out, ith, nth, 1, &b, &e);
    if (e > b) vl_linear_rows_f32(j->l, b, e, j->dst + (size_t)b * j->l->n_in);
}

void vl_linear_lazy_gemm(vl_pool *pool, const vl_linear *l, const float *x, int64_t M, float *y, float *scratch)
{
    if (M <= 0 || l->n_out <= 0) return;
    convert_job j = {l, scratch};
    vl_pool_run(pool, convert_part, &j);
    vl_sgemm(pool, 1, M, l->n_out, l->n_in, x, l->n_in, scratch, l->n_in, y, l->n_out);
}
