/* Warnings about damaged spots of a video, each said once. A spot can be
 * decoded several times: by a GOP-parallel worker and again by the
 * sequential path that takes over from it, or by a second sampling pass
 * over the same handle (the session resamples to fit a token budget).
 * The first VL_VIDEO_WARN_LISTED distinct spots of a video (worker and
 * caller share the list) are logged, with their time in seconds; later
 * ones are counted (each once while fewer than VL_VIDEO_WARN_SPOTS are
 * remembered) and summarised when the video is closed. */
#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"
#include "video_internal.h"

void vl_video_warn_init_(vl_video *v)
{
    pthread_mutex_init(&v->warn.mu, NULL);
    v->warn.ready = 1;
}

void vl_video_warn_close_(vl_video *v)
{
    if (!v->warn.ready) return;
    if (v->warn.unlisted > 0)
        VL_LOG_WARN("video: '%s': %lld more damaged packets or frames skipped (not listed one by one)",
                    v->url ? v->url : "<memory>", (long long)v->warn.unlisted);
    pthread_mutex_destroy(&v->warn.mu);
    v->warn.ready = 0;
}

double vl_video_ts_seconds_(const vl_video *v, int64_t ts)
{
    return ts == AV_NOPTS_VALUE ? -1.0 : (double)(ts - v->start_pts) * v->tb;
}

void vl_video_warn_(vl_video *v, int kind, int64_t ts, const char *fmt, ...)
{
    vl_video *root = v->parent ? v->parent : v;
    vl_warn_spots *w = &root->warn;
    int fresh = 1, listed = 0;
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->n && fresh; i++)
        if (w->spot[i].ts == ts && w->spot[i].kind == kind) fresh = 0;
    if (fresh) {
        listed = w->n < VL_VIDEO_WARN_LISTED;
        if (!listed) w->unlisted++;
        if (w->n < VL_VIDEO_WARN_SPOTS) {
            w->spot[w->n].ts = ts;
            w->spot[w->n].kind = kind;
            w->n++;
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (!listed) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    VL_LOG_WARN("%s", line);
}
