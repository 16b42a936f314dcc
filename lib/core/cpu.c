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

#if defined(__aarch64__) && defined(__linux__) /* glibc and Android's bionic both have getauxval */
#include <asm/hwcap.h>
#include <sys/auxv.h>

/* The kernel's bits (arch/arm64/include/uapi/asm/hwcap.h); older headers
 * may lack the newer ones. */
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1 << 14)
#endif

static void detect_aarch64(vl_cpu_features *f)
{
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f->neon = (hw & HWCAP_ASIMD) != 0;
    f->fp16 = (hw & HWCAP_ASIMDHP) != 0;
    f->dotprod = (hw & HWCAP_ASIMDDP) != 0;
    f->i8mm = (hw2 & HWCAP2_I8MM) != 0;
    f->bf16 = (hw2 & HWCAP2_BF16) != 0;
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
#if defined(__aarch64__) && defined(__linux__)
    detect_aarch64(&features);
#endif
    const char *cap = getenv("VIDEOLLM_CPU");
    if (cap && strcmp(cap, "scalar") == 0) memset(&features, 0, sizeof features);
    if (cap && strcmp(cap, "avx2") == 0) {
        features.avx512f = features.avx512bw = features.avx512vl = 0;
        features.avx512vnni = features.avx512bf16 = 0;
    }
    if (cap && strcmp(cap, "neon") == 0) features.fp16 = features.dotprod = features.i8mm = features.bf16 = 0;
}

const vl_cpu_features *vl_cpu(void)
{
    pthread_once(&once, detect);
    return &features;
}
