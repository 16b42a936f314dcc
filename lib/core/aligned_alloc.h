/* 64-byte aligned blocks for SIMD scratch and packed weights, freed with
 * free(). posix_memalign rather than C11 aligned_alloc: Android's bionic
 * has aligned_alloc only from API level 28, posix_memalign on every level
 * (and on glibc, musl and macOS). */
#ifndef VL_CORE_ALIGNED_ALLOC_H
#define VL_CORE_ALIGNED_ALLOC_H

#include <stdlib.h>

/* NULL when out of memory; `align` a power of two, multiple of sizeof(void *). */
static inline void *vl_aligned_alloc(size_t align, size_t bytes)
{
    void *p = NULL;
    return posix_memalign(&p, align, bytes ? bytes : align) == 0 ? p : NULL;
}

#endif
