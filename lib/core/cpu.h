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

/* Default worker count: the performance cores of a CPU that mixes
 * performance and efficiency cores (phones' big.LITTLE, Apple silicon,
 * Intel hybrid), since a pool that waits on its slowest thread runs at
 * the little cores' pace; every online CPU otherwise or when unknown.
 * Linux/Android: sysfs (below); Apple: sysctl hw.perflevel0.physicalcpu. */
int vl_cpu_default_threads(void);

/* Count the performance cores described by a Linux sysfs CPU directory
 * (normally /sys/devices/system/cpu): each online cpuN is scored by its
 * cpu_capacity (arm64's scheduler capacity) or else its
 * cpufreq/cpuinfo_max_freq. When the slowest core scores under 80% of the
 * fastest (a real efficiency tier, not Turbo Boost Max's favoured cores),
 * the cores in the bottom quarter of the score range are efficiency cores
 * and the rest are counted; otherwise all are. 0 when the directory or a
 * core's score cannot be read. */
int vl_cpu_performance_cores_in(const char *cpu_dir);

#endif
