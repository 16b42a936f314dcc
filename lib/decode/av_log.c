/* libav's log lines into the library's logger (see av_log.h). */
#include "av_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>
#include <libavutil/time.h>

#include "core/log.h"

#define LINE_MAX_BYTES 512

/* The rate limit, shared by every thread libav logs from (its decoder
 * threads included). */
static pthread_mutex_t limit_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t window_start = INT64_MIN; /* av_gettime_relative() microseconds */
static int window_lines;
static int64_t suppressed;
static vllm_log_level suppressed_level = VLLM_LOG_DEBUG; /* most severe among them */

static void report_suppressed(int64_t n, vllm_log_level level)
{
    if (n > 0)
        vl_log(level, "libav: %lld more line%s suppressed (at most %d a second are passed on)", (long long)n,
               n == 1 ? "" : "s", VL_AV_LOG_MAX_PER_SEC);
}

/* Decide under the lock, log outside it (the application's callback may be slow). */
static void emit_limited(vllm_log_level level, const char *line)
{
    int64_t now = av_gettime_relative(), late = 0;
    vllm_log_level late_level = VLLM_LOG_DEBUG;
    int pass;
    pthread_mutex_lock(&limit_mu);
    if (window_start == INT64_MIN || now - window_start >= 1000000) {
        late = suppressed;
        late_level = suppressed_level;
        suppressed = 0;
        suppressed_level = VLLM_LOG_DEBUG;
        window_start = now;
        window_lines = 0;
    }
    pass = window_lines < VL_AV_LOG_MAX_PER_SEC;
    if (pass) {
        window_lines++;
    } else {
        suppressed++;
        if (level < suppressed_level) suppressed_level = level;
    }
    pthread_mutex_unlock(&limit_mu);
    report_suppressed(late, late_level);
    if (pass) vl_log(level, "%s", line);
}

void vl_av_log_flush(void)
{
    pthread_mutex_lock(&limit_mu);
    int64_t n = suppressed;
    vllm_log_level level = suppressed_level;
    suppressed = 0;
    suppressed_level = VLLM_LOG_DEBUG;
    pthread_mutex_unlock(&limit_mu);
    report_suppressed(n, level);
}

static int map_level(int av_level, vllm_log_level *out)
{
    if (av_level <= AV_LOG_ERROR) *out = VLLM_LOG_WARN;
    else if (av_level <= AV_LOG_WARNING) *out = VLLM_LOG_INFO;
    else if (av_level <= AV_LOG_INFO) *out = VLLM_LOG_DEBUG;
    else return 0;
    return 1;
}

/* libav may print one line in several calls (no newline until the last):
 * pieces are collected per thread until the newline. */
static _Thread_local char pending[LINE_MAX_BYTES];
static _Thread_local size_t pending_len;
static _Thread_local vllm_log_level pending_level;

static void av_log_route(void *avcl, int av_level, const char *fmt, va_list vl)
{
    vllm_log_level level;
    if (av_level > av_log_get_level() || !map_level(av_level, &level)) return;
    if (pending_len == 0) {
        if (!vl_log_enabled(level)) return; /* not even formatted */
        const AVClass *cls = avcl ? *(const AVClass **)avcl : NULL;
        const char *name = cls && cls->item_name ? cls->item_name(avcl) : NULL;
        int named = name && *name && strcmp(name, "NULL"); /* a codec context without a codec says "NULL" */
        int n = named ? snprintf(pending, sizeof pending, "libav %s: ", name) : snprintf(pending, sizeof pending, "libav: ");
        pending_len = n <= 0 ? 0 : (size_t)n < sizeof pending ? (size_t)n : sizeof pending - 1;
        pending_level = level;
    }
    int n = vsnprintf(pending + pending_len, sizeof pending - pending_len, fmt, vl);
    if (n > 0) pending_len += (size_t)n < sizeof pending - pending_len ? (size_t)n : sizeof pending - 1 - pending_len;
    int complete = pending_len > 0 && pending[pending_len - 1] == '\n';
    if (!complete && pending_len < sizeof pending - 1) return;
    while (pending_len > 0 && (pending[pending_len - 1] == '\n' || pending[pending_len - 1] == '\r'))
        pending[--pending_len] = '\0';
    emit_limited(pending_level, pending);
    pending_len = 0;
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void) { av_log_set_callback(av_log_route); }

void vl_av_log_install(void) { pthread_once(&install_once, install); }
