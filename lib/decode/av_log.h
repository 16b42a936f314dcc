/* FFmpeg's own log lines through the library's logger (vllm_set_log_callback),
 * so an application can silence or collect them like the library's own.
 *
 * Installed once per process (av_log_set_callback; the av_log callback is
 * process-wide) before the library's first call into libav. Levels:
 * libav's panic/fatal/error become VLLM_LOG_WARN (they are mostly about
 * damaged input libav conceals or the library skips, and the library
 * reports a failure itself), warning becomes VLLM_LOG_INFO, info becomes
 * VLLM_LOG_DEBUG, verbose and finer are dropped; av_log_set_level() still
 * filters first. Lines read "libav <component>: message".
 *
 * Rate limit: at most VL_AV_LOG_MAX_PER_SEC lines per second over the
 * whole process (a damaged clip makes libav print a line per packet); the
 * rest are counted, and "libav: N lines suppressed" is logged when the
 * next second starts or at vl_av_log_flush(). */
#ifndef VL_DECODE_AV_LOG_H
#define VL_DECODE_AV_LOG_H

#define VL_AV_LOG_MAX_PER_SEC 10

/* Route libav's logging (idempotent, thread-safe). */
void vl_av_log_install(void);

/* Report lines suppressed by the rate limit so far (end of a decode). */
void vl_av_log_flush(void);

#endif
