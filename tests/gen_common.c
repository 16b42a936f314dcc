/* The seeded generator, weight types and the tensor helper of
 * videollm-gen-model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "gen_model.h"
#include "quantize_ref.h"

uint64_t gen_next_u64(gen_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform01(gen_rng *r) { return ((gen_next_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

float gen_normal(gen_rng *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    double u = uniform01(r), v = uniform01(r);
    double m = sqrt(-2.0 * log(u));
    r->spare = (float)(m * sin(6.283185307179586 * v));
    r->have = 1;
    return (float)(m * cos(6.283185307179586 * v));
}

int32_t gen_weight_type(int32_t want, int64_t ne0)
{
    int32_t t = want;
    for (int guard = 0; guard < 4; guard++) {
        const vl_type_traits *tr = vl_type_traits_of(t);
        if (tr && ne0 % tr->block_size == 0) return t;
        switch (t) {
        case VL_TYPE_Q4_K: t = VL_TYPE_Q5_0; break;
        case VL_TYPE_Q5_K: t = VL_TYPE_Q5_1; break;
        case VL_TYPE_Q6_K: t = VL_TYPE_Q8_0; break;
        default: t = VL_TYPE_F16; break;
        }
    }
    return VL_TYPE_F16;
}

int gen_tensor(vl_gw *w, gen_rng *r, int32_t type, enum gen_init init, const char *name, int n_dims, int64_t ne0,
               int64_t ne1, int64_t ne2, int64_t ne3)
{
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    size_t n = 1;
    for (int d = 0; d < n_dims; d++) n *= (size_t)ne[d];
    size_t bytes = vl_gw_tensor_bytes(type, n_dims, ne);
    float *x = malloc(n * sizeof *x);
    void *q = malloc(bytes ? bytes : 1);
    if (!x || !q || !bytes) {
        fprintf(stderr, "videollm-gen-model: cannot make tensor %s\n", name);
        free(x);
        free(q);
        return -1;
    }
    for (size_t i = 0; i < n; i++) x[i] = init == GEN_NORM ? 1.0f + 0.05f * gen_normal(r) : 0.02f * gen_normal(r);
    size_t row = vl_row_size(type, ne0);
    for (size_t i = 0; i < n / (size_t)ne0; i++) vl_qref_quantize(type, x + i * (size_t)ne0, (uint8_t *)q + i * row, ne0);
    free(x);
    if (vl_gw_add_tensor_owned(w, name, type, n_dims, ne, q) != 0) {
        fprintf(stderr, "videollm-gen-model: cannot add tensor %s\n", name);
        return -1;
    }
    return 0;
}

uint32_t gen_file_type(int32_t t)
{
    switch (t) {
    case VL_TYPE_F32: return 0;
    case VL_TYPE_F16: return 1;
    case VL_TYPE_Q4_0: return 2;
    case VL_TYPE_Q4_1: return 3;
    case VL_TYPE_Q8_0: return 7;
    case VL_TYPE_Q5_0: return 8;
    case VL_TYPE_Q5_1: return 9;
    case VL_TYPE_Q4_K: return 15; /* Q4_K_M */
    case VL_TYPE_Q5_K: return 17; /* Q5_K_M */
    case VL_TYPE_Q6_K: return 18;
    case VL_TYPE_BF16: return 32;
    default: return 0;
    }
}
