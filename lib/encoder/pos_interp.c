#include "pos_interp.h"

#include <math.h>
#include <string.h>

/* ggml's source coordinate for destination index i along one axis */
static void axis(int i, int dst, int src, int *i0, int *i1, float *frac)
{
    /* align corners: no half-pixel offset; a one-pixel axis keeps ggml's dst/src factor */
    const float sf = dst > 1 && src > 1 ? (float)(dst - 1) / (float)(src - 1) : (float)dst / (float)src;
    const float c = (float)i / sf;
    int a = (int)floorf(c), b = a + 1;
    a = a < 0 ? 0 : a > src - 1 ? src - 1 : a;
    b = b < 0 ? 0 : b > src - 1 ? src - 1 : b;
    float d = c - floorf(c);
    *frac = d < 0 ? 0 : d > 1 ? 1 : d;
    *i0 = a;
    *i1 = b;
}

void vl_pos_interp_bilinear(const float *table, int side, int E, int ph, int pw, float *out)
{
    if (ph == side && pw == side) { /* clip.cpp skips the resize */
        memcpy(out, table, (size_t)side * side * E * sizeof(float));
        return;
    }
    for (int y = 0; y < ph; y++) {
        int y0, y1;
        float dy;
        axis(y, ph, side, &y0, &y1, &dy);
        for (int x = 0; x < pw; x++) {
            int x0, x1;
            float dx;
            axis(x, pw, side, &x0, &x1, &dx);
            const float *a = table + ((size_t)y0 * side + x0) * E, *b = table + ((size_t)y0 * side + x1) * E;
            const float *c = table + ((size_t)y1 * side + x0) * E, *d = table + ((size_t)y1 * side + x1) * E;
            float *o = out + ((size_t)y * pw + x) * E;
            for (int e = 0; e < E; e++)
                o[e] = a[e] * (1 - dx) * (1 - dy) + b[e] * dx * (1 - dy) + c[e] * (1 - dx) * dy + d[e] * dx * dy;
        }
    }
}
