/* A time range as users read it: "9.99 s to the end" when the end is open
 * (end <= 0 means "to the end" in vllm_video_params), else
 * "[9.99 s, 12 s)". Never "[9.99, 0)". */
#ifndef VL_CORE_TIME_RANGE_H
#define VL_CORE_TIME_RANGE_H

#include <stddef.h>

/* Writes into buf (NUL-terminated, truncated to n) and returns buf. */
const char *vl_format_time_range(char *buf, size_t n, double start, double end);

#endif
