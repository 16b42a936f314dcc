/* M-RoPE prompt positions (see mrope_layout.h). */
#include "mrope_layout.h"

#include "core/error.h"
#include "llm_rope.h"

#define MAX_TOKENS (1 << 24)

static int valid_item(const vl_mrope_item *it)
{
    if (it->n_text > 0) return it->n_text <= MAX_TOKENS;
    return it->n_text == 0 && it->grid_t > 0 && it->grid_h > 0 && it->grid_w > 0 && it->grid_t <= MAX_TOKENS &&
           it->grid_h <= MAX_TOKENS && it->grid_w <= MAX_TOKENS &&
           (int64_t)it->grid_t * it->grid_h * it->grid_w <= MAX_TOKENS && it->t_step >= 0 && it->t_step < 1e6;
}

int64_t vl_mrope_count(const vl_mrope_item *items, int n_items)
{
    int64_t n = 0;
    for (int i = 0; i < n_items; i++) {
        if (!valid_item(&items[i])) return -1;
        n += items[i].n_text > 0 ? items[i].n_text : (int64_t)items[i].grid_t * items[i].grid_h * items[i].grid_w;
        if (n > MAX_TOKENS) return -1;
    }
    return n;
}

static void put(int32_t *p, int64_t t, int64_t h, int64_t w, int64_t e)
{
    p[0] = (int32_t)t, p[1] = (int32_t)h, p[2] = (int32_t)w, p[3] = (int32_t)e;
}

vllm_status vl_mrope_positions(const vl_mrope_item *items, int n_items, vl_mrope_rule rule, int32_t start,
                               int32_t *pos, int64_t cap, int32_t *next)
{
    for (int i = 0; i < n_items; i++)
        if (!valid_item(&items[i]))
            return vl_error(VLLM_ERR_INVALID_ARG, "M-RoPE layout item %d (text %d, grid %dx%dx%d, t_step %g) is not valid",
                            i, items[i].n_text, items[i].grid_t, items[i].grid_h, items[i].grid_w, items[i].t_step);
    const int64_t n = vl_mrope_count(items, n_items);
    if (n < 0 || n > cap)
        return vl_error(VLLM_ERR_INVALID_ARG, "the M-RoPE layout has %lld tokens; room for %lld", (long long)n,
                        (long long)cap);
    if (start < 0 || start > MAX_TOKENS)
        return vl_error(VLLM_ERR_INVALID_ARG, "M-RoPE start position %d is out of range", start);
    const int llama = rule == VL_MROPE_LLAMACPP;
    int64_t p = start; /* where the next text token / block starts */
    int32_t *o = pos;
    for (int i = 0; i < n_items; i++) {
        const vl_mrope_item *it = &items[i];
        if (it->n_text > 0) {
            for (int32_t k = 0; k < it->n_text; k++, o += VL_POS_SECTIONS) put(o, p + k, p + k, p + k, llama ? 0 : p + k);
            p += it->n_text;
            continue;
        }
        const int64_t span = it->grid_h > it->grid_w ? it->grid_h : it->grid_w;
        if (llama) { /* one chunk per temporal patch, each advancing max(w, h) */
            for (int32_t k = 0; k < it->grid_t; k++, p += span)
                for (int32_t y = 0; y < it->grid_h; y++)
                    for (int32_t x = 0; x < it->grid_w; x++, o += VL_POS_SECTIONS) put(o, p, p + y, p + x, 0);
            continue;
        }
        int64_t max = p + span - 1;
        for (int32_t k = 0; k < it->grid_t; k++) {
            const int64_t t = p + (int64_t)((double)k * it->t_step); /* HF: (k * step).long(), truncating */
            if (t > max) max = t;
            for (int32_t y = 0; y < it->grid_h; y++)
                for (int32_t x = 0; x < it->grid_w; x++, o += VL_POS_SECTIONS) put(o, t, p + y, p + x, t);
        }
        p = max + 1;
    }
    if (p > INT32_MAX / 2) return vl_error(VLLM_ERR_INVALID_ARG, "M-RoPE positions exceed %d", INT32_MAX / 2);
    *next = (int32_t)p;
    return VLLM_OK;
}
