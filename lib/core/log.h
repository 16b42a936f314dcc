/* Library logging: one global sink, set through vllm_set_log_callback(). */
#ifndef VL_CORE_LOG_H
#define VL_CORE_LOG_H

#include "error.h"

void vl_log(vllm_log_level level, const char *fmt, ...) VL_PRINTF(2, 3);

/* 1 if a message at `level` would reach the sink (lets a caller skip
 * formatting what would be dropped). */
int vl_log_enabled(vllm_log_level level);

#define VL_LOG_ERROR(...) vl_log(VLLM_LOG_ERROR, __VA_ARGS__)
#define VL_LOG_WARN(...)  vl_log(VLLM_LOG_WARN, __VA_ARGS__)
#define VL_LOG_INFO(...)  vl_log(VLLM_LOG_INFO, __VA_ARGS__)
#define VL_LOG_DEBUG(...) vl_log(VLLM_LOG_DEBUG, __VA_ARGS__)

#endif
