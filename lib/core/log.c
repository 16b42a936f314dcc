#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

/* The sink is read on every log call from any thread; a tiny spin lock
 * keeps (fn, user_data, level) consistent without dragging in pthreads. */
static atomic_flag sink_lock = ATOMIC_FLAG_INIT;
static vllm_log_fn sink_fn;
static void *sink_user;
static vllm_log_level sink_max = VLLM_LOG_WARN;

void vllm_set_log_callback(vllm_log_fn fn, void *user_data, vllm_log_level max_level)
{
    while (atomic_flag_test_and_set_explicit(&sink_lock, memory_order_acquire)) {}
    sink_fn = fn;
    sink_user = user_data;
    sink_max = max_level;
    atomic_flag_clear_explicit(&sink_lock, memory_order_release);
}

int vl_log_enabled(vllm_log_level level)
{
    while (atomic_flag_test_and_set_explicit(&sink_lock, memory_order_acquire)) {}
    vllm_log_level max = sink_max;
    atomic_flag_clear_explicit(&sink_lock, memory_order_release);
    return level <= max;
}

void vl_log(vllm_log_level level, const char *fmt, ...)
{
    while (atomic_flag_test_and_set_explicit(&sink_lock, memory_order_acquire)) {}
    vllm_log_fn fn = sink_fn;
    void *user = sink_user;
    vllm_log_level max = sink_max;
    atomic_flag_clear_explicit(&sink_lock, memory_order_release);
    if (level > max) return;

    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (fn) {
        fn(user, level, line);
    } else {
        static const char *names[] = {"error", "warning", "info", "debug"};
        fprintf(stderr, "videollm: %s: %s\n", names[level <= VLLM_LOG_DEBUG ? level : 0], line);
    }
}
