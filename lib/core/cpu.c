#include "cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

static vl_cpu_features features;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1;
    int fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 6) == 6;
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (!avx || !ymm_ok) return;
    features.fma = fma;
    features.f16c = f16c;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    features.avx2 = (b >> 5) & 1;
    if (zmm_ok) {
        features.avx512f = (b >> 16) & 1;
        features.avx512bw = (b >> 30) & 1;
        features.avx512vl = (b >> 31) & 1;
        features.avx512vnni = (c >> 11) & 1;
        unsigned a1 = 0, b1, c1, d1;
        if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) features.avx512bf16 = (a1 >> 5) & 1;
    }
#endif
    const char *cap = getenv("VIDEOLLM_CPU");
    if (cap && strcmp(cap, "scalar") == 0) memset(&features, 0, sizeof features);
    if (cap && strcmp(cap, "avx2") == 0) {
        features.avx512f = features.avx512bw = features.avx512vl = 0;
        features.avx512vnni = features.avx512bf16 = 0;
    }
}

const vl_cpu_features *vl_cpu(void)
{
    pthread_once(&once, detect);
    return &features;
}
