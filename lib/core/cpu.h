/* Run-time CPU feature detection: x86-64 (cpuid) and AArch64 Linux/Android
 * (getauxval HWCAP/HWCAP2); other targets report none. */
#ifndef VL_CORE_CPU_H
#define VL_CORE_CPU_H

typedef struct vl_cpu_features {
    int avx2, fma, f16c;
    int avx512f, avx512bw, avx512vl, avx512vnni, avx512bf16;
    /* AArch64: AdvSIMD (always on Linux arm64), half-precision arithmetic,
     * SDOT/UDOT (dotprod), SMMLA (i8mm), BFDOT/BFMMLA (bf16). */
    int neon, fp16, dotprod, i8mm, bf16;
} vl_cpu_features;

/* Detected once; the environment variable VIDEOLLM_CPU=scalar|avx2|neon
 * caps the level (for testing the fallbacks; neon: AArch64 baseline only). VIDEOLLM_IGEMM=1|0 forces the
 * integer prefill GEMM on/off where a kernel exists (vecdot.c). */
const vl_cpu_features *vl_cpu(void);

#endif
